"""WriteResults: results.md / results.json for FastReID's own DefaultTrainer."""
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
