"""tools/train_net.py's training, plus one line per iteration ("iteration total_loss", exact repr)
appended to LOSS_LOG; with PAUSE_AT=N it stops after writing iteration N's line and waits to be
killed (so that a test kills it mid-epoch at a known point). Used by test_exact_resume.py."""
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import fastreid_multimodal  # noqa: E402,F401
from fastreid.engine.train_loop import HookBase  # noqa: E402

from fastreid_multimodal.engine import (MultimodalTrainer, default_argument_parser,  # noqa: E402
                                        default_setup, load_config)


class LossLog(HookBase):
    def __init__(self, path, pause_at):
        self.path, self.pause_at = path, pause_at

    def after_step(self):
        value = self.trainer.storage.latest()["total_loss"][0]
        with open(self.path, "a") as f:
            f.write(f"{self.trainer.iter} {value!r}\n")
            f.flush()
            os.fsync(f.fileno())
        if self.trainer.iter == self.pause_at:
            while True:  # killed here
                time.sleep(1)


def main():
    args = default_argument_parser().parse_args()
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    trainer = MultimodalTrainer(cfg)
    trainer.register_hooks([LossLog(os.environ["LOSS_LOG"], int(os.environ.get("PAUSE_AT", -1)))])
    trainer.resume_or_load(resume=args.resume)
    trainer.train()


if __name__ == "__main__":
    main()
