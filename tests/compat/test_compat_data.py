"""fastreid's data loading: each defect reproduced with fastreid's original code, then fixed."""
import numpy as np
import pytest
import torch
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat
from fastreid_multimodal.engine import load_config


class _Tiny(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"images": torch.full((3, 4, 2), float(i)), "targets": i}


def test_dataloaderx_runs_on_cpu(no_cuda):
    from fastreid.data.build import fast_batch_collator
    from fastreid.data.data_utils import DataLoaderX
    with compat.unpatched(DataLoaderX, "__init__"), pytest.raises(Exception):
        DataLoaderX(0, dataset=_Tiny(), batch_size=2, collate_fn=fast_batch_collator)
    loader = DataLoaderX(0, dataset=_Tiny(), batch_size=2, collate_fn=fast_batch_collator)
    batches = list(loader)
    assert [b["targets"].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5]]
    assert batches[0]["images"].device.type == "cpu"


def test_prefetch_thread_error_reaches_the_consumer():
    from fastreid.data.data_utils import BackgroundGenerator

    def failing():
        yield 1
        raise OSError("image file is truncated")

    stream = BackgroundGenerator(failing(), local_rank=0)
    assert next(stream) == 1
    with pytest.raises(OSError, match="truncated"):
        next(stream)  # fastreid's own thread dies here and next() waits forever


def test_random_affine_config_builds():
    import torchvision.transforms as T
    from fastreid.data.transforms import build
    cfg = load_config(opts=["INPUT.AFFINE.ENABLED", "True"])
    with compat.unpatched(build, "T"):
        build.T = T
        with pytest.raises(TypeError):
            build.build_transforms(cfg, is_train=True)
    transform = build.build_transforms(cfg, is_train=True)
    out = transform(Image.new("RGB", (64, 128), (100, 50, 25)))
    assert out.shape == (3, 256, 128)


def test_to_tensor_numpy2_and_no_typed_storage_warning():
    import warnings
    from fastreid.data.transforms import functional
    mask = Image.fromarray(np.eye(3, 4, dtype=bool))  # mode "1": needs a copy to become uint8
    with pytest.raises(ValueError, match="copy"):
        compat.original(functional, "to_tensor")(mask)
    out = functional.to_tensor(mask)
    assert out.shape == (1, 3, 4) and out[0, 2, 2] == 255 and out[0, 0, 1] == 0
    rgb = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = functional.to_tensor(rgb)
    assert t.dtype == torch.float32 and t[:, 1, 3].tolist() == [21.0, 22.0, 23.0]


def test_missing_dataset_message_names_layout(tmp_path, monkeypatch):
    from fastreid.data.datasets import DATASET_REGISTRY
    from fastreid.data.datasets.bases import Dataset
    from fastreid_multimodal.errors import DatasetNotFoundError
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    market = DATASET_REGISTRY.get("Market1501")
    with compat.unpatched(Dataset, "check_before_run"), pytest.raises(RuntimeError) as bare:
        market(root=str(tmp_path))
    assert "FASTREID_DATASETS" not in str(bare.value)
    with pytest.raises(DatasetNotFoundError) as exc:
        market(root=str(tmp_path))
    message = str(exc.value)
    assert "Market1501" in message and "bounding_box_train" in message
    assert str(tmp_path) in message and "make demo" in message
