"""Fixes to fastreid's training loop: optimizer, AMP, scheduler, hooks, resume and set-up."""
import functools
import logging
import time

from .patching import replace, rewrites_fastreid

project_logger = logging.getLogger("fastreid.multimodal")


def optimizer_without_contiguous_buffers():
    """DEFECT (silent): fastreid optimises flat ``ContiguousParams`` buffers whose .grad the
    parameters' grads are views of. torch>=2 ``zero_grad()`` defaults to ``set_to_none=True``: it
    drops the flat grads, backward still fills the views, and ``step()`` skips every buffer. The
    weights never change while the loss logs look normal.

    DEFECT (silent), the same buffers with the grads kept: a parameter that took no part in a
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
        replace(module, "build_optimizer", build_optimizer)


def _flush_pending_scalars(storage, put_scalar, values=None):
    """Put the tensor scalars ``storage`` holds back, as floats, under the prefix and iteration
    they were given at; ``values``: their host copies, else copied here in one read."""
    pending = storage.__dict__.pop("_pending_scalars", [])
    if not pending:
        return
    if values is None:
        import torch
        values = torch.stack([p[3] for p in pending]).cpu()
    prefix, iteration = storage._current_prefix, storage._iter
    try:
        for (at_prefix, at_iter, name, _, hint), value in zip(pending, values):
            storage._current_prefix, storage._iter = at_prefix, at_iter
            put_scalar(storage, name, float(value), hint)
    finally:
        storage._current_prefix, storage._iter = prefix, iteration


def metrics_read_back_once():
    """DEFECT (speed, GPU): the training step's ``_write_metrics`` reads every loss back to the
    host with its own ``.cpu().item()``, one device synchronisation per loss (8 a step for MMET
    with MMM), and every tensor a model logs with ``EventStorage.put_scalar`` (the classifiers'
    accuracies: fastreid's ``log_accuracy``, ours) is read back where it is logged, in the middle
    of the forward pass. Tensor scalars are now held by the storage and copied to the host
    together with the losses, once a step; fastreid's own code then logs (and checks for NaN) the
    host copies unchanged. Reading the storage puts whatever it still holds first."""
    import torch
    from fastreid.engine import train_loop
    from fastreid.utils.events import EventStorage

    orig = train_loop.SimpleTrainer._write_metrics
    put_scalar = EventStorage.put_scalar

    @functools.wraps(put_scalar)
    def put_tensor_later(self, name, value, smoothing_hint=True):
        if not isinstance(value, torch.Tensor):
            return put_scalar(self, name, value, smoothing_hint)
        self.__dict__.setdefault("_pending_scalars", []).append(
            (self._current_prefix, self._iter, name, value.detach().float().reshape(()), smoothing_hint))

    def reads_after_flush(method):
        @functools.wraps(method)
        def read(self, *args, **kwargs):
            _flush_pending_scalars(self, put_scalar)
            return method(self, *args, **kwargs)
        return read

    @functools.wraps(orig)
    def _write_metrics(self, loss_dict, data_time):
        from fastreid.utils.events import _CURRENT_STORAGE_STACK
        storage = _CURRENT_STORAGE_STACK[-1] if _CURRENT_STORAGE_STACK else None
        pending = storage.__dict__.get("_pending_scalars", []) if storage is not None else []
        tensors = [v.detach().float().reshape(()) for v in loss_dict.values()] + [p[3] for p in pending]
        if tensors:
            values = torch.stack(tensors).cpu()
            if pending:
                _flush_pending_scalars(storage, put_scalar, values[len(loss_dict):])
            loss_dict = dict(zip(loss_dict, values[:len(loss_dict)]))
        return orig(self, loss_dict, data_time)

    replace(train_loop.SimpleTrainer, "_write_metrics", _write_metrics)
    replace(EventStorage, "put_scalar", put_tensor_later)
    for name in ("history", "histories", "latest", "latest_with_smoothing_hint", "smoothing_hints"):
        replace(EventStorage, name, reads_after_flush(getattr(EventStorage, name)))


AMP_DTYPES = ("auto", "bf16", "fp16")  # SOLVER.AMP.DTYPE


def amp_dtype(device_type, requested="auto", bf16_supported=None):
    """The autocast dtype of SOLVER.AMP: bfloat16 (no loss scaling) unless fp16 is asked for or,
    with ``auto``, the GPU has no bfloat16; the CPU always runs bfloat16."""
    import torch
    if requested not in AMP_DTYPES:
        from ..errors import ConfigError
        raise ConfigError(f"SOLVER.AMP.DTYPE must be one of {AMP_DTYPES}, got {requested!r}")
    if device_type == "cpu":
        return torch.bfloat16
    if requested == "auto":
        supported = torch.cuda.is_bf16_supported() if bf16_supported is None else bf16_supported
        return torch.bfloat16 if supported else torch.float16
    return torch.bfloat16 if requested == "bf16" else torch.float16


def use_amp_dtype(trainer, dtype):
    """Set an AMPTrainer's autocast dtype: a GradScaler with float16 only."""
    import torch
    trainer.amp_dtype = dtype
    if dtype == torch.float16 and trainer.device_type == "cuda":
        trainer.grad_scaler = trainer.grad_scaler or torch.amp.GradScaler("cuda")
    else:
        trainer.grad_scaler = None


@rewrites_fastreid
def amp_on_cpu():
    """DEFECT: AMPTrainer asserts CUDA and uses the deprecated torch.cuda.amp API, in float16
    with loss scaling on every GPU. SOLVER.AMP now runs in bfloat16 autocast (no loss scaling)
    on the CPU and on GPUs that have it, float16 + GradScaler elsewhere (SOLVER.AMP.DTYPE)."""
    import torch
    from fastreid.engine import train_loop

    def __init__(self, model, data_loader, optimizer, param_wrapper, grad_scaler=None):
        train_loop.SimpleTrainer.__init__(self, model, data_loader, optimizer, param_wrapper)
        self.device_type = "cuda" if torch.cuda.is_available() else "cpu"
        self.grad_scaler = grad_scaler
        use_amp_dtype(self, amp_dtype(self.device_type))

    def run_step(self):
        assert self.model.training, "[AMPTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        with torch.autocast(self.device_type, dtype=self.amp_dtype):
            loss_dict = self.model(data)
        # the sum and its backward start in fp32 (autocast already runs the losses' softmax,
        # log and reductions in fp32)
        losses = sum(value.float() for value in loss_dict.values())
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

    replace(train_loop.AMPTrainer, "__init__", __init__)
    replace(train_loop.AMPTrainer, "run_step", run_step)


def cosine_spans_an_epoch():
    """DEFECT: CosineAnnealingLR gets ``T_max = MAX_EPOCH - warm-up epochs``; when the warm-up
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
        replace(owner, "build_lr_scheduler", build_lr_scheduler)


def finished_run_has_an_epoch():
    """DEFECT: a loop that starts at its last epoch (``--resume`` of a finished run) never sets
    ``trainer.epoch``, and the hooks' after_train dies with ``AttributeError: epoch``."""
    from fastreid.engine import train_loop

    orig_train = train_loop.TrainerBase.train

    def train(self, start_epoch, max_epoch, iters_per_epoch):
        self.epoch = start_epoch - 1  # what the hooks read when the loop does not run
        return orig_train(self, start_epoch, max_epoch, iters_per_epoch)

    replace(train_loop.TrainerBase, "train", train)


def prefetch_thread_stops_after_training():
    """DEFECT: DataLoaderX's prefetch thread is never stopped, and a process that ends while it
    runs a torch op aborts ("terminate called without an active exception"). It is shut down
    when DefaultTrainer.train returns, whichever way."""
    from fastreid.engine import defaults

    orig_train = defaults.DefaultTrainer.train

    def train(self):
        try:
            return orig_train(self)
        finally:
            shutdown = getattr(self.data_loader, "shutdown", None)
            if shutdown is not None and getattr(self.data_loader, "iter", None) is not None:
                shutdown()

    replace(defaults.DefaultTrainer, "train", train)


def resume_of_finished_run_evaluates():
    """CHANGES A BEHAVIOUR: ``--resume`` of a finished run skips training, says so, and evaluates
    its final model (fastreid entered an empty loop and then failed, see finished_run_has_an_epoch)."""
    from fastreid.engine import defaults

    orig_train = defaults.DefaultTrainer.train

    def train(self):
        if self.start_epoch < self.max_epoch:
            return orig_train(self)
        logging.getLogger("fastreid").info(
            "Training already finished (epoch %d of %d in %s); evaluating the final model.",
            self.start_epoch, self.max_epoch, self.cfg.OUTPUT_DIR)
        self._last_eval_results = self.test(self.cfg, self.model)
        return self._last_eval_results

    replace(defaults.DefaultTrainer, "train", train)


@rewrites_fastreid
def eval_period_zero_evaluates_at_the_end():
    """CHANGES A BEHAVIOUR: ``TEST.EVAL_PERIOD 0`` means "evaluate once, after the last epoch"
    (fastreid's EvalHook.after_train divided by zero at the end of training)."""
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

    replace(hooks.EvalHook, "after_epoch", after_epoch)
    replace(hooks.EvalHook, "after_train", after_train)


@rewrites_fastreid
def checkpointer_without_tests():
    """DEFECT: the PeriodicCheckpointer hook reads ``DATASETS.TESTS[0]`` and dies with
    IndexError when a run has no test set (pre-training on FineGPR has none)."""
    from fastreid.engine import hooks

    orig = hooks.PeriodicCheckpointer.before_train

    def before_train(self):
        if len(self.trainer.cfg.DATASETS.TESTS) == 0:
            self.max_epoch = self.trainer.max_epoch
            self.metric_name = "metric"
            return
        return orig(self)

    replace(hooks.PeriodicCheckpointer, "before_train", before_train)


def _replace_default_setup(wrap):
    """fastreid.engine re-exports default_setup: scripts reach it through both names."""
    from fastreid import engine
    from fastreid.engine import defaults

    new = wrap(defaults.default_setup)
    replace(defaults, "default_setup", new)
    replace(engine, "default_setup", new)


def default_device_falls_back_to_cpu():
    """DEFECT: MODEL.DEVICE defaults to cuda, so on a machine without CUDA a FastReID script dies
    in build_model ("Found no NVIDIA driver"). default_setup now falls back to cpu (logged), under
    FastReID's own scripts as under tools/train_net.py."""
    from ..utils.device import resolve_device

    def wrap(orig):
        def default_setup(cfg, args):
            requested = cfg.MODEL.DEVICE
            resolve_device(cfg, quiet=True)  # before the config dump, which then says cpu
            orig(cfg, args)
            if cfg.MODEL.DEVICE != requested:  # now that the log is set up
                project_logger.info("No CUDA device: MODEL.DEVICE %s -> cpu", requested)
        return default_setup

    _replace_default_setup(wrap)


def default_setup_seeds_from_config():
    """CHANGES A BEHAVIOUR: fastreid's default_setup seeds every run with a fresh random seed
    (``seed_all_rng()``, whatever the config says). SEED >= 0 now seeds torch / numpy / random with
    SEED + rank, and the config is remembered for the data sets FastReID's loaders build without
    dataset_cfg (DATASETS.SYNTH.*, DATASETS.FINEGPR.*)."""
    from fastreid.utils import comm
    from fastreid.utils.env import seed_all_rng

    from ..config import set_active_config

    def wrap(orig):
        def default_setup(cfg, args):
            orig(cfg, args)
            if getattr(cfg, "SEED", -1) >= 0:
                seed_all_rng(cfg.SEED + comm.get_rank())
                project_logger.info("Seeded torch, numpy and random with SEED + rank = %d",
                                    cfg.SEED + comm.get_rank())
            set_active_config(cfg)
        return default_setup

    _replace_default_setup(wrap)
