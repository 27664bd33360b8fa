"""Identity splits of a real data set's training split, for choosing settings without its test set.

``*Subset`` trains on DATASETS.HELD_OUT.TRAIN_IDS identities of the training split (0: all that are
not held out) and tests on the data set's own query/gallery; ``*Val`` is the DATASETS.HELD_OUT.VAL_IDS
held-out training identities, evaluated all-vs-all like SynthPerson (query = gallery; FastReID's
same-identity-same-camera rule removes the query itself). The split is a seeded shuffle of the sorted
identities (DATASETS.HELD_OUT.SEED, not the training SEED): every run sees the same split, and the
two sets never share an identity.
"""
import random

from ...errors import ConfigError


def _option(cfg, key, default):
    value = cfg.DATASETS.HELD_OUT.get(key, default) if cfg is not None else default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"DATASETS.HELD_OUT.{key} must be a non-negative integer, got {value!r}")
    return value


def split_identities(train, cfg, dataset_name):
    """(training pids, held-out pids) of ``train``'s (path, pid, camid) items, per DATASETS.HELD_OUT."""
    val_ids, train_ids = _option(cfg, "VAL_IDS", 100), _option(cfg, "TRAIN_IDS", 0)
    seed = cfg.DATASETS.HELD_OUT.get("SEED", 0) if cfg is not None else 0
    pids = sorted({pid for _, pid, _ in train}, key=str)
    if val_ids >= len(pids):
        raise ConfigError(f"DATASETS.HELD_OUT.VAL_IDS is {val_ids}, but {dataset_name} has only "
                          f"{len(pids)} training identities (at least one must stay for training)")
    random.Random(seed).shuffle(pids)
    held_out, rest = pids[:val_ids], pids[val_ids:]
    if train_ids > len(rest):
        raise ConfigError(f"DATASETS.HELD_OUT.TRAIN_IDS is {train_ids}, but {dataset_name} has "
                          f"{len(rest)} training identities besides the {val_ids} held out")
    return set(rest[:train_ids] if train_ids else rest), set(held_out)


def _number(label):
    """FastReID prefixes training pids/camids with the data set's name ('dukemtmc_17')."""
    return int(str(label).rsplit("_", 1)[-1])


class TrainIdentitySubset:
    """Mixin over a FastReID ImageDataset: train on the kept identities, test on its own test set."""

    def __init__(self, root="datasets", dataset_cfg=None, **kwargs):
        super().__init__(root=root, **kwargs)
        keep, _ = split_identities(self.train, dataset_cfg, type(self).__name__)
        self._train = [item for item in self.train if item[1] in keep]
        self.data = self._train if self.mode == "train" else self.data


class HeldOutIdentities:
    """Mixin over a FastReID ImageDataset: no training split; the held-out training identities,
    all-vs-all, are its query and gallery."""

    def __init__(self, root="datasets", dataset_cfg=None, **kwargs):
        super().__init__(root=root, **kwargs)
        _, held_out = split_identities(self.train, dataset_cfg, type(self).__name__)
        test = sorted(((path, _number(pid), _number(camid)) for path, pid, camid in self.train
                       if pid in held_out))
        self._train, self._query, self._gallery = [], test, list(test)
        self.data = self._train if self.mode == "train" else test
