"""A tiny untrained DMF checkpoint and a tiny SynthPerson for the tools' tests (visualize, search),
and a way to run a tools/ script in this process."""
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "Demo", "dmf_stage1_synth.yml")
TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.MAX_LENGTH", "64", "DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "4", "DATASETS.SYNTH.SIZE", "[64, 32]",
        "TEST.IMS_PER_BATCH", "32", "DATALOADER.NUM_WORKERS", "0"]


def load_tool(name):
    """tools/<name>.py as a module (its main(argv) runs the CLI in this process)."""
    spec = importlib.util.spec_from_file_location(f"tool_{name}", os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(weights path, datasets root): an untrained tiny DMF (8 classes) and its data root."""
    import torch
    from fastreid.utils.checkpoint import Checkpointer

    from fastreid_multimodal.engine import MultimodalTrainer, load_config
    root = tmp_path_factory.mktemp("vis")
    data = root / "datasets"
    data.mkdir()
    old = os.environ.get("FASTREID_DATASETS")
    os.environ["FASTREID_DATASETS"] = str(data)
    torch.manual_seed(0)
    cfg = load_config(CONFIG, TINY + ["MODEL.HEADS.NUM_CLASSES", "8", "MODEL.BACKBONE.PRETRAIN",
                                      "False", "OUTPUT_DIR", str(root / "out")])
    model = MultimodalTrainer.build_model(cfg)
    Checkpointer(model, save_dir=str(root)).save("model_final")
    yield str(root / "model_final.pth"), str(data)
    if old is None:
        os.environ.pop("FASTREID_DATASETS", None)
    else:
        os.environ["FASTREID_DATASETS"] = old
