"""tools/train_net.py's training, plus one line per iteration ("iteration total_loss", exact repr)
appended to LOSS_LOG; with PAUSE_AT=N it stops after writing iteration N's line and waits to be
killed (so that a test kills it mid-epoch at a known point); with KILL_IN_SAVE=<name> the process
SIGKILLs itself half-way through writing checkpoint <name>.pth. Used by test_exact_resume.py."""
import os
import signal
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


def kill_in_save(name):
    """Half of checkpoint <name>.pth reaches its temporary file, then the process is killed."""
    import io

    import torch

    from fastreid_multimodal.compat import checkpoint
    from fastreid_multimodal.utils.io import _temporary
    save = checkpoint.atomic_torch_save

    def killed_half_way(obj, path):
        if os.path.basename(path) != f"{name}.pth":
            return save(obj, path)
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        with open(_temporary(path), "wb") as f:
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.atomic_torch_save = killed_half_way


def main():
    if os.environ.get("KILL_IN_SAVE"):
        kill_in_save(os.environ["KILL_IN_SAVE"])
    args = default_argument_parser().parse_args()
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    trainer = MultimodalTrainer(cfg)
    trainer.register_hooks([LossLog(os.environ["LOSS_LOG"], int(os.environ.get("PAUSE_AT", -1)))])
    trainer.resume_or_load(resume=args.resume)
    trainer.train()


if __name__ == "__main__":
    main()
