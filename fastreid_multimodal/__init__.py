"""fastreid-multimodal: text for FastReID person re-identification (DMF, MMET).

Importing the package patches fastreid 1.4.0 for modern torch (see ``compat``) and registers
every dataset, backbone, head, meta-architecture and loss it provides.
"""
from . import compat

compat.apply()

from . import data, modeling  # noqa: E402,F401  (registers datasets, models, losses)
from .config import add_multimodal_config  # noqa: E402,F401

__version__ = "0.1.0"
