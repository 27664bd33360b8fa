"""Fixes to fastreid's data loading: the prefetching loader, transforms, missing data sets."""
import os

from .patching import replace, rewrites_fastreid


class _LoaderError:
    """An exception raised in the prefetch thread, handed to the consumer to raise."""

    def __init__(self, exc):
        self.exc = exc


@rewrites_fastreid
def dataloader_on_cpu():
    """DEFECT: DataLoaderX always creates a CUDA stream and moves every batch to CUDA, and its
    prefetch thread calls torch.cuda.set_device: no CPU run at all. On CPU we keep the background
    prefetching and leave tensors where they are (the model moves them to its device).
    Also (a hang): an exception in the prefetch thread (a worker failed to decode an image) ended
    the thread without a word and the training loop waited forever on its queue; the exception
    is now handed over and raised in the training loop."""
    import torch
    from fastreid.data import data_utils

    orig_init = data_utils.DataLoaderX.__init__
    orig_preload = data_utils.DataLoaderX.preload
    orig_next = data_utils.DataLoaderX.__next__

    def __init__(self, local_rank, **kwargs):
        if torch.cuda.is_available():
            return orig_init(self, local_rank, **kwargs)
        kwargs["pin_memory"] = False  # pinning needs an accelerator and only warns on CPU
        torch.utils.data.DataLoader.__init__(self, **kwargs)
        self.stream = None
        self.local_rank = local_rank

    def preload(self):
        if self.stream is not None:
            return orig_preload(self)
        self.batch = next(self.iter, None)

    def __next__(self):
        if self.stream is not None:
            return orig_next(self)
        batch = self.batch
        if batch is None:
            raise StopIteration
        self.preload()
        return batch

    def run(self):
        try:
            if torch.cuda.is_available():
                torch.cuda.set_device(self.local_rank)
            for item in self.generator:
                if self.exit_event.is_set():
                    break
                self.queue.put(item)
        except BaseException as exc:  # a worker's error must reach the consumer, not a dead thread
            self.queue.put(_LoaderError(exc))
            return
        self.queue.put(None)

    def queue_next(self):
        item = self.queue.get()
        if isinstance(item, _LoaderError):
            raise item.exc
        if item is None:
            raise StopIteration
        return item

    replace(data_utils.DataLoaderX, "__init__", __init__)
    replace(data_utils.DataLoaderX, "preload", preload)
    replace(data_utils.DataLoaderX, "__next__", __next__)
    replace(data_utils.BackgroundGenerator, "run", run)
    replace(data_utils.BackgroundGenerator, "next", queue_next)


class _TorchvisionTransforms:
    """torchvision.transforms as fastreid's build_transforms sees it, with the pre-0.10 keyword
    names of RandomAffine (resample=, fillcolor=) translated."""

    def __getattr__(self, name):
        import torchvision.transforms as T
        return getattr(T, name)

    @staticmethod
    def RandomAffine(*args, resample=None, fillcolor=None, **kwargs):
        import torchvision.transforms as T
        if fillcolor is not None:
            kwargs.setdefault("fill", fillcolor)
        if resample:  # False/None/0 mean "nearest", torchvision's default
            kwargs.setdefault("interpolation", T.InterpolationMode.BILINEAR)
        return T.RandomAffine(*args, **kwargs)


def random_affine_keywords():
    """DEFECT: INPUT.AFFINE builds ``T.RandomAffine(resample=False, fillcolor=0)``; torchvision
    >=0.13 removed both keywords (TypeError at transform build time)."""
    from fastreid.data.transforms import build
    replace(build, "T", _TorchvisionTransforms())


@rewrites_fastreid
def to_tensor_on_numpy2():
    """DEFECT: fastreid's to_tensor uses ``np.array(..., copy=False)`` (ValueError on numpy 2 when
    a copy is needed: modes I, I;16, F, 1) and ``torch.ByteStorage.from_buffer`` (TypedStorage
    deprecation warning on every image). Same output: float CHW tensor in 0..255."""
    import numpy as np
    import torch
    from fastreid.data.transforms import functional, transforms

    def to_tensor(pic):
        if isinstance(pic, np.ndarray):
            assert pic.ndim in (2, 3)
            array = pic[:, :, None] if pic.ndim == 2 else pic
        else:
            dtypes = {"I": np.int32, "I;16": np.int16, "F": np.float32}
            array = np.asarray(pic, dtype=dtypes.get(pic.mode, np.uint8))
            if pic.mode == "1":
                array = array * 255
            if array.ndim == 2:
                array = array[:, :, None]
        img = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        return img.float() if img.dtype == torch.uint8 else img

    replace(functional, "to_tensor", to_tensor)
    replace(transforms, "to_tensor", to_tensor)


@rewrites_fastreid
def dataset_not_found_message():
    """DEFECT: a missing data set is a bare ``RuntimeError('"path" is not found')`` deep in a
    traceback. Say which data set, where FASTREID_DATASETS points and the expected layout."""
    from fastreid.data.datasets.bases import Dataset

    def check_before_run(self, required_files):
        from ..data.layouts import describe_missing
        from ..errors import DatasetNotFoundError
        if isinstance(required_files, str):
            required_files = [required_files]
        for path in required_files:
            if not os.path.exists(path):
                raise DatasetNotFoundError(describe_missing(type(self).__name__, path))

    replace(Dataset, "check_before_run", check_before_run)
