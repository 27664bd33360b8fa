"""Exact resume of a training data stream.

A killed run resumes from its last checkpoint; to replay the uninterrupted run's batches bit for
bit, the loader must (1) continue the sampler's index stream where that checkpoint left it and
(2) augment every sample exactly as the uninterrupted run did. FastReID's loaders give neither:
the infinite samplers restart from their seed, and the workers' random state depends on every
sample they augmented before. Here:

* ``SeededBatchSampler`` numbers the batches of the wrapped batch sampler and, from ``start``,
  pairs every index with a seed derived from (data seed, rank, batch number, position in batch);
  the skipped batches are only drawn as indices (no image is read).
* ``SeededDataset`` seeds python's, numpy's and torch's generators with that seed before it reads
  and augments the sample (in a worker process; in the main process the generators' states are
  put back afterwards). With ``DATALOADER.NUM_WORKERS 0`` the samples are read by the prefetch
  thread while the training thread draws dropout from the same generators, so only runs with
  workers are exact.
* ``TrainingRandomState`` (a checkpointable) stores the training process's generator states and
  the data seed in every checkpoint; ``MultimodalTrainer.resume_or_load`` restores numpy's and
  python's, repositions the loader, then restores torch's. (FastReID's samplers draw from numpy's
  global generator in the loader's prefetch thread: nothing may set it once that thread runs.)
"""
import random

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info


def sample_seeds(data_seed, rank, batch_number, position):
    """Three 32-bit seeds (python, numpy, torch) of one sample of the stream."""
    return np.random.SeedSequence([data_seed, rank, batch_number, position]).generate_state(3).tolist()


class SeededBatchSampler:
    """Batches of ``batch_sampler`` as lists of (index, seeds), from batch number ``start``."""

    def __init__(self, batch_sampler, data_seed, rank=0):
        self.batch_sampler = batch_sampler
        self.data_seed = int(data_seed)
        self.rank = rank
        self.start = 0

    def __iter__(self):
        batches = iter(self.batch_sampler)
        for _ in range(self.start):
            next(batches)
        for number, batch in enumerate(batches, self.start):
            yield [(index, sample_seeds(self.data_seed, self.rank, number, position))
                   for position, index in enumerate(batch)]

    def __len__(self):
        return len(self.batch_sampler)


def seed_generators(seeds):
    python_seed, numpy_seed, torch_seed = seeds
    random.seed(python_seed)
    np.random.seed(numpy_seed)
    torch.manual_seed(torch_seed)


class SeededDataset(Dataset):
    """``dataset[index]`` read with its sample's own seeds; every other attribute is the dataset's."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):
        if name == "dataset":  # during unpickling in a worker, before __dict__ is filled
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, item):
        index, seeds = item
        if get_worker_info() is not None:
            seed_generators(seeds)
            return self.dataset[index]
        # main process: put the training generators back (native states: no checkpoint conversion
        # on this per-sample path)
        state = random.getstate(), np.random.get_state(), torch.get_rng_state()
        try:
            seed_generators(seeds)
            return self.dataset[index]
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
            torch.set_rng_state(state[2])


def capture_generators():
    """The process's python / numpy / torch (and CUDA) generator states, as checkpoint data (no
    numpy objects: checkpoints load with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64),
                        "gauss": python_gauss}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_generators(state, which=("python", "numpy", "torch")):
    """Put back ``capture_generators``'s states of the generators named in ``which``."""
    if "torch" in which:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in which:
        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                             n["has_gauss"], n["gauss"]))
    if "python" in which:
        p = state["python"]
        random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))


class TrainingRandomState:
    """Checkpointable: the training process's generator states and the data seed at save time.
    Loading only keeps them (``loaded``): they are restored once the loader is repositioned,
    since building its iterator draws from the generators."""

    def __init__(self, data_seed):
        self.data_seed = int(data_seed)
        self.loaded = None

    def state_dict(self):
        return {"generators": capture_generators(), "data_seed": self.data_seed}

    def load_state_dict(self, state):
        self.loaded = state
        self.data_seed = int(state["data_seed"])
