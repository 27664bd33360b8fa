"""tools/export_onnx.py on the demo configs (tiny models): the image encoder (and the caption
encoder where the config has a text path) in ONNX with a dynamic batch axis, equal to PyTorch
within 1e-4 at batch 1 and 7 under onnxruntime; bad input is one error line and exit code 2."""
import os

import numpy as np
import pytest

from tiny_models import DEMO, TINY, TINY_BASELINE, load_tool, save_untrained

ort = pytest.importorskip("onnxruntime", reason="onnxruntime (the deploy extra)")

CASES = {"dmf_stage2_synth": TINY, "mmet_synth": TINY, "baseline_synth": TINY_BASELINE,
         "mmet_synth+flip": [*TINY, "TEST.FLIP.ENABLED", "True"]}  # the flip-averaged embedding


@pytest.fixture(scope="module")
def dmf_weights(tmp_path_factory):
    """A DMF stage II checkpoint, so that one export goes through MODEL.WEIGHTS."""
    return save_untrained(f"{DEMO}/dmf_stage2_synth.yml", TINY, tmp_path_factory.mktemp("dmf"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_demo_config_exports_within_1e4_of_pytorch_at_batch_1_and_7(name, dmf_weights, tmp_path, capsys):
    output = tmp_path / "model.onnx"
    weights = ["MODEL.WEIGHTS", dmf_weights] if name == "dmf_stage2_synth" else []
    config = f"{DEMO}/{name.split('+')[0]}.yml"
    results = load_tool("export_onnx").main(["--config-file", config, "--output", str(output),
                                             *CASES[name], *weights])
    encoders = {"image", "text"} if name != "baseline_synth" else {"image"}
    assert {(enc, batch) for enc, batch, _, _ in results} == {(e, b) for e in encoders for b in (1, 7)}
    for encoder, batch, diff, scale in results:
        assert diff < 1e-4, (encoder, batch, diff)
        assert scale > 0.1  # a real embedding, not a vanishing one that any export would match
    printed = capsys.readouterr().out
    assert "largest absolute difference:" in printed
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (images,) = session.get_inputs()
    assert images.name == "images" and isinstance(images.shape[0], str) and images.shape[1:] == [3, 64, 32]
    if "text" in encoders:
        text = ort.InferenceSession(str(tmp_path / "model_text.onnx"), providers=["CPUExecutionProvider"])
        assert [i.name for i in text.get_inputs()] == ["input_ids", "attention_mask"]
        assert all(isinstance(d, str) for d in text.get_inputs()[0].shape)  # batch and length
    # 3 images at once: one row each, the embedding the evaluator gives (batch 1 and 7 above)
    out = session.run(None, {"images": np.zeros((3, 3, 64, 32), np.float32)})[0]
    assert out.shape[0] == 3


def test_a_difference_above_the_tolerance_exits_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_tool("export_onnx").main(["--config-file", f"{DEMO}/mmet_synth.yml", "--output",
                                       str(tmp_path / "m.onnx"), "--check-batches", "1",
                                       "--tolerance", "1e-12", *TINY])
    assert exit_.value.code == 1
    assert "error: onnxruntime differs from PyTorch by" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--config-file", "configs/Demo/nowhere.yml"], "config file 'configs/Demo/nowhere.yml' does not exist"),
    (["--config-file", f"{DEMO}/mmet_synth.yml", "MODEL.WEIGHTS", "nowhere/model_final.pth"],
     "MODEL.WEIGHTS: checkpoint file 'nowhere/model_final.pth' does not exist"),
])
def test_bad_input_is_one_error_line_and_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_tool("export_onnx").main(["--output", str(tmp_path / "m.onnx"), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "m.onnx")
