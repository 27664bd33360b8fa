from . import dmf  # noqa: F401  (registers DMF)
from . import mmet  # noqa: F401  (registers MMET)
