"""MultimodalTrainer: FastReID's DefaultTrainer plus a per-target results table."""
import logging
from collections import OrderedDict

import torch
from fastreid.data import build_reid_test_loader, build_reid_train_loader
from fastreid.data.build import _test_loader_from_config
from fastreid.engine import DefaultTrainer
from fastreid.utils import comm

from ..evaluation.results import format_table, write_results

logger = logging.getLogger("fastreid_multimodal")


class MultimodalTrainer(DefaultTrainer):
    """DefaultTrainer whose evaluation also writes results.md/results.json to OUTPUT_DIR."""

    @classmethod
    def build_train_loader(cls, cfg):
        # dataset_cfg reaches our datasets' constructors (FastReID's own ignore it)
        return build_reid_train_loader(cfg, combineall=cfg.DATASETS.COMBINEALL, dataset_cfg=cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        # fastreid's default of 4 test workers oversubscribes small machines
        loader_args = _test_loader_from_config(cfg, dataset_name=dataset_name, dataset_cfg=cfg)
        return build_reid_test_loader(**loader_args, num_workers=cfg.DATALOADER.NUM_WORKERS)

    @classmethod
    def test(cls, cfg, model):
        results = super().test(cfg, model)
        tests = list(cfg.DATASETS.TESTS)
        per_target = OrderedDict(results) if len(tests) > 1 else OrderedDict([(tests[0], results)])
        if comm.is_main_process() and per_target:
            logger.info("Results per target:\n%s", format_table(per_target))
            if cfg.TEST.RESULTS.WRITE and cfg.OUTPUT_DIR:
                write_results(per_target, cfg.OUTPUT_DIR)
        return results


def num_classes_in_checkpoint(path):
    """Size of the identity classifier stored in a checkpoint (0 when it has none)."""
    state = torch.load(path, map_location="cpu", weights_only=False).get("model", {})
    weights = [v for k, v in state.items() if k.endswith("heads.weight") and v.dim() == 2]
    return int(weights[0].shape[0]) if weights else 0
