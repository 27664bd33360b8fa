"""fastreid-multimodal: text for FastReID person re-identification (DMF, MMET).

Importing the package patches fastreid 1.4.0 for modern torch (see ``compat``), registers every
dataset, backbone, head, meta-architecture and loss it provides, and adds its config keys to
FastReID's defaults, so ``fastreid.config.get_cfg()`` knows them in any FastReID script. Import it
before anything from fastreid: fastreid 1.4.0's own imports fail on Python >= 3.10 without it.
"""
from . import compat

compat.apply()

from . import data, modeling  # noqa: E402,F401  (registers datasets, models, losses)
from .config import add_multimodal_config  # noqa: E402,F401
from .errors import report_user_errors_in_any_script  # noqa: E402


def _register_config_keys():
    from fastreid.config import defaults
    if not hasattr(defaults._C, "MODEL") or not hasattr(defaults._C.MODEL, "VIT"):
        add_multimodal_config(defaults._C)


_register_config_keys()
report_user_errors_in_any_script()  # FastReID's own train_net.py gets one error line too

__version__ = "0.1.0"


def __getattr__(name):
    """``fastreid_multimodal.Embedder``, imported on first use: it pulls in the engine."""
    if name == "Embedder":
        from .deploy import Embedder
        return Embedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
