"""Checkpoints and weight files are data, never code: every file the project reads goes through
``load_weights`` (torch.load with weights_only=True).

FastReID checkpoints may hold numpy scalars/arrays (e.g. a saved iteration counter); those load
through an explicit allow-list of numpy's array-rebuilding globals and nothing else. A file that
needs any other global is refused with an error naming it and the global. A file you trust (it
can run code when loaded) is opted in by listing its path in the environment variable
FASTREID_TRUSTED_CHECKPOINTS (os.pathsep-separated).
"""
import os
import pickle
import re

import numpy as np
import torch

from ..errors import UserError

TRUST_VARIABLE = "FASTREID_TRUSTED_CHECKPOINTS"
# torch names the global as "GLOBAL posix.system" (a blocked module) or "Unsupported global: GLOBAL
# fractions.Fraction" (a class not allowed): the word before the name is the upper-case one
GLOBAL_RE = re.compile(r"\bGLOBAL\s+([\w.]+)")


class UnsafeCheckpointError(UserError):
    """A weight file that is not plain data (or not a weight file at all)."""


def _numpy_globals():
    """The numpy globals a pickled array or scalar needs, for numpy 1.x and 2.x."""
    names = []
    core = getattr(np, "_core", None) or np.core
    names.append(core.multiarray._reconstruct)
    names.append(core.multiarray.scalar)
    names += [np.ndarray, np.dtype]
    names += [type(np.dtype(t)) for t in ("float16", "float32", "float64", "int8", "int16",
                                          "int32", "int64", "uint8", "bool", "uint16", "uint32",
                                          "uint64", "complex64", "complex128")]
    return names


def trusted(path):
    listed = [p for p in os.environ.get(TRUST_VARIABLE, "").split(os.pathsep) if p]
    return any(os.path.abspath(p) == os.path.abspath(path) for p in listed)


def load_weights(path, key="checkpoint"):
    """torch.load(path) as data only; numpy arrays/scalars allowed, anything else refused."""
    if trusted(path):
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = GLOBAL_RE.search(str(exc))
        if found:
            offending = found.group(1)
            raise UnsafeCheckpointError(
                f"{key}: '{path}' needs the Python global {offending} to load, i.e. it can run "
                f"code; refused (only tensors and numpy arrays are loaded). If you trust this "
                f"file, list it in {TRUST_VARIABLE}={path}") from None
        raise UnsafeCheckpointError(f"{key}: '{path}' is not a readable weight file "
                                    f"({_first_line(exc)})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UnsafeCheckpointError(f"{key}: '{path}' is not a readable weight file, e.g. "
                                    f"truncated by an interrupted save ({_first_line(exc)})") from None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
