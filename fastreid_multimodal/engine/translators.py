"""Which pre-trained translators a checkpoint was trained with: written into every checkpoint,
checked whenever one is loaded (--resume, MODEL.WEIGHTS for stage II, --eval-only). A model
evaluated or fine-tuned behind another translator than it learned with reads other features."""
from ..errors import ConfigError

KEYS = {"image": "MODEL.IMAGE.TRANSLATOR", "text": "MODEL.TEXT.TRANSLATOR"}
IMAGE_TRANSLATOR_TENSORS = "backbone.patch_embed.network."
UNRECORDED = "<a pre-trained image translator, name not recorded>"


def translators_of(cfg):
    """{"image": name, "text": name} of a config ("" = none: patch embedding / learned words)."""
    return {"image": str(cfg.MODEL.IMAGE.TRANSLATOR), "text": str(cfg.MODEL.TEXT.TRANSLATOR)}


def translators_in_checkpoint(checkpoint):
    """The record of a checkpoint; one written before records existed says what its tensors show
    (an image translator or not; its text translator is unknown)."""
    record = checkpoint.get("translators") if isinstance(checkpoint, dict) else None
    if isinstance(record, dict):
        return {k: str(record.get(k, "")) for k in KEYS}
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else {}
    names = [k[len("module."):] if k.startswith("module.") else k for k in state]
    image = any(n.startswith(IMAGE_TRANSLATOR_TENSORS) for n in names)
    return {"image": UNRECORDED if image else ""}


def describe(name):
    return f"'{name}'" if name else "'' (none)"


def check_same_translators(cfg, checkpoint, path):
    """One error naming both translators when the checkpoint's differ from the config's."""
    stored, own = translators_in_checkpoint(checkpoint), translators_of(cfg)
    for modality, name in stored.items():
        if name == UNRECORDED and own[modality]:
            continue  # an older checkpoint with some translator: only its presence can be checked
        if name != own[modality]:
            raise ConfigError(f"{path} was trained with {modality} translator {describe(name)}, but "
                              f"{KEYS[modality]} is {describe(own[modality])}: set {KEYS[modality]} "
                              f"to the checkpoint's translator (its features mean something else "
                              f"behind another one)")


class TranslatorRecord:
    """A FastReID checkpointable: saves the run's translators, refuses to resume from others."""

    def __init__(self, cfg, path_of_checkpoint=lambda: "the checkpoint"):
        self.cfg = cfg
        self.path_of_checkpoint = path_of_checkpoint

    def state_dict(self):
        return translators_of(self.cfg)

    def load_state_dict(self, record):
        check_same_translators(self.cfg, {"translators": record}, self.path_of_checkpoint())
