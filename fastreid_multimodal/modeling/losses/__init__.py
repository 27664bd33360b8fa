from .build import LOSS_REGISTRY, build_losses  # noqa: F401
from . import cross_entropy, triplet  # noqa: F401,E402  (register)
