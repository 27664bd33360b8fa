"""Tiny demo models for the deploy tests: the demo configs with tiny-model overrides, untrained
checkpoints of them, and tools/ scripts run in this process."""
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "configs", "Demo")
TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "2",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "MODEL.TEXT.MAX_LENGTH", "32", "DATASETS.SYNTH.NUM_IDS", "8", "DATASETS.SYNTH.TEST_IDS", "4",
        "DATASETS.SYNTH.IMAGES_PER_ID", "4", "DATASETS.SYNTH.SIZE", "[64, 32]",
        "TEST.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0"]
TINY_BASELINE = ["INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]"]  # MobileNetV2 as is


def load_tool(name):
    """tools/<name>.py as a module (its main(argv) runs the CLI in this process)."""
    spec = importlib.util.spec_from_file_location(f"tool_{name}", os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_untrained(config, opts, folder, name="model_final"):
    """An untrained model of ``config`` (8 classes, seed 0) saved as FastReID saves one."""
    import torch
    from fastreid.utils.checkpoint import Checkpointer

    from fastreid_multimodal.engine import MultimodalTrainer, load_config
    torch.manual_seed(0)
    cfg = load_config(config, [*opts, "MODEL.HEADS.NUM_CLASSES", "8", "MODEL.BACKBONE.PRETRAIN", "False",
                               "MODEL.DEVICE", "cpu"])
    Checkpointer(MultimodalTrainer.build_model(cfg), save_dir=str(folder)).save(name)
    return os.path.join(str(folder), name + ".pth")
