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


def test_small_batches_keep_two_identities_per_process(caplog):
    # the paper config's 64 over 8 GPUs: 8 per process, NUM_INSTANCE 4 would give 1 identity
    items = fused(images=6, texts=6)
    with caplog.at_level("WARNING", logger="fastreid.multimodal"):
        sampler = ModalityBalancedIdentitySampler(items, mini_batch_size=8, num_instances=4, seed=1)
    assert "NUM_INSTANCE 4 lowered to 2" in caplog.text
    for batch in batches(sampler, 8, 10):
        pids = [items[i][1] for i in batch]
        assert len(set(pids)) == 2
        for pid in set(pids):
            captions = [isinstance(items[i][0], Caption) for i in batch if items[i][1] == pid]
            assert sorted(captions) == [False, False, True, True]


def test_each_rank_gets_whole_identities(monkeypatch):
    from fastreid.utils import comm
    items = fused(images=6, texts=6)
    per_rank = []
    for rank in (0, 1):
        monkeypatch.setattr(comm, "get_world_size", lambda: 2)
        monkeypatch.setattr(comm, "get_rank", lambda rank=rank: rank)
        per_rank.append(batches(ModalityBalancedIdentitySampler(items, 8, 4, seed=5), 8, 6))
    for mine, theirs in zip(*per_rank):
        for batch in (mine, theirs):
            pids = [items[i][1] for i in batch]
            assert len(set(pids)) == 2 and all(pids.count(p) == 4 for p in set(pids))
        assert not {items[i][1] for i in mine} & {items[i][1] for i in theirs}


def test_batch_too_small_for_two_identities_is_a_config_error():
    with pytest.raises(ConfigError, match="IMS_PER_BATCH per process \\(3\\) must be at least 4"):
        ModalityBalancedIdentitySampler(fused(), mini_batch_size=3, num_instances=1)
