"""Fixes to fastreid's multi-process launch: gloo and CPU DDP where there is no GPU."""
import importlib
import warnings

from .patching import replace, rewrites_fastreid


def distributed_worker(local_rank, main_func, world_size, num_gpus_per_machine, machine_rank,
                       dist_url, args):
    """fastreid's worker with the process-group backend chosen by hardware."""
    import torch
    import torch.distributed as dist
    from fastreid.utils import comm

    use_cuda = torch.cuda.is_available()
    global_rank = machine_rank * num_gpus_per_machine + local_rank
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method=dist_url,
                            world_size=world_size, rank=global_rank)
    comm.synchronize()
    if use_cuda:
        assert num_gpus_per_machine <= torch.cuda.device_count(), \
            f"--num-gpus {num_gpus_per_machine} but only {torch.cuda.device_count()} GPUs"
        torch.cuda.set_device(local_rank)
    assert comm._LOCAL_PROCESS_GROUP is None
    num_machines = world_size // num_gpus_per_machine
    for i in range(num_machines):
        ranks_on_i = list(range(i * num_gpus_per_machine, (i + 1) * num_gpus_per_machine))
        group = dist.new_group(ranks_on_i)
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
    main_func(*args)


def distributed_data_parallel(model, device_ids=None, **kwargs):
    """DDP as DefaultTrainer calls it, on CPU too."""
    from torch.nn.parallel import DistributedDataParallel
    if next(model.parameters()).device.type == "cpu":
        device_ids = None  # DDP on CPU (gloo) takes no device ids
    # multimodal batches may leave a path unused (no text in an image-only batch)
    kwargs.setdefault("find_unused_parameters", getattr(model, "may_skip_parameters", False))
    with warnings.catch_warnings():
        # fastreid relies on broadcast_buffers=False (no buffer sync at init); torch>=2.11 calls
        # it deprecated but its replacement does not offer that yet
        warnings.filterwarnings("ignore", message=".*broadcast_buffers", category=FutureWarning)
        return DistributedDataParallel(model, device_ids=device_ids, **kwargs)


@rewrites_fastreid
def launch_on_cpu():
    """DEFECT: fastreid's launch asserts CUDA and hard-codes the NCCL backend, and DefaultTrainer
    passes GPU device_ids to DDP. Multi-process training now uses gloo where there is no GPU."""
    from fastreid.engine import defaults
    launch = importlib.import_module("fastreid.engine.launch")  # the package attribute is the function
    replace(launch, "_distributed_worker", distributed_worker)
    replace(defaults, "DistributedDataParallel", distributed_data_parallel)
