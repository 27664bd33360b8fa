"""What a training sample holds. FastReID's (item, pid, camid) tuples keep their shape; ``item`` is
an image path, a ``Caption`` (a text sample) or a ``Pair`` (MMET: an image with its caption), and a
collated batch says which one each sample is in ``batch["modality"]``."""
from dataclasses import dataclass
from enum import IntEnum


class Modality(IntEnum):
    """Values of ``batch["modality"]`` (an int tensor, one entry per sample, in sampler order)."""
    IMAGE = 0
    TEXT = 1
    PAIR = 2  # MMET: an image and its caption, one sample


IMAGE, TEXT, PAIR = Modality.IMAGE, Modality.TEXT, Modality.PAIR


@dataclass(frozen=True)
class Caption:
    """A text sample: what FastReID's (item, pid, camid) tuples hold in place of an image path."""
    text: str
    image: str = ""  # the image it describes ("" when unpaired)


@dataclass(frozen=True)
class Pair(Caption):
    """An image (``image``, its path) with its caption (``text``): one paired sample."""
