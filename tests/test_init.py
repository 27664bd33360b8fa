"""Importing the package registers its config keys in FastReID's own defaults."""
from fastreid_multimodal.engine import load_config


def test_fastreid_get_cfg_knows_the_project_keys():
    from fastreid.config import get_cfg
    cfg = get_cfg()  # FastReID's own script: no add_multimodal_config call
    assert cfg.MODEL.VIT.EMBED_DIM == 768 and cfg.MODEL.TEXT.TRANSLATOR == ""
    cfg.merge_from_list(["MODEL.DMF.MODALITIES", "image", "TEST.EVALUATOR", "fastreid"])
    again = load_config(opts=["MODEL.VIT.DEPTH", "2"])  # explicit use still works
    assert again.MODEL.VIT.DEPTH == 2
