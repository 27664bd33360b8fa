"""Fixes to fastreid's evaluation: the ranking build, re-ranking and flip-test features."""
import functools
import logging

from .patching import replace, rewrites_fastreid

logger = logging.getLogger(__name__)


@rewrites_fastreid
def evaluator_without_compile():
    """DEFECT: ReidEvaluator compiles its Cython ranking with ``make`` inside site-packages at
    every construction and calls ``sys.exit(1)`` when that fails (read-only site-packages, no
    compiler, no Cython). We build it at install time; at run time a missing build falls back to
    fastreid's Python ranking with one log line instead of killing the job."""
    from fastreid.evaluation import rank_cylib, reid_evaluation

    # imported when called, not here: `python -m fastreid_multimodal.build_rank_cylib` must find
    # its module unimported after the package's import (runpy warns otherwise)
    def compile_helper():
        from .. import build_rank_cylib as cylib
        if cylib.build_rank_cylib():
            logger.info("Built fastreid's Cython ranking in %s", cylib.rank_cylib_dir())
            return
        logger.info("fastreid's Cython ranking is not built (run `make install` or "
                    "`python -m fastreid_multimodal.build_rank_cylib`); "
                    "using the slower Python ranking")
        reid_evaluation.ReidEvaluator._compile_attempted = True

    def _compile_dependencies(self):
        from fastreid.utils import comm

        from .. import build_rank_cylib as cylib
        if comm.is_main_process() and not cylib.cython_ranking_available() \
                and not getattr(reid_evaluation.ReidEvaluator, "_compile_attempted", False):
            compile_helper()
        comm.synchronize()

    replace(rank_cylib, "compile_helper", compile_helper)
    replace(reid_evaluation, "compile_helper", compile_helper)
    replace(reid_evaluation.ReidEvaluator, "_compile_dependencies", _compile_dependencies)


def _faiss_gpu_usable():
    import faiss
    import torch
    return torch.cuda.is_available() and hasattr(faiss, "StandardGpuResources") \
        and faiss.get_num_gpus() > 0


def rerank_on_cpu():
    """DEFECT: k-reciprocal re-ranking (TEST.RERANK) hard-wires faiss-GPU search
    (``search_option=0`` + ``features.cuda()``). Without a GPU use faiss' CPU index."""
    from fastreid.utils import compute_dist

    orig = compute_dist.compute_jaccard_distance

    @functools.wraps(orig)
    def compute_jaccard_distance(features, k1=20, k2=6, search_option=0, fp16=False):
        if search_option < 3 and not _faiss_gpu_usable():
            search_option = 3
        return orig(features, k1=k1, k2=k2, search_option=search_option, fp16=fp16)

    replace(compute_dist, "compute_jaccard_distance", compute_jaccard_distance)


@rewrites_fastreid
def flip_test_normalises_once():
    """DEFECT: Baseline.preprocess_image normalises ``batched_inputs['images']`` in place, so with
    TEST.FLIP the flipped copy of the already-normalised batch is normalised a second time."""
    import torch
    from fastreid.modeling.meta_arch.baseline import Baseline

    def preprocess_image(self, batched_inputs):
        if isinstance(batched_inputs, dict):
            images = batched_inputs["images"]
        elif isinstance(batched_inputs, torch.Tensor):
            images = batched_inputs
        else:
            raise TypeError(f"batched_inputs must be dict or torch.Tensor, got {type(batched_inputs)}")
        images = images.to(self.device, non_blocking=True)
        return (images - self.pixel_mean) / self.pixel_std

    replace(Baseline, "preprocess_image", preprocess_image)
