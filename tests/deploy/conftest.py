"""A tiny SynthPerson root for the deploy tests (helpers: tiny_models.py)."""
import os

import pytest


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    """FASTREID_DATASETS pointing at an empty folder (SynthPerson renders into it on first use)."""
    root = tmp_path_factory.mktemp("datasets")
    old = os.environ.get("FASTREID_DATASETS")
    os.environ["FASTREID_DATASETS"] = str(root)
    yield str(root)
    if old is None:
        os.environ.pop("FASTREID_DATASETS", None)
    else:
        os.environ["FASTREID_DATASETS"] = old
