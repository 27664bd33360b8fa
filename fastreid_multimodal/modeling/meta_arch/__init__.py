from . import dmf  # noqa: F401  (registers DMF)
