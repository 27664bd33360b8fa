"""The one place that patches fastreid 1.4.0 (and its view of torch/numpy) for modern versions.

fastreid 1.4.0 was written for torch 1.13 / numpy 1.x / CUDA-only training. Every fix below names
the defect it repairs; each has a test in ``tests/test_compat.py`` that reproduces the defect with
the original fastreid code and shows the fix. ``apply()`` runs on ``import fastreid_multimodal``;
the import-level fixes must run before any fastreid module is imported.

The originals of everything we replace are kept in ``ORIGINALS`` (tests use them to prove the
defect is real).
"""
import collections
import collections.abc
import contextlib
import functools
import logging
import os
import subprocess
import sys
import types
import warnings

from .utils.io import atomic_torch_save, atomic_write_text

logger = logging.getLogger(__name__)

ORIGINALS = {}
_applied = False


def _replace(owner, name, new):
    """setattr that remembers the original under 'module.name' (first replacement wins)."""
    key = f"{getattr(owner, '__module__', '')}.{getattr(owner, '__qualname__', getattr(owner, '__name__', owner))}.{name}"
    ORIGINALS.setdefault(key, getattr(owner, name, None))
    setattr(owner, name, new)


def original(owner, name):
    """The attribute fastreid shipped before ``apply()`` replaced it."""
    key = f"{getattr(owner, '__module__', '')}.{getattr(owner, '__qualname__', getattr(owner, '__name__', owner))}.{name}"
    return ORIGINALS.get(key, getattr(owner, name))


def cuda_available():
    import torch
    return torch.cuda.is_available()


# ---------------------------------------------------------------------------------------------
# Import-level fixes (before fastreid is imported)
# ---------------------------------------------------------------------------------------------
def _fix_torch_six():
    """Defect 1: fastreid.data.build does ``from torch._six import string_classes``; torch>=2 removed
    torch._six. Provide the one name fastreid uses."""
    if "torch._six" in sys.modules:
        return
    import torch
    try:  # a torch that still has it
        import torch._six  # noqa: F401
        return
    except ImportError:
        pass
    six = types.ModuleType("torch._six")
    six.string_classes = (str, bytes)
    six.__doc__ = "Shim created by fastreid_multimodal.compat for fastreid 1.4.0 on torch>=2."
    sys.modules["torch._six"] = six
    torch._six = six


def _fix_collections_mapping():
    """Defect 2: fastreid.data.build and fastreid.evaluation.testing do ``from collections import
    Mapping``, removed in Python 3.10."""
    if not hasattr(collections, "Mapping"):
        collections.Mapping = collections.abc.Mapping


def _quiet_import_warnings():
    """Keep ``import fastreid_multimodal`` silent: fastreid's rank.py warns at import when Cython
    ranking is missing (we log that once, with the fix), and Market1501 warns about its folder
    layout on every construction."""
    warnings.filterwarnings("ignore", message="Cython rank evaluation", module="fastreid")
    warnings.filterwarnings("ignore", message="The current data structure is deprecated")
    # fastreid's collect_env imports torch.utils.cpp_extension, which warns on CPU-only machines
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    # torch.utils.tensorboard pulls in a deprecated pkg_resources API on some setuptools versions.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


# ---------------------------------------------------------------------------------------------
# Fixes on imported fastreid modules
# ---------------------------------------------------------------------------------------------
class _LoaderError:
    """An exception raised in the prefetch thread, handed to the consumer to raise."""

    def __init__(self, exc):
        self.exc = exc


def _fix_dataloader_cpu():
    """Defect 3: DataLoaderX always creates a CUDA stream and moves every batch to CUDA, and its
    prefetch thread calls torch.cuda.set_device: no CPU run at all. On CPU we keep the background
    prefetching and leave tensors where they are (the model moves them to its device).
    Also (a hang): an exception in the prefetch thread (a worker failed to decode an image) ended
    the thread without a word and the training loop waited forever on its queue; the exception
    is now handed over and raised in the training loop."""
    import torch
    from fastreid.data import data_utils

    orig_init = data_utils.DataLoaderX.__init__
    orig_preload = data_utils.DataLoaderX.preload
    orig_next = data_utils.DataLoaderX.__next__

    def __init__(self, local_rank, **kwargs):
        if torch.cuda.is_available():
            return orig_init(self, local_rank, **kwargs)
        kwargs["pin_memory"] = False  # pinning needs an accelerator and only warns on CPU
        torch.utils.data.DataLoader.__init__(self, **kwargs)
        self.stream = None
        self.local_rank = local_rank

    def preload(self):
        if self.stream is not None:
            return orig_preload(self)
        self.batch = next(self.iter, None)

    def __next__(self):
        if self.stream is not None:
            return orig_next(self)
        batch = self.batch
        if batch is None:
            raise StopIteration
        self.preload()
        return batch

    def run(self):
        try:
            if torch.cuda.is_available():
                torch.cuda.set_device(self.local_rank)
            for item in self.generator:
                if self.exit_event.is_set():
                    break
                self.queue.put(item)
        except BaseException as exc:  # a worker's error must reach the consumer, not a dead thread
            self.queue.put(_LoaderError(exc))
            return
        self.queue.put(None)

    def queue_next(self):
        item = self.queue.get()
        if isinstance(item, _LoaderError):
            raise item.exc
        if item is None:
            raise StopIteration
        return item

    _replace(data_utils.DataLoaderX, "__init__", __init__)
    _replace(data_utils.DataLoaderX, "preload", preload)
    _replace(data_utils.DataLoaderX, "__next__", __next__)
    _replace(data_utils.BackgroundGenerator, "run", run)
    _replace(data_utils.BackgroundGenerator, "next", queue_next)


def rank_cylib_dir():
    import fastreid.evaluation
    return os.path.join(os.path.dirname(fastreid.evaluation.__file__), "rank_cylib")


def cython_ranking_available():
    try:
        from fastreid.evaluation.rank_cylib.rank_cy import evaluate_cy  # noqa: F401
        return True
    except ImportError:
        return False


def build_rank_cylib(quiet=True):
    """Compile fastreid's Cython ranking (25x faster than the Python one) in its package folder.

    Run at install time (``make install``); needs Cython, numpy headers and a C compiler.
    Returns True when the compiled module imports afterwards."""
    if cython_ranking_available():
        return True
    path = rank_cylib_dir()
    out = subprocess.DEVNULL if quiet else None
    try:
        ret = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=path,
                             stdout=out, stderr=out, check=False)
    except OSError as exc:
        logger.info("Cannot build fastreid's Cython ranking in %s: %s", path, exc)
        return False
    if ret.returncode != 0:
        return False
    import importlib
    importlib.invalidate_caches()
    return cython_ranking_available()


def _fix_evaluator_compile():
    """Defect 4: ReidEvaluator compiles its Cython ranking with ``make`` inside site-packages at
    every construction and calls ``sys.exit(1)`` when that fails (read-only site-packages, no
    compiler, no Cython). We build it at install time; at run time a missing build falls back to
    fastreid's Python ranking with one log line instead of killing the job."""
    from fastreid.evaluation import rank_cylib, reid_evaluation

    def compile_helper():
        if build_rank_cylib():
            logger.info("Built fastreid's Cython ranking in %s", rank_cylib_dir())
            return
        logger.info("fastreid's Cython ranking is not built (run `make install` or "
                    "`python -m fastreid_multimodal.build_rank_cylib`); "
                    "using the slower Python ranking")
        reid_evaluation.ReidEvaluator._compile_attempted = True

    def _compile_dependencies(self):
        from fastreid.utils import comm
        if comm.is_main_process() and not cython_ranking_available() \
                and not getattr(reid_evaluation.ReidEvaluator, "_compile_attempted", False):
            compile_helper()
        comm.synchronize()

    _replace(rank_cylib, "compile_helper", compile_helper)
    _replace(reid_evaluation, "compile_helper", compile_helper)
    _replace(reid_evaluation.ReidEvaluator, "_compile_dependencies", _compile_dependencies)


def _fix_contiguous_params():
    """Defect 5 (silent): fastreid optimises flat ``ContiguousParams`` buffers whose .grad the
    parameters' grads are views of. torch>=2 ``zero_grad()`` defaults to ``set_to_none=True``: it
    drops the flat grads, backward still fills the views, and ``step()`` skips every buffer. The
    weights never change while the loss logs look normal.

    Defect 18 (silent), the same buffers with the grads kept: a parameter that took no part in a
    step (the text path in an image batch, the image path in a text batch) gets a zero gradient
    instead of None, so the optimizer still applies weight decay and momentum to it; Adam's L2 decay
    then moves every idle weight by about lr toward zero each step.

    The flat buffers are a CUDA launch-count optimisation; the optimizer is built over the
    parameters themselves, so ``zero_grad`` gives None and ``step`` skips whatever had no gradient."""
    import fastreid.engine.defaults as defaults
    import fastreid.solver as solver
    import fastreid.solver.build as solver_build

    orig_build = solver_build.build_optimizer

    @functools.wraps(orig_build)
    def build_optimizer(cfg, model, contiguous=True):
        return orig_build(cfg, model, contiguous=False)

    for module in (solver_build, solver, defaults):
        _replace(module, "build_optimizer", build_optimizer)


def _fix_rerank_cpu():
    """Defect 6: k-reciprocal re-ranking (TEST.RERANK) hard-wires faiss-GPU search
    (``search_option=0`` + ``features.cuda()``). Without a GPU use faiss' CPU index."""
    from fastreid.utils import compute_dist

    orig = compute_dist.compute_jaccard_distance

    @functools.wraps(orig)
    def compute_jaccard_distance(features, k1=20, k2=6, search_option=0, fp16=False):
        if search_option < 3 and not _faiss_gpu_usable():
            search_option = 3
        return orig(features, k1=k1, k2=k2, search_option=search_option, fp16=fp16)

    _replace(compute_dist, "compute_jaccard_distance", compute_jaccard_distance)


def _faiss_gpu_usable():
    import faiss
    return cuda_available() and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _fix_amp():
    """Defect 7: AMPTrainer asserts CUDA and uses the deprecated torch.cuda.amp API. On CPU,
    SOLVER.AMP runs in bfloat16 autocast (no loss scaling needed); on GPU, float16 + GradScaler."""
    import time

    import torch
    from fastreid.engine import train_loop

    def __init__(self, model, data_loader, optimizer, param_wrapper, grad_scaler=None):
        train_loop.SimpleTrainer.__init__(self, model, data_loader, optimizer, param_wrapper)
        self.device_type = "cuda" if torch.cuda.is_available() else "cpu"
        if grad_scaler is None and self.device_type == "cuda":
            grad_scaler = torch.amp.GradScaler("cuda")
        self.grad_scaler = grad_scaler

    def run_step(self):
        assert self.model.training, "[AMPTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        dtype = torch.float16 if self.device_type == "cuda" else torch.bfloat16
        with torch.autocast(self.device_type, dtype=dtype):
            loss_dict = self.model(data)
            losses = sum(loss_dict.values())
        self.optimizer.zero_grad()
        if self.grad_scaler is not None:
            self.grad_scaler.scale(losses).backward()
        else:
            losses.backward()
        self._write_metrics(loss_dict, data_time)
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()

    _replace(train_loop.AMPTrainer, "__init__", __init__)
    _replace(train_loop.AMPTrainer, "run_step", run_step)


class _TorchvisionTransforms:
    """torchvision.transforms as fastreid's build_transforms sees it, with the pre-0.10 keyword
    names of RandomAffine (resample=, fillcolor=) translated."""

    def __getattr__(self, name):
        import torchvision.transforms as T
        return getattr(T, name)

    @staticmethod
    def RandomAffine(*args, resample=None, fillcolor=None, **kwargs):
        import torchvision.transforms as T
        if fillcolor is not None:
            kwargs.setdefault("fill", fillcolor)
        if resample:  # False/None/0 mean "nearest", torchvision's default
            kwargs.setdefault("interpolation", T.InterpolationMode.BILINEAR)
        return T.RandomAffine(*args, **kwargs)


def _fix_random_affine():
    """Defect 8: INPUT.AFFINE builds ``T.RandomAffine(resample=False, fillcolor=0)``; torchvision
    >=0.13 removed both keywords (TypeError at transform build time)."""
    from fastreid.data.transforms import build
    _replace(build, "T", _TorchvisionTransforms())


def _fix_to_tensor():
    """Defect 9: fastreid's to_tensor uses ``np.array(..., copy=False)`` (ValueError on numpy 2 when
    a copy is needed: modes I, I;16, F, 1) and ``torch.ByteStorage.from_buffer`` (TypedStorage
    deprecation warning on every image). Same output: float CHW tensor in 0..255."""
    import numpy as np
    import torch
    from fastreid.data.transforms import functional, transforms

    def to_tensor(pic):
        if isinstance(pic, np.ndarray):
            assert pic.ndim in (2, 3)
            array = pic[:, :, None] if pic.ndim == 2 else pic
        else:
            dtypes = {"I": np.int32, "I;16": np.int16, "F": np.float32}
            array = np.asarray(pic, dtype=dtypes.get(pic.mode, np.uint8))
            if pic.mode == "1":
                array = array * 255
            if array.ndim == 2:
                array = array[:, :, None]
        img = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        return img.float() if img.dtype == torch.uint8 else img

    _replace(functional, "to_tensor", to_tensor)
    _replace(transforms, "to_tensor", to_tensor)


def _fix_flip_test_normalisation():
    """Defect 10: Baseline.preprocess_image normalises ``batched_inputs['images']`` in place, so with
    TEST.FLIP the flipped copy of the already-normalised batch is normalised a second time."""
    from fastreid.modeling.meta_arch.baseline import Baseline

    def preprocess_image(self, batched_inputs):
        import torch
        if isinstance(batched_inputs, dict):
            images = batched_inputs["images"]
        elif isinstance(batched_inputs, torch.Tensor):
            images = batched_inputs
        else:
            raise TypeError(f"batched_inputs must be dict or torch.Tensor, got {type(batched_inputs)}")
        images = images.to(self.device, non_blocking=True)
        return (images - self.pixel_mean) / self.pixel_std

    _replace(Baseline, "preprocess_image", preprocess_image)


def _fix_finished_run_resume():
    """Defect 11: ``--resume`` of a finished run never enters the epoch loop, so ``trainer.epoch``
    does not exist and the hooks' after_train dies with ``AttributeError: epoch``. A finished run
    now skips training, says so, and evaluates its final model. Also: DataLoaderX's prefetch
    thread is never stopped, and a process that ends while it runs a torch op aborts; it is
    shut down when training ends."""
    from fastreid.engine import defaults, train_loop

    orig_train = train_loop.TrainerBase.train

    def train(self, start_epoch, max_epoch, iters_per_epoch):
        self.epoch = start_epoch - 1  # what the hooks read when the loop does not run
        return orig_train(self, start_epoch, max_epoch, iters_per_epoch)

    orig_default_train = defaults.DefaultTrainer.train

    def default_train(self):
        try:
            if self.start_epoch >= self.max_epoch:
                logging.getLogger("fastreid").info(
                    "Training already finished (epoch %d of %d in %s); evaluating the final model.",
                    self.start_epoch, self.max_epoch, self.cfg.OUTPUT_DIR)
                self._last_eval_results = self.test(self.cfg, self.model)
                return self._last_eval_results
            return orig_default_train(self)
        finally:
            # the prefetch thread may be inside a torch op when the interpreter exits, which
            # aborts the process ("terminate called without an active exception")
            shutdown = getattr(self.data_loader, "shutdown", None)
            if shutdown is not None and getattr(self.data_loader, "iter", None) is not None:
                shutdown()

    _replace(train_loop.TrainerBase, "train", train)
    _replace(defaults.DefaultTrainer, "train", default_train)


def _fix_checkpoint_io():
    """Defect 12: Checkpointer writes checkpoints in place (a killed save leaves a truncated
    model_final.pth that `last_checkpoint` points to) and loads with torch>=2.6's
    ``weights_only=True`` default, which rejects fastreid checkpoints holding numpy objects. Loads
    go through safe_load.load_weights: data only, numpy arrays allowed, never a fallback to a full
    unpickle (a checkpoint could run code). ``--resume`` with a ``last_checkpoint`` that names a
    deleted file was an AssertionError traceback; it is one error line."""
    from fastreid.utils.checkpoint import Checkpointer

    def save(self, name, **kwargs):
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        atomic_torch_save(data, save_file)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename):
        atomic_write_text(os.path.join(self.save_dir, "last_checkpoint"), last_filename_basename)

    def _load_file(self, f):
        from .safe_load import load_weights
        return load_weights(f, "checkpoint")

    def get_checkpoint_file(self):
        path = original(Checkpointer, "get_checkpoint_file")(self)
        if path and not os.path.isfile(path):  # fastreid: AssertionError deep in load()
            from .errors import UserError
            raise UserError(f"--resume: {os.path.join(self.save_dir, 'last_checkpoint')} names "
                            f"'{os.path.basename(path)}', which does not exist: put it back, or "
                            "write the name of an existing checkpoint of that folder into "
                            "last_checkpoint, or delete last_checkpoint to start from scratch")
        return path

    _replace(Checkpointer, "save", save)
    _replace(Checkpointer, "get_checkpoint_file", get_checkpoint_file)
    _replace(Checkpointer, "tag_last_checkpoint", tag_last_checkpoint)
    _replace(Checkpointer, "_load_file", _load_file)


def _distributed_worker(local_rank, main_func, world_size, num_gpus_per_machine, machine_rank,
                        dist_url, args):
    """fastreid's worker with the process-group backend chosen by hardware."""
    import torch
    import torch.distributed as dist
    from fastreid.utils import comm

    use_cuda = torch.cuda.is_available()
    global_rank = machine_rank * num_gpus_per_machine + local_rank
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method=dist_url,
                            world_size=world_size, rank=global_rank)
    comm.synchronize()
    if use_cuda:
        assert num_gpus_per_machine <= torch.cuda.device_count(), \
            f"--num-gpus {num_gpus_per_machine} but only {torch.cuda.device_count()} GPUs"
        torch.cuda.set_device(local_rank)
    assert comm._LOCAL_PROCESS_GROUP is None
    num_machines = world_size // num_gpus_per_machine
    for i in range(num_machines):
        ranks_on_i = list(range(i * num_gpus_per_machine, (i + 1) * num_gpus_per_machine))
        group = dist.new_group(ranks_on_i)
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
    main_func(*args)


def _ddp(model, device_ids=None, **kwargs):
    from torch.nn.parallel import DistributedDataParallel
    if next(model.parameters()).device.type == "cpu":
        device_ids = None  # DDP on CPU (gloo) takes no device ids
    # multimodal batches may leave a path unused (no text in an image-only batch)
    kwargs.setdefault("find_unused_parameters", getattr(model, "may_skip_parameters", False))
    with warnings.catch_warnings():
        # fastreid relies on broadcast_buffers=False (no buffer sync at init); torch>=2.11 calls
        # it deprecated but its replacement does not offer that yet
        warnings.filterwarnings("ignore", message=".*broadcast_buffers", category=FutureWarning)
        return DistributedDataParallel(model, device_ids=device_ids, **kwargs)


def _fix_distributed_cpu():
    """Defect 13: fastreid's launch asserts CUDA and hard-codes the NCCL backend, and DefaultTrainer
    passes GPU device_ids to DDP. Multi-process training now uses gloo where there is no GPU."""
    import importlib

    from fastreid.engine import defaults
    launch = importlib.import_module("fastreid.engine.launch")  # the package attribute is the function
    _replace(launch, "_distributed_worker", _distributed_worker)
    _replace(defaults, "DistributedDataParallel", _ddp)


def _fix_dataset_not_found_message():
    """Defect 14: a missing data set is a bare ``RuntimeError('"path" is not found')`` deep in a
    traceback. Say which data set, where FASTREID_DATASETS points and the expected layout."""
    from fastreid.data.datasets.bases import Dataset

    def check_before_run(self, required_files):
        from .data.layouts import describe_missing
        from .errors import DatasetNotFoundError
        if isinstance(required_files, str):
            required_files = [required_files]
        for path in required_files:
            if not os.path.exists(path):
                raise DatasetNotFoundError(describe_missing(type(self).__name__, path))

    _replace(Dataset, "check_before_run", check_before_run)


def _fix_checkpointer_without_tests():
    """Defect 15: the PeriodicCheckpointer hook reads ``DATASETS.TESTS[0]`` and dies with
    IndexError when a run has no test set (pre-training on FineGPR has none)."""
    from fastreid.engine import hooks

    orig = hooks.PeriodicCheckpointer.before_train

    def before_train(self):
        if len(self.trainer.cfg.DATASETS.TESTS) == 0:
            self.max_epoch = self.trainer.max_epoch
            self.metric_name = "metric"
            return
        return orig(self)

    _replace(hooks.PeriodicCheckpointer, "before_train", before_train)


def _fix_eval_period_zero():
    """Defect 16: ``TEST.EVAL_PERIOD 0`` (no periodic evaluation) makes EvalHook.after_train
    divide by zero at the end of training. 0 now means: evaluate once, after the last epoch."""
    from fastreid.engine import hooks

    orig_after_epoch = hooks.EvalHook.after_epoch
    orig_after_train = hooks.EvalHook.after_train

    def after_epoch(self):
        if self._period > 0:
            orig_after_epoch(self)

    def after_train(self):
        if self._period > 0:
            return orig_after_train(self)
        if self.trainer.epoch + 1 >= self.trainer.max_epoch:
            self._do_eval()
        del self._func

    _replace(hooks.EvalHook, "after_epoch", after_epoch)
    _replace(hooks.EvalHook, "after_train", after_train)


def _fix_cosine_without_epochs():
    """Defect 17: CosineAnnealingLR gets ``T_max = MAX_EPOCH - warm-up epochs``; when the warm-up
    (or SOLVER.DELAY_EPOCHS) covers the whole run that is 0 and torch raises ZeroDivisionError
    at the end of the first epoch. The cosine now spans at least one epoch."""
    import torch
    from fastreid import solver
    from fastreid.engine import defaults
    from fastreid.solver import build as solver_build

    orig = solver_build.build_lr_scheduler

    def build_lr_scheduler(cfg, optimizer, iters_per_epoch):
        schedulers = orig(cfg, optimizer, iters_per_epoch)
        cosine = schedulers.get("lr_sched")
        if isinstance(cosine, torch.optim.lr_scheduler.CosineAnnealingLR) and cosine.T_max < 1:
            cosine.T_max = 1
        return schedulers

    for owner in (solver_build, solver, defaults):
        _replace(owner, "build_lr_scheduler", build_lr_scheduler)


def _fix_default_setup():
    """Defect 19: ``default_setup`` seeds every run with a fresh random seed (``seed_all_rng()``,
    whatever the config says), and on a machine without CUDA the run dies later in build_model
    ("Found no NVIDIA driver", MODEL.DEVICE defaults to cuda). Now, under FastReID's own scripts as
    under tools/train_net.py: MODEL.DEVICE falls back to cpu (logged), SEED >= 0 seeds torch /
    numpy / random with SEED + rank, and the config is remembered for the data sets FastReID's
    loaders build without dataset_cfg (DATASETS.SYNTH.*, DATASETS.FINEGPR.*)."""
    from fastreid import engine
    from fastreid.engine import defaults
    from fastreid.utils import comm
    from fastreid.utils.env import seed_all_rng

    from .config import set_active_config

    orig = defaults.default_setup

    def default_setup(cfg, args):
        requested = cfg.MODEL.DEVICE
        resolve_device(cfg, quiet=True)  # before the config dump, which then says cpu
        orig(cfg, args)
        if cfg.MODEL.DEVICE != requested:  # now that the log is set up
            logging.getLogger("fastreid.multimodal").info(
                "No CUDA device: MODEL.DEVICE %s -> cpu", requested)
        if getattr(cfg, "SEED", -1) >= 0:
            seed_all_rng(cfg.SEED + comm.get_rank())
            logging.getLogger("fastreid.multimodal").info("Seeded torch, numpy and random with "
                                                          "SEED + rank = %d", cfg.SEED + comm.get_rank())
        set_active_config(cfg)

    _replace(defaults, "default_setup", default_setup)
    _replace(engine, "default_setup", default_setup)


def resolve_device(cfg, quiet=False):
    """MODEL.DEVICE defaults to 'cuda' in fastreid; fall back to the CPU where there is none."""
    if str(cfg.MODEL.DEVICE).startswith("cuda") and not cuda_available():
        frozen = cfg.is_frozen()
        cfg.defrost()
        cfg.MODEL.DEVICE = "cpu"
        if frozen:
            cfg.freeze()
        if not quiet:
            logging.getLogger("fastreid.multimodal").info("No CUDA device: MODEL.DEVICE set to cpu")
    return cfg


FIXES = [
    _fix_dataloader_cpu,
    _fix_evaluator_compile,
    _fix_contiguous_params,
    _fix_rerank_cpu,
    _fix_amp,
    _fix_random_affine,
    _fix_to_tensor,
    _fix_flip_test_normalisation,
    _fix_finished_run_resume,
    _fix_checkpoint_io,
    _fix_distributed_cpu,
    _fix_dataset_not_found_message,
    _fix_checkpointer_without_tests,
    _fix_eval_period_zero,
    _fix_cosine_without_epochs,
    _fix_default_setup,
]


def apply():
    """Apply every fix once. Import-level fixes first, then import fastreid and patch it."""
    global _applied
    if _applied:
        return
    _applied = True
    _quiet_import_warnings()
    _fix_torch_six()
    _fix_collections_mapping()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import fastreid.data  # noqa: F401  (imports most of fastreid)
        import fastreid.engine  # noqa: F401
        import fastreid.evaluation  # noqa: F401
    for fix in FIXES:
        fix()


@contextlib.contextmanager
def unpatched(owner, name):
    """Temporarily restore fastreid's original attribute (for tests that reproduce a defect)."""
    patched = getattr(owner, name)
    setattr(owner, name, original(owner, name))
    try:
        yield
    finally:
        setattr(owner, name, patched)
