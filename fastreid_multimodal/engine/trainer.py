"""MultimodalTrainer: FastReID's DefaultTrainer whose ``build_*`` classmethods pick the training
samples and the evaluators from the config (as FastReID's projects/FastAttr does); it also writes a
per-target results table and resumes a killed run exactly."""
import glob
import logging
import os
from collections import OrderedDict
from contextlib import contextmanager

import torch

from fastreid.data import build_reid_test_loader
from fastreid.data.build import _test_loader_from_config
from fastreid.data.common import CommDataset
from fastreid.data.data_utils import DataLoaderX
from fastreid.engine import DefaultTrainer
from fastreid.engine.hooks import LRScheduler
from fastreid.evaluation import ReidEvaluator
from fastreid.utils import comm

from ..data.build import build_train_loader
from ..data.protocol import is_all_vs_all
from ..data.resumable import (SeededBatchSampler, SeededDataset, TrainingRandomState,
                              restore_generators)
from ..compat.training import amp_dtype, use_amp_dtype
from ..errors import ConfigError
from ..evaluation.chunked_evaluator import EVALUATORS, ChunkedReidEvaluator
from ..evaluation.results import (format_table, results_per_target, write_per_query,
                                  write_results)
from ..evaluation.text_retrieval import PREFIX, TextToImageEvaluator, format_text_table
from ..utils.model import unwrap
from .compilation import compile_blocks
from .hooks import ConstantAfterWarmup
from .optimizer import OptimizerState, merged_optimizer
from .translators import TranslatorRecord, check_same_translators
from ..utils.safe_load import load_weights

logger = logging.getLogger("fastreid.multimodal")
TEXT_QUERY_MODELS = ("MMET",)  # meta-architectures whose text_features() encode caption queries
LR_FACTOR_MODELS = ("MMET",)  # meta-architectures whose lr_factors() scale some parameters' lr


class MultimodalTrainer(DefaultTrainer):
    """DefaultTrainer whose evaluation also writes results.md/results.json to OUTPUT_DIR, and
    whose ``--resume`` replays the uninterrupted run exactly (data.resumable)."""

    _evaluators = None  # during test(): {target: its image evaluator}, for the per-query APs

    def __init__(self, cfg):
        super().__init__(cfg)
        device = getattr(self._trainer, "device_type", "cpu")  # AMPTrainer's only
        dtype = amp_dtype(device, cfg.SOLVER.AMP.DTYPE)  # checked with AMP off too
        if cfg.SOLVER.AMP.ENABLED:
            use_amp_dtype(self._trainer, dtype)
        sampler = self._trainer.data_loader.batch_sampler
        self.random_state = TrainingRandomState(getattr(sampler, "data_seed", 0))
        self.checkpointer.checkpointables["random_state"] = self.random_state
        # resumes checkpoints of the per-tensor optimizer groups too (engine.optimizer)
        self.checkpointer.checkpointables["optimizer"] = OptimizerState(self.optimizer)
        self.checkpointer.checkpointables["translators"] = TranslatorRecord(
            cfg, lambda: self.checkpointer.get_checkpoint_file())

    def train(self):
        # TF32 matmuls / convolutions for training only (SOLVER.TF32); evaluation sets them off
        with float32_precision(tf32=self.cfg.SOLVER.TF32 and self.cfg.MODEL.DEVICE.startswith("cuda")):
            return super().train()

    @classmethod
    def build_model(cls, cfg):
        model = super().build_model(cfg)
        compile_blocks(model, cfg.SOLVER.COMPILE.MODE, cfg.SOLVER.COMPILE.BACKEND)
        return model

    @classmethod
    def build_train_loader(cls, cfg):
        """The samples the config's meta-architecture trains on (data.build), every one drawn
        and augmented from its own seed."""
        return seeded_loader(build_train_loader(cfg), cfg.SEED)

    @classmethod
    def build_optimizer(cls, cfg, model):
        optimizer, param_wrapper = super().build_optimizer(cfg, model)
        if cfg.MODEL.META_ARCHITECTURE in LR_FACTOR_MODELS:  # MODEL.MMET.FUSION_LR_FACTOR
            scale_learning_rates(optimizer, unwrap(model).lr_factors(),
                                 constant=cfg.MODEL.MMET.FUSION_LR_SCHEDULE == "constant")
        optimizer = merged_optimizer(optimizer, cfg.SOLVER.OPTIMIZER_STEP)
        return optimizer, [p for group in optimizer.param_groups for p in group["params"]]

    def build_hooks(self):
        hooks = super().build_hooks()
        if any(g.get("constant_after_warmup") for g in self.optimizer.param_groups):
            after = next(i for i, h in enumerate(hooks) if isinstance(h, LRScheduler)) + 1
            hooks.insert(after, ConstantAfterWarmup(self.optimizer))
        return hooks

    def resume_or_load(self, resume=True):
        if comm.is_main_process():
            remove_stale_temp_files(self.cfg.OUTPUT_DIR)
        resuming = resume and self.checkpointer.has_checkpoint()
        if not resuming and self.cfg.MODEL.WEIGHTS:
            checkpoint = load_weights(self.cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS")  # read once
            check_checkpoint_matches(self.model, self.cfg.MODEL.WEIGHTS, checkpoint=checkpoint)
            check_same_translators(self.cfg, checkpoint, self.cfg.MODEL.WEIGHTS)  # stage I's, kept
            stored = num_classes_in_checkpoint(self.cfg.MODEL.WEIGHTS, checkpoint=checkpoint)
            if stored and stored != self.cfg.MODEL.HEADS.NUM_CLASSES:
                logger.info("%s: its classifier has %d identities, this run %d: the classifier is "
                            "re-initialised, every other matching weight is loaded",
                            self.cfg.MODEL.WEIGHTS, stored, self.cfg.MODEL.HEADS.NUM_CLASSES)
        result = super().resume_or_load(resume=resume)
        if resuming and self.random_state.loaded is not None and self.start_epoch < self.max_epoch:
            self.reposition_data(self.start_epoch * self.iters_per_epoch)
        return result

    def reposition_data(self, batches_done):
        """Continue the training stream after its first ``batches_done`` batches, with the
        generator states of the checkpoint."""
        loader = self._trainer.data_loader
        if not isinstance(loader.batch_sampler, SeededBatchSampler):
            return
        if getattr(loader, "iter", None) is not None:
            loader.shutdown()
        generators = self.random_state.loaded["generators"]
        restore_generators(generators, ("python", "numpy"))  # before the prefetch thread's sampler runs
        loader.batch_sampler.start = batches_done
        loader.batch_sampler.data_seed = self.random_state.data_seed
        self._trainer._data_loader_iter = iter(loader)
        restore_generators(generators, ("torch",))  # last: building the iterator drew from it
        logger.info("Resumed data stream at batch %d with the checkpoint's random state", batches_done)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name, once=False):
        """(loader, num_query) over query + gallery. ``once``: an all-vs-all data set (query =
        gallery) gives each image once and num_query = their number (see build_evaluator)."""
        # fastreid's default of 4 test workers oversubscribes small machines
        loader_args = _test_loader_from_config(cfg, dataset_name=dataset_name, dataset_cfg=cfg)
        test_set, num_query = loader_args["test_set"], loader_args["num_query"]
        items = test_set.img_items
        if once and is_all_vs_all(items[:num_query], items[num_query:]):
            loader_args["test_set"] = CommDataset(items[:num_query], test_set.transform,
                                                  relabel=False)
            loader_args["test_set"].all_vs_all = True  # build_evaluator: gallery = queries
        return build_reid_test_loader(**loader_args, num_workers=cfg.DATALOADER.NUM_WORKERS)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_dir=None):
        if cfg.TEST.EVALUATOR not in EVALUATORS:
            raise ConfigError(f"TEST.EVALUATOR must be one of {EVALUATORS}, got {cfg.TEST.EVALUATOR!r}")
        # all-vs-all sets: the chunked ranking reuses the query features as the gallery; the
        # stock paths (FastReID's evaluator, re-ranking, ROC) get the doubled list they expect
        once = cfg.TEST.EVALUATOR == "chunked" and not (cfg.TEST.RERANK.ENABLED or
                                                         cfg.TEST.ROC.ENABLED)
        data_loader, num_query = cls.build_test_loader(cfg, dataset_name, once=once)
        if cfg.TEST.EVALUATOR == "fastreid":
            return data_loader, ReidEvaluator(cfg, num_query, output_dir)
        shared = getattr(getattr(data_loader, "dataset", None), "all_vs_all", False)
        evaluator = ChunkedReidEvaluator(cfg, num_query, output_dir, cfg.TEST.CHUNK_SIZE,
                                         gallery_is_query=shared)
        if cls._evaluators is not None:
            cls._evaluators[dataset_name] = evaluator
        return data_loader, evaluator

    @classmethod
    def build_text_evaluator(cls, cfg, dataset_name):
        """Text->image retrieval on ``dataset_name`` when the model encodes text queries and the
        data set has them (captions as queries, its images as the gallery), else None."""
        if cfg.MODEL.META_ARCHITECTURE not in TEXT_QUERY_MODELS or not cfg.MODEL.MMET.EVAL_TEXT2IMAGE:
            return None
        evaluator = TextToImageEvaluator(cfg, dataset_name)
        return evaluator if evaluator.available else None

    @classmethod
    def test_text_to_image(cls, cfg, model, per_query=None):
        """{target: {"text2image/Rank-1": ..., ...}} of every DATASETS.TESTS entry with text
        queries (main process); ``per_query`` (a dict) receives {target: per-query APs}."""
        results = OrderedDict()
        if not comm.is_main_process():
            return results
        for name in cfg.DATASETS.TESTS:
            evaluator = cls.build_text_evaluator(cfg, name)
            if evaluator is not None:
                results[name] = evaluator.evaluate(model)
                if per_query is not None:
                    per_query[name] = evaluator.per_query_ap
        if results:
            logger.info("Text->image retrieval:\n%s", format_text_table(results))
        return results

    @classmethod
    def test(cls, cfg, model):
        evaluators = cls._evaluators = OrderedDict()
        try:
            with float32_precision(tf32=False):  # rankings bit-identical to the CPU path's
                results = super().test(cfg, model)
        finally:
            cls._evaluators = None
        tests = list(cfg.DATASETS.TESTS)
        if not tests:  # e.g. pre-training on FineGPR: nothing to evaluate
            return results
        per_target = results_per_target(cfg, results)
        per_query = OrderedDict((name, OrderedDict(mAP=ev.per_query_ap))
                                for name, ev in evaluators.items() if ev.per_query_ap)
        text_per_query = {}
        for name, metrics in cls.test_text_to_image(cfg, model, text_per_query).items():
            per_target[name].update(metrics)
        for name, aps in text_per_query.items():
            per_query.setdefault(name, OrderedDict())[PREFIX + "mAP"] = aps
        if comm.is_main_process() and per_target:
            logger.info("Results per target:\n%s", format_table(per_target))
            if cfg.TEST.RESULTS.WRITE and cfg.OUTPUT_DIR:
                write_results(per_target, cfg.OUTPUT_DIR)
                write_per_query(per_query, cfg.OUTPUT_DIR)
        return results


@contextmanager
def float32_precision(tf32):
    """float32 matmuls and cuDNN convolutions in TF32 (``tf32``) or full precision inside the
    block, the previous setting restored after it ("high" may use bfloat16 pairs on a CPU:
    training asks for TF32 on CUDA only)."""
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]


def seeded_loader(loader, seed):
    """``loader`` with every sample drawn and augmented from its own seed (data.resumable);
    SEED < 0 draws a data seed, which the checkpoints keep."""
    data_seed = seed if seed >= 0 else int.from_bytes(os.urandom(4), "little")
    kwargs = {}
    if loader.num_workers > 0:
        kwargs = {"prefetch_factor": loader.prefetch_factor,
                  "persistent_workers": loader.persistent_workers}
    return DataLoaderX(loader.local_rank, dataset=SeededDataset(loader.dataset),
                       batch_sampler=SeededBatchSampler(loader.batch_sampler, data_seed, comm.get_rank()),
                       num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                       pin_memory=loader.pin_memory, worker_init_fn=loader.worker_init_fn,
                       timeout=loader.timeout, **kwargs)


def remove_stale_temp_files(folder):
    """Drop ``*.tmp.<pid>`` files left by saves that were killed (their process is gone)."""
    for path in glob.glob(os.path.join(glob.escape(folder), "*.tmp.*")):
        pid = path.rsplit(".", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            os.remove(path)
            logger.info("removed %s, left by a save that was killed", path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _model_state(path, checkpoint=None):
    """The model's tensors of a checkpoint file (``checkpoint``: its already loaded content)."""
    state = load_weights(path, "MODEL.WEIGHTS") if checkpoint is None else checkpoint
    return state.get("model", state) if isinstance(state, dict) else {}


def num_classes_in_checkpoint(path, checkpoint=None):
    """Size of the identity classifier stored in a checkpoint (0 when it has none)."""
    state = _model_state(path, checkpoint)
    weights = [v for k, v in state.items() if k.endswith("heads.weight") and v.dim() == 2]
    return int(weights[0].shape[0]) if weights else 0


def scale_learning_rates(optimizer, factors, constant=False):
    """Multiply the lr of every optimizer group whose parameters all have a factor in ``factors``
    ({parameter: factor}); with ``constant``, mark those groups to keep that lr after warm-up
    (hooks.ConstantAfterWarmup). Called before the scheduler is built, so that the scheduler's
    initial_lr is the scaled one. Needs per-parameter groups (FastReID's contiguous buffers hide
    which parameter is which: then the factors are not applied, and the log says so)."""
    by_id = {id(p): f for p, f in factors.items()}
    scaled = 0
    for group in optimizer.param_groups:
        found = {by_id.get(id(p)) for p in group["params"]}
        if len(found) == 1 and None not in found:
            group["lr"] *= found.pop()
            group["constant_after_warmup"] = constant
            scaled += 1
    if by_id and not scaled:
        logger.warning("learning-rate factors for %d parameters not applied: the optimizer groups "
                       "are not per-parameter", len(by_id))
    return scaled


def check_checkpoint_matches(model, path, min_fraction=0.5, checkpoint=None):
    """A checkpoint of another architecture is an error listing what does not match."""
    state = _model_state(path, checkpoint)
    stored = {k[len("module."):] if k.startswith("module.") else k for k in state}
    own = set(unwrap(model).state_dict())
    matched = own & stored
    if len(matched) >= min_fraction * len(own):
        return
    missing = sorted(own - stored)
    unexpected = sorted(stored - own)

    def show(keys):
        groups = sorted({".".join(k.split(".")[:2]) for k in keys})
        return ", ".join(groups[:12]) + (f" ... ({len(groups)} groups)" if len(groups) > 12 else "")

    raise ConfigError(f"MODEL.WEIGHTS: '{path}' is not a checkpoint of this architecture "
                      f"({type(unwrap(model)).__name__}): only {len(matched)} of {len(own)} weights "
                      f"match.\n  missing in the checkpoint: {show(missing)}\n"
                      f"  unexpected in the checkpoint: {show(unexpected)}")
