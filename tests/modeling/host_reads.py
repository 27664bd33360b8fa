"""Counts the operations of a block of torch code that read a device tensor back to the host
(a synchronisation on a GPU: .item() / bool(), nonzero, unique, boolean-mask indexing), with the
file and line of the caller in ``files``. On a CPU they read nothing back, but they are the same
operations, so a CPU test sees where a GPU step would wait (``where``: by caller)."""
import collections
import traceback

import torch
from torch.utils._python_dispatch import TorchDispatchMode

READS = {"aten::nonzero", "aten::_local_scalar_dense", "aten::masked_select", "aten::unique_dim",
         "aten::_unique2", "aten::unique_consecutive", "aten::is_nonzero", "aten::equal"}
MASK_INDEXING = {"aten::index", "aten::index_put", "aten::index_put_"}


class HostReads(TorchDispatchMode):
    """``where``: {"file.py:line op": count} of the innermost caller in fastreid or this package."""

    def __init__(self):
        super().__init__()
        self.where = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name in READS or (name in MASK_INDEXING and any(
                t is not None and t.dtype == torch.bool for t in args[1])):
            callers = [f for f in traceback.extract_stack()
                       if "/fastreid" in f.filename and "host_reads" not in f.filename]
            if callers:
                caller = callers[-1]
                self.where[f"{'/'.join(caller.filename.split('/')[-3:])}:{caller.lineno} {name}"] += 1
        return func(*args, **(kwargs or {}))
