"""The model behind DistributedDataParallel; running statistics a pass must not move."""
import contextlib

from torch import nn


def unwrap(model):
    return model.module if hasattr(model, "module") else model


@contextlib.contextmanager
def running_statistics_kept(module):
    """Inside, ``module``'s BatchNorm layers in training mode normalise with the batch's statistics
    but do not update their running ones (nor their batch counters): a pass over inputs the model
    is never tested on (masked images) must not shape the statistics test images are normalised
    with. (Layers in eval mode, e.g. a frozen translator's, use their running statistics as ever.)
    Nothing is written back afterwards, so autograd's saved tensors stay valid."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and m.training and m.track_running_stats]
    for m in layers:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in layers:
            m.track_running_stats = True
