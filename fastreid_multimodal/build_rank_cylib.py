"""``python -m fastreid_multimodal.build_rank_cylib``: compile fastreid's Cython ranking (install step)."""
import sys

from .compat import build_rank_cylib


def main():
    ok = build_rank_cylib(quiet=False)
    print("fastreid Cython ranking:", "built" if ok else "NOT built (Python ranking will be used)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
