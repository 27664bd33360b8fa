"""ModalityBalancedIdentitySampler: every identity of a batch brings K images AND K captions."""
import itertools

import pytest

from fastreid_multimodal.data.samples import Caption
from fastreid_multimodal.data.modality_sampler import ModalityBalancedIdentitySampler
from fastreid_multimodal.errors import ConfigError


def fused(num_ids=6, images=5, texts=3):
    items = [(f"img_{p}_{i}.jpg", p, 0) for p in range(num_ids) for i in range(images)]
    items += [(Caption(f"caption {p} {i}", f"img_{p}_{i}.jpg"), p, 0)
              for p in range(num_ids) for i in range(texts)]
    return items


def batches(sampler, size, count):
    stream = iter(sampler)
    return [list(itertools.islice(stream, size)) for _ in range(count)]


def test_each_identity_brings_k_images_and_k_captions():
    items = fused()
    sampler = ModalityBalancedIdentitySampler(items, mini_batch_size=12, num_instances=2, seed=3)
    for batch in batches(sampler, 12, 20):
        pids = {items[i][1] for i in batch}
        assert len(pids) == 3
        for pid in pids:
            mine = [items[i][0] for i in batch if items[i][1] == pid]
            assert sum(isinstance(m, Caption) for m in mine) == 2
            assert sum(not isinstance(m, Caption) for m in mine) == 2


def test_same_seed_same_batches_and_every_image_is_drawn():
    items = fused()
    a = batches(ModalityBalancedIdentitySampler(items, 12, 2, seed=7), 12, 30)
    b = batches(ModalityBalancedIdentitySampler(items, 12, 2, seed=7), 12, 30)
    assert a == b
    drawn = {i for batch in a for i in batch}
    assert all(i in drawn for i, (item, _, _) in enumerate(items) if not isinstance(item, Caption))


def test_bad_batch_geometry_is_a_config_error():
    with pytest.raises(ConfigError, match="IMS_PER_BATCH.*2 x DATALOADER.NUM_INSTANCE"):
        ModalityBalancedIdentitySampler(fused(), mini_batch_size=10, num_instances=4)
    with pytest.raises(ConfigError, match="identities with both images and captions"):
        ModalityBalancedIdentitySampler(fused(num_ids=2), mini_batch_size=12, num_instances=2)
