"""Importing the package registers its config keys in FastReID's own defaults."""
from fastreid_multimodal.engine import load_config


def test_fastreid_get_cfg_knows_the_project_keys():
    from fastreid.config import get_cfg
    cfg = get_cfg()  # FastReID's own script: no add_multimodal_config call
    assert cfg.MODEL.VIT.EMBED_DIM == 768 and cfg.MODEL.TEXT.TRANSLATOR == ""
    cfg.merge_from_list(["MODEL.DMF.MODALITIES", "image", "TEST.EVALUATOR", "fastreid"])
    again = load_config(opts=["MODEL.VIT.DEPTH", "2"])  # explicit use still works
    assert again.MODEL.VIT.DEPTH == 2


def test_import_after_fastreid_modules_that_import_alone():
    """fastreid.config / modeling / utils import without the package, so the import may follow
    them; fastreid.engine / data do not (fastreid's own ImportError, before any line of ours)."""
    import subprocess
    import sys
    late = subprocess.run([sys.executable, "-c", (
        "from fastreid.config import get_cfg\n"
        "from fastreid.modeling import build_model\n"
        "from fastreid.utils.checkpoint import Checkpointer\n"
        "import fastreid_multimodal\n"
        "from fastreid.engine import DefaultTrainer\n"
        "from fastreid_multimodal.utils.safe_load import load_weights\n"
        "assert get_cfg().MODEL.VIT.DEPTH == 12\n"
        "assert Checkpointer._load_file.__module__.startswith('fastreid_multimodal')\n")],
        capture_output=True, text=True, timeout=300)
    assert late.returncode == 0, late.stderr
    too_late = subprocess.run([sys.executable, "-c", "import fastreid.engine; import fastreid_multimodal"],
                              capture_output=True, text=True, timeout=300)
    assert too_late.returncode != 0 and "Mapping" in too_late.stderr  # README: import it first


def test_uncaught_user_error_in_any_script_is_one_error_line(tmp_path):
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-c", (
        "import fastreid_multimodal\n"
        "from fastreid_multimodal.errors import ConfigError\n"
        "raise ConfigError('MODEL.X: bad')\n")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr == "error: MODEL.X: bad\n", run.stderr
    other = subprocess.run([sys.executable, "-c", "import fastreid_multimodal\nraise ValueError('x')"],
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 1 and "Traceback" in other.stderr  # bugs keep their traceback
    prompt = subprocess.run([sys.executable, "-i"], input=(
        "import fastreid_multimodal\nfrom fastreid_multimodal.errors import ConfigError\n"
        "raise ConfigError('x')\nprint('still here')\n"), capture_output=True, text=True, timeout=300)
    assert "still here" in prompt.stdout + prompt.stderr  # an interactive session is not ended
