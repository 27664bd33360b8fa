"""Fixes that must run before fastreid is imported (on every fastreid version): without the first
two, ``import fastreid.data`` fails on torch >= 2 / Python >= 3.10."""
import collections
import collections.abc
import logging
import sys
import types
import warnings


def provide_torch_six():
    """DEFECT: fastreid.data.build does ``from torch._six import string_classes``; torch>=2 removed
    torch._six. Provide the one name fastreid uses."""
    if "torch._six" in sys.modules:
        return
    import torch
    try:  # a torch that still has it
        import torch._six  # noqa: F401
        return
    except ImportError:
        pass
    six = types.ModuleType("torch._six")
    six.string_classes = (str, bytes)
    six.__doc__ = "Shim created by fastreid_multimodal.compat for fastreid 1.4.0 on torch>=2."
    sys.modules["torch._six"] = six
    torch._six = six


def provide_collections_mapping():
    """DEFECT: fastreid.data.build and fastreid.evaluation.testing do ``from collections import
    Mapping``, removed in Python 3.10."""
    if not hasattr(collections, "Mapping"):
        collections.Mapping = collections.abc.Mapping


def silence_import_warnings():
    """CHANGES A BEHAVIOUR: ``import fastreid_multimodal`` is silent. fastreid's rank.py warns at
    import when Cython ranking is missing (compat.evaluation logs that once, with the fix), and
    Market1501 warns about its folder layout on every construction."""
    warnings.filterwarnings("ignore", message="Cython rank evaluation", module="fastreid")
    warnings.filterwarnings("ignore", message="The current data structure is deprecated")
    # fastreid's collect_env imports torch.utils.cpp_extension, which warns on CPU-only machines
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    # torch.utils.tensorboard pulls in a deprecated pkg_resources API on some setuptools versions.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
