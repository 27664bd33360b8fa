"""tools/probe_itm.py: bad input is one error line, exit 2."""
import pytest

from tiny_checkpoint import CONFIG, TINY, load_tool, tiny_run  # noqa: F401


def test_missing_weights_and_a_non_mmet_model_are_clear_errors(tiny_run, tmp_path, capsys):
    weights, _ = tiny_run
    tool = load_tool("probe_itm")
    with pytest.raises(SystemExit) as exit_:
        tool.main(["--config-file", CONFIG, "--weights", str(tmp_path / "no.pth"), *TINY])
    assert exit_.value.code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        tool.main(["--config-file", CONFIG, "--weights", weights, *TINY])
    assert exit_.value.code == 2 and "needs an MMET model" in capsys.readouterr().err
