"""The ITM toy run of test_mmet.py in a process of its own: prints the per-step ITM losses as JSON."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastreid_multimodal  # noqa: E402,F401
from fastreid.utils.events import EventStorage  # noqa: E402

from fastreid_multimodal.data.samples import PAIR  # noqa: E402
from test_mmet import tiny_mmet  # noqa: E402


def main():
    torch.set_num_threads(1)
    model = tiny_mmet()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    colours = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], dtype=torch.float)
    words = torch.randint(1000, 2000, (4, 8), generator=g)
    pids = torch.arange(16) % 4
    ids = torch.cat([torch.full((16, 1), 101), words[pids], torch.full((16, 1), 102)], 1)
    itm = []
    for step in range(90):
        images = colours[pids][:, :, None, None].expand(16, 3, 64, 32) * 0.7 + \
            torch.rand(16, 3, 64, 32, generator=g) * 76
        batch = {"modality": torch.full((16,), PAIR), "targets": pids, "images": images,
                 "text_ids": ids, "text_mask": torch.ones_like(ids, dtype=torch.bool)}
        torch.manual_seed(step)  # the ITM negatives' draw
        with EventStorage(0):
            losses = model(batch)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        itm.append(losses["loss_itm"].item())
    print(json.dumps(itm))


if __name__ == "__main__":
    main()
