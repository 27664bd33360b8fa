"""FastReID's own tools/train_net.py, as a FastReID user has it, plus the import and one hook: the drop-in case
of test_fastreid_dropin.py (DefaultTrainer, FastReID's get_cfg / default_setup)."""
import sys

import fastreid_multimodal  # noqa: F401  (first: fastreid 1.4.0's imports need its patches)
from fastreid.config import get_cfg
from fastreid.engine import DefaultTrainer, default_argument_parser, default_setup, launch

from fastreid_multimodal.engine import WriteResults


def setup(args):
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    trainer = DefaultTrainer(cfg)
    trainer.register_hooks([WriteResults(cfg)])  # results.md / results.json
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
    sys.exit(0)
