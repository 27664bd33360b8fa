"""The fused sample list S_i ∪ S_t: captions tokenized once, bad captions counted, FastReID's
identity sampler drawing both modalities, collate keeping the sampler's order."""
import logging

import numpy as np
import torch
from fastreid.data.samplers import NaiveIdentitySampler
from PIL import Image

from fastreid_multimodal.data.samples import Caption
from fastreid_multimodal.data.multimodal import MultimodalCollate, MultimodalDataset
from fastreid_multimodal.data.samples import IMAGE, TEXT
from fastreid_multimodal.data.text import build_tokenizer


def _items(tmp_path):
    items = []
    for pid in range(3):
        for k in range(2):
            path = tmp_path / f"{pid}_{k}.png"
            Image.fromarray(np.full((8, 4, 3), 40 * pid + k, np.uint8)).save(path)
            items.append((str(path), f"d_{pid}", "d_0"))
            items.append((Caption(f"person {pid} wears a red coat", str(path)), f"d_{pid}", "d_0"))
    return items


def test_empty_and_long_captions_are_counted(tmp_path, caplog):
    items = _items(tmp_path)
    items.append((Caption("   "), "d_0", "d_0"))
    items.append((Caption("a man with a " + "very " * 30 + "long coat"), "d_1", "d_0"))
    with caplog.at_level(logging.INFO, logger="fastreid.multimodal"):
        data = MultimodalDataset(items, transform=None, tokenizer=build_tokenizer(""), max_length=12)
    assert len(data) == 13 and data.num_texts == 7 and data.truncated == 1
    assert "skipped 1 empty captions" in caplog.text and "1 of 7 captions" in caplog.text
    assert all(len(ids) <= 12 for ids in data.token_ids.values())


def test_sampler_and_collate_keep_both_modalities_in_order(tmp_path):
    import torchvision.transforms as T
    data = MultimodalDataset(_items(tmp_path), transform=T.PILToTensor(),
                             tokenizer=build_tokenizer(""), max_length=16)
    sampler = iter(NaiveIdentitySampler(data.img_items, mini_batch_size=8, num_instances=4, seed=0))
    indices = [next(sampler) for _ in range(8)]
    batch = MultimodalCollate(data.pad_id)([data[i] for i in indices])
    modality = batch["modality"]
    assert set(modality.tolist()) == {IMAGE, TEXT}
    assert batch["images"].shape[0] == int((modality == IMAGE).sum())
    assert batch["text_ids"].shape[0] == int((modality == TEXT).sum())
    expected = [data.pid_dict[data.img_items[i][1]] for i in indices]
    assert batch["targets"].tolist() == expected
    assert torch.equal(batch["text_mask"], batch["text_ids"] != data.pad_id)
    assert len(set(expected)) == 2  # P=2 identities x K=4 samples
