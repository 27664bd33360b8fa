"""WriteResults: results.md / results.json for FastReID's own DefaultTrainer; ConstantAfterWarmup:
optimizer groups that keep their initial lr once warm-up ends."""
from fastreid.engine.train_loop import HookBase
from fastreid.utils import comm

from ..evaluation.results import results_per_target, write_results


class WriteResults(HookBase):
    """After every evaluation, the per-target table of FastReID's last results into OUTPUT_DIR
    (MultimodalTrainer writes it itself). In a FastReID script, after building the trainer:
    ``trainer.register_hooks([WriteResults(cfg)])``. Register it after FastReID's hooks (as
    register_hooks does), so that it runs after the EvalHook."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.written = None

    def _write(self):
        results = getattr(self.trainer, "_last_eval_results", None)
        if not results or results is self.written or not comm.is_main_process():
            return
        if self.cfg.TEST.RESULTS.WRITE and self.cfg.OUTPUT_DIR:
            write_results(results_per_target(self.cfg, results), self.cfg.OUTPUT_DIR)
        self.written = results

    def after_epoch(self):
        self._write()

    def after_train(self):
        self._write()


class ConstantAfterWarmup(HookBase):
    """Holds the optimizer groups marked ``constant_after_warmup`` at their initial lr once
    warm-up is over, whatever SOLVER.SCHED does to the others (MODEL.MMET.FUSION_LR_SCHEDULE
    constant: the fusion encoder and ITM head, whose ITM learns at a constant 1e-4 in the probe but
    not under the run's decaying one). Register it after FastReID's LRScheduler hook, so that it
    overrides that hook's step of the same iteration or epoch."""

    def __init__(self, optimizer):
        self.groups = [g for g in optimizer.param_groups if g.get("constant_after_warmup")]

    def _hold(self):
        if self.trainer.iter + 1 >= self.trainer.warmup_iters:
            for group in self.groups:
                group["lr"] = group["initial_lr"]

    def after_step(self):
        self._hold()

    def after_epoch(self):
        self._hold()
