"""ModalityBalancedIdentitySampler: P identities a batch, each with K images AND K captions.

FastReID's NaiveIdentitySampler draws K samples per identity from the pooled list S_i ∪ S_t; with as
many captions as images that leaves about K/2 images per identity in a batch (1.4 image-image
positive pairs instead of K(K-1)/2 = 6 at K = 4), which halves the signal image-to-image triplet
mining sees. This sampler keeps K images per identity and adds K of its captions, so a fused batch
carries the same image positives as an image-only batch with half as many identities.

Each process's share of a batch holds at least two identities: with one, the triplet loss has no
negative and the ID loss sees one class (the paper config's batch of 64 over 8 GPUs gave every GPU
1 identity x (4 + 4)). Where DATALOADER.NUM_INSTANCE does not leave room for two, K is lowered
for this sampler, with a warning, instead of gathering features across processes.
"""
import logging

import numpy as np
from fastreid.data.samplers import NaiveIdentitySampler
from fastreid.data.samplers.triplet_sampler import reorder_index

from ..errors import ConfigError
from .samples import Caption

logger = logging.getLogger("fastreid.multimodal")
MIN_IDENTITIES_PER_PROCESS = 2


def instances_per_identity(mini_batch_size, num_instances):
    """K for a process's batch of ``mini_batch_size``: ``num_instances``, lowered where that would
    leave fewer than MIN_IDENTITIES_PER_PROCESS identities (each brings K images + K captions)."""
    if mini_batch_size // (2 * num_instances) >= MIN_IDENTITIES_PER_PROCESS:
        return num_instances
    lowered = mini_batch_size // (2 * MIN_IDENTITIES_PER_PROCESS)
    if lowered < 1:
        raise ConfigError(f"SOLVER.IMS_PER_BATCH per process ({mini_batch_size}) must be at least "
                          f"{2 * MIN_IDENTITIES_PER_PROCESS}: each process's batch needs "
                          f"{MIN_IDENTITIES_PER_PROCESS} identities x (an image + a caption)")
    logger.warning("DATALOADER.NUM_INSTANCE %d lowered to %d for the modality-balanced sampler: a "
                   "process's batch of %d holds %d identities x (%d images + %d captions), not 1",
                   num_instances, lowered, mini_batch_size, mini_batch_size // (2 * lowered),
                   lowered, lowered)
    return lowered


def is_caption(item):
    return isinstance(item, Caption)


class ModalityBalancedIdentitySampler(NaiveIdentitySampler):
    """Infinite stream of indices; each mini-batch = P identities x (K images + K captions)."""

    def __init__(self, data_source, mini_batch_size, num_instances, seed=None):
        num_instances = instances_per_identity(mini_batch_size, num_instances)
        if mini_batch_size % (2 * num_instances):
            raise ConfigError(f"SOLVER.IMS_PER_BATCH per process ({mini_batch_size}) must be a "
                              f"multiple of 2 x DATALOADER.NUM_INSTANCE ({2 * num_instances}): "
                              "every identity brings NUM_INSTANCE images and NUM_INSTANCE captions")
        super().__init__(data_source, mini_batch_size, num_instances, seed)
        self.num_pids_per_batch = self.batch_size // (2 * num_instances)  # over all processes
        self.pids_per_process = mini_batch_size // (2 * num_instances)
        self.pools = {pid: ([i for i in idx if not is_caption(data_source[i][0])],
                            [i for i in idx if is_caption(data_source[i][0])])
                      for pid, idx in self.pid_index.items()}
        # identities lacking one modality cannot fill their half of a batch
        self.pids = sorted(pid for pid, (images, texts) in self.pools.items() if images and texts)
        if len(self.pids) < self.num_pids_per_batch:
            raise ConfigError(f"the training set has {len(self.pids)} identities with both images "
                              f"and captions; a batch needs {self.num_pids_per_batch} "
                              "(SOLVER.IMS_PER_BATCH / (2 x DATALOADER.NUM_INSTANCE))")

    def _infinite_indices(self):
        rng = np.random.RandomState(self._seed)
        k = self.num_instances

        def shuffled(pool):
            pool = list(pool) if len(pool) >= k else rng.choice(pool, k, replace=True).tolist()
            rng.shuffle(pool)
            return pool

        while True:
            # an "epoch" of the sampler: identities leave once either pool runs short of K
            left = {pid: (shuffled(self.pools[pid][0]), shuffled(self.pools[pid][1]))
                    for pid in self.pids}
            available = list(self.pids)
            while len(available) >= self.num_pids_per_batch:
                batch = []
                for pid in rng.choice(available, self.num_pids_per_batch, replace=False).tolist():
                    images, texts = left[pid]
                    batch += [images.pop() for _ in range(k)] + [texts.pop() for _ in range(k)]
                    if len(images) < k or len(texts) < k:
                        available.remove(pid)
                # each process gets whole identities (FastReID's order for its rank slicing)
                yield from reorder_index(batch, self._world_size)
