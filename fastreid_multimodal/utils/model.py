"""The model behind DistributedDataParallel; running statistics a pass must not move."""
import contextlib

from torch import nn


def unwrap(model):
    return model.module if hasattr(model, "module") else model


@contextlib.contextmanager
def running_statistics_kept(module):
    """Inside, ``module``'s BatchNorm layers normalise with the batch as in training, but their
    running statistics (and batch counters) are put back afterwards: a pass over inputs the model
    is never tested on (masked images) must not shape the statistics test images are normalised
    with."""
    layers = [m for m in module.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in layers]
    try:
        yield
    finally:
        for m, (mean, var, count) in zip(layers, saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)
