"""Two gloo processes train a Linear + BatchNorm on rank-dependent batches through the DDP that
DefaultTrainer builds (``fastreid.engine.defaults.DistributedDataParallel``), then run one
evaluation forward (as FastReID's evaluator does, through DDP); rank 0 prints each rank's
BatchNorm running mean. ``--fastreid`` builds DDP as fastreid 1.4.0 does instead."""
import json
import sys

import torch

import fastreid_multimodal  # noqa: F401  (the compat patches)
from fastreid.engine import defaults, launch
from fastreid.utils import comm


def main(use_fastreid):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    if use_fastreid:
        model = torch.nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    else:  # DefaultTrainer's call, after compat
        model = defaults.DistributedDataParallel(model, device_ids=[comm.get_local_rank()],
                                                 broadcast_buffers=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        batch = torch.randn(8, 4) + 5 * comm.get_rank()  # each rank its own statistics
        model(batch).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        model(torch.randn(8, 4))
    means = comm.all_gather(model.module[1].running_mean.tolist())
    if comm.is_main_process():
        print(json.dumps(means))


if __name__ == "__main__":
    launch(main, 2, dist_url="auto", args=("--fastreid" in sys.argv,))
