"""The one place that patches fastreid 1.4.0 (and its view of torch/numpy) for modern versions.

fastreid 1.4.0 was written for torch 1.13 / numpy 1.x / CUDA-only training. Each fix's docstring
says whether it repairs a DEFECT (fastreid fails, hangs or is silently wrong) or CHANGES A
BEHAVIOUR, and ``tests/compat/`` reproduces it with fastreid's original code (``original``,
``unpatched``) and shows the fix. ``apply()`` runs on ``import fastreid_multimodal``.
"""
import logging
import warnings
from importlib import metadata

from . import checkpoint, data, distributed, evaluation, imports, losses, training
from .patching import original, unpatched  # noqa: F401  (the tests' view of the originals)

logger = logging.getLogger(__name__)

# the rewrites of fastreid code (patching.rewrites_fastreid) were checked against this version
FASTREID_VERSION = "1.4.0"

# before fastreid is imported, whatever its version: without them it does not import
IMPORT_DEFECTS = [imports.provide_torch_six, imports.provide_collections_mapping]
IMPORT_BEHAVIOURS = [imports.silence_import_warnings]

DEFECTS = [
    data.dataloader_on_cpu,
    data.random_affine_keywords,
    data.to_tensor_on_numpy2,
    data.dataset_not_found_message,
    training.optimizer_without_contiguous_buffers,
    training.amp_on_cpu,
    training.cosine_spans_an_epoch,
    training.finished_run_has_an_epoch,
    training.prefetch_thread_stops_after_training,
    training.checkpointer_without_tests,
    training.default_device_falls_back_to_cpu,
    training.metrics_read_back_once,
    losses.losses_without_host_reads,
    distributed.launch_on_cpu,
    evaluation.evaluator_without_compile,
    evaluation.rerank_on_cpu,
    evaluation.flip_test_normalises_once,
    checkpoint.atomic_and_data_only_checkpoints,
    checkpoint.mobilenetv2_pretrained_weights,
]

BEHAVIOURS = [
    training.resume_of_finished_run_evaluates,
    training.eval_period_zero_evaluates_at_the_end,
    training.default_setup_seeds_from_config,
]

_applied = False


def installed_fastreid_version():
    # fastreid 1.4.0's own __version__ says "1.3"; the package metadata is right
    try:
        return metadata.version("fastreid")
    except metadata.PackageNotFoundError:
        return "of unknown version"


def applicable_fixes(version):
    """The fixes for fastreid ``version``, in order. Behaviour changes go in first so that the
    defect fixes wrap them (the prefetch thread stops after a resumed finished run too). On another
    version than FASTREID_VERSION the rewrites of fastreid code are left out, with a warning."""
    fixes = BEHAVIOURS + DEFECTS
    if version == FASTREID_VERSION:
        return fixes
    logger.warning("fastreid %s is installed, fastreid_multimodal was written for fastreid %s: its "
                   "rewrites of fastreid methods are not applied", version, FASTREID_VERSION)
    return [fix for fix in fixes if not getattr(fix, "rewrites_fastreid", False)]


def apply():
    """Apply the fixes once (later calls do nothing): the import-level ones, then fastreid's."""
    global _applied
    if _applied:
        return
    _applied = True
    for fix in IMPORT_DEFECTS + IMPORT_BEHAVIOURS:
        fix()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import fastreid.data  # noqa: F401  (imports most of fastreid)
        import fastreid.engine  # noqa: F401
        import fastreid.evaluation  # noqa: F401
    for fix in applicable_fixes(installed_fastreid_version()):
        fix()
