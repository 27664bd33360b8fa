"""fastreid's Cython ranking is compiled at install time."""
from fastreid_multimodal import build_rank_cylib


def test_cython_ranking_built_at_install():
    assert build_rank_cylib.cython_ranking_available(), "make install should build fastreid's rank_cy"
