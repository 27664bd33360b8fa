"""``python -m fastreid_multimodal.build_rank_cylib``: compile fastreid's Cython ranking (install step).

fastreid builds it with ``make`` inside site-packages when an evaluator is first made (and exits
when that fails); building it once at install time is what ``compat.evaluation`` relies on.
"""
import importlib
import logging
import os
import subprocess
import sys

logger = logging.getLogger(__name__)


def rank_cylib_dir():
    import fastreid.evaluation
    return os.path.join(os.path.dirname(fastreid.evaluation.__file__), "rank_cylib")


def cython_ranking_available():
    try:
        from fastreid.evaluation.rank_cylib.rank_cy import evaluate_cy  # noqa: F401
        return True
    except ImportError:
        return False


def build_rank_cylib(quiet=True):
    """Compile fastreid's Cython ranking (25x faster than the Python one) in its package folder.

    Needs Cython, numpy headers and a C compiler. Returns True when the compiled module imports
    afterwards."""
    if cython_ranking_available():
        return True
    path = rank_cylib_dir()
    out = subprocess.DEVNULL if quiet else None
    try:
        ret = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=path,
                             stdout=out, stderr=out, check=False)
    except OSError as exc:
        logger.info("Cannot build fastreid's Cython ranking in %s: %s", path, exc)
        return False
    if ret.returncode != 0:
        return False
    importlib.invalidate_caches()
    return cython_ranking_available()


def main():
    ok = build_rank_cylib(quiet=False)
    print("fastreid Cython ranking:", "built" if ok else "NOT built (Python ranking will be used)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
