"""Fixes to fastreid's multi-process launch: gloo and CPU DDP where there is no GPU."""
import importlib

from .patching import replace, rewrites_fastreid


def distributed_worker(local_rank, main_func, world_size, num_gpus_per_machine, machine_rank,
                       dist_url, args):
    """fastreid's worker with the process-group backend chosen by hardware."""
    import torch
    import torch.distributed as dist
    from fastreid.utils import comm

    use_cuda = torch.cuda.is_available()
    global_rank = machine_rank * num_gpus_per_machine + local_rank
    if use_cuda:  # before the first collective: NCCL's barrier runs on the current device
        assert num_gpus_per_machine <= torch.cuda.device_count(), \
            f"--num-gpus {num_gpus_per_machine} but only {torch.cuda.device_count()} GPUs"
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method=dist_url,
                            world_size=world_size, rank=global_rank)
    comm.synchronize()
    assert comm._LOCAL_PROCESS_GROUP is None
    num_machines = world_size // num_gpus_per_machine
    for i in range(num_machines):
        ranks_on_i = list(range(i * num_gpus_per_machine, (i + 1) * num_gpus_per_machine))
        group = dist.new_group(ranks_on_i)
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
    main_func(*args)


def distributed_data_parallel(model, device_ids=None, **kwargs):
    """DDP as DefaultTrainer calls it, on CPU too, with every rank's buffers rank 0's."""
    from torch.nn.parallel import DistributedDataParallel
    if next(model.parameters()).device.type == "cpu":
        device_ids = None  # DDP on CPU (gloo) takes no device ids
    # multimodal batches may leave a path unused (no text in an image-only batch)
    kwargs.setdefault("find_unused_parameters", getattr(model, "may_skip_parameters", False))
    # fastreid passes broadcast_buffers=False: each rank's BatchNorm running statistics follow
    # its own batches, so ranks evaluate (and rank 0 saves) different models. DDP's default, in
    # every torch version, syncs rank 0's buffers at init and before every forward (a few kB).
    kwargs.pop("broadcast_buffers", None)
    return DistributedDataParallel(model, device_ids=device_ids, **kwargs)


@rewrites_fastreid
def launch_on_cpu():
    """DEFECT: fastreid's launch asserts CUDA and hard-codes the NCCL backend, runs its first
    barrier before choosing the process's GPU, and DefaultTrainer passes GPU device_ids to DDP
    with broadcast_buffers=False (ranks keep different BatchNorm statistics). Multi-process
    training now uses gloo where there is no GPU, sets the device first and syncs buffers."""
    from fastreid.engine import defaults
    launch = importlib.import_module("fastreid.engine.launch")  # the package attribute is the function
    replace(launch, "_distributed_worker", distributed_worker)
    replace(defaults, "DistributedDataParallel", distributed_data_parallel)
