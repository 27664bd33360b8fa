"""SOLVER.COMPILE: the transformer blocks compiled in place, the same step, the same checkpoint."""
import pytest
import torch
from fastreid.utils.events import EventStorage

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal.engine import load_config
from fastreid_multimodal.engine.compilation import compile_blocks, transformer_blocks
from fastreid_multimodal.engine.trainer import MultimodalTrainer
from fastreid_multimodal.errors import ConfigError

TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]",
        "MODEL.IMAGE.TRANSLATOR", "", "MODEL.TEXT.TRANSLATOR", "", "MODEL.HEADS.NUM_CLASSES", "2",
        "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DROP_PATH_RATIO", "0.0"]


def build(*extra):
    torch.manual_seed(0)
    return MultimodalTrainer.build_model(load_config("configs/Demo/Base-DMF-tiny.yml", TINY + list(extra)))


def step(model):
    torch.manual_seed(1)
    ids = torch.randint(1000, 2000, (2, 6))
    batch = {"modality": torch.tensor([0, 1, 0, 1]), "targets": torch.tensor([0, 0, 1, 1]),
             "images": torch.rand(2, 3, 32, 16) * 255, "text_ids": ids,
             "text_mask": torch.ones_like(ids, dtype=torch.bool)}
    with EventStorage(0):
        losses = model.train()(batch)
    sum(losses.values()).backward()
    return {k: v.item() for k, v in losses.items()}, [p.grad.clone() for p in model.parameters()
                                                      if p.grad is not None]


def test_compiled_blocks_train_as_the_eager_ones_and_keep_their_names():
    eager = build()
    compiled = build("SOLVER.COMPILE.MODE", "default", "SOLVER.COMPILE.BACKEND", "eager")
    blocks = transformer_blocks(compiled)
    assert len(blocks) == 2 and all(b._compiled_call_impl is not None for b in blocks)
    assert all(b._compiled_call_impl is None for b in transformer_blocks(eager))
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints load either way
    (eager_losses, eager_grads), (losses, grads) = step(eager), step(compiled)
    assert losses == pytest.approx(eager_losses, rel=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads, eager_grads))


def test_a_bad_compile_mode_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match="SOLVER.COMPILE.MODE must be one of"):
        compile_blocks(torch.nn.Linear(2, 2), "fastest")
    assert compile_blocks(torch.nn.Linear(2, 2), "") == 0
