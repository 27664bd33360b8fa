#!/usr/bin/env python
"""Train / evaluate with fastreid-multimodal (FastReID projects style).

    python tools/train_net.py --config-file configs/DMF/vit_finegpr.yml [--num-gpus N] [KEY VALUE ...]
    python tools/train_net.py --config-file CONFIG --eval-only MODEL.WEIGHTS OUTPUT_DIR/model_final.pth
    python tools/train_net.py --config-file CONFIG --resume
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # uninstalled checkout

import fastreid_multimodal  # noqa: E402,F401  (patches fastreid, registers everything)
from fastreid.engine import launch  # noqa: E402
from fastreid.utils.checkpoint import Checkpointer  # noqa: E402

from fastreid_multimodal.engine import (MultimodalTrainer, default_argument_parser,  # noqa: E402
                                        default_setup, load_config, run_cli)
from fastreid_multimodal.engine.trainer import (check_checkpoint_matches,  # noqa: E402
                                                num_classes_in_checkpoint)
from fastreid_multimodal.engine.translators import check_same_translators  # noqa: E402
from fastreid_multimodal.utils.safe_load import load_weights  # noqa: E402


def setup(args):
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        cfg.defrost()
        cfg.MODEL.BACKBONE.PRETRAIN = False
        checkpoint = load_weights(cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS") if cfg.MODEL.WEIGHTS else None
        if cfg.MODEL.HEADS.NUM_CLASSES == 0 and checkpoint is not None:  # the classifier loads too
            cfg.MODEL.HEADS.NUM_CLASSES = num_classes_in_checkpoint(cfg.MODEL.WEIGHTS, checkpoint)
        model = MultimodalTrainer.build_model(cfg)
        if checkpoint is not None:  # a checkpoint of another architecture would evaluate a random model
            check_checkpoint_matches(model, cfg.MODEL.WEIGHTS, checkpoint=checkpoint)
            check_same_translators(cfg, checkpoint, cfg.MODEL.WEIGHTS)
        Checkpointer(model).load(cfg.MODEL.WEIGHTS)
        return MultimodalTrainer.test(cfg, model)
    trainer = MultimodalTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def worker(args):
    return run_cli(main, args, hard_exit=True)


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    if not args.config_file:  # FastReID's defaults alone would silently train a ResNet-50
        print("error: --config-file is required (e.g. configs/Demo/dmf_stage1_synth.yml)", file=sys.stderr)
        sys.exit(2)
    run_cli(load_config, args.config_file, args.opts)  # report config errors once, before spawning
    launch(worker, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
