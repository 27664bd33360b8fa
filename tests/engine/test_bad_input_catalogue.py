"""The bad-input catalogue: every case ends tools/train_net.py with exit code 2, one `error:` line
naming the file or key and what was expected, and no traceback on stdout or stderr. Cases that are
skipped and counted instead (bad files among good ones) assert the count in the log."""
import logging
import os

import pytest
import torch
from PIL import Image

DEMO1 = "configs/Demo/dmf_stage1_synth.yml"
DEMO2 = "configs/Demo/dmf_stage2_synth.yml"
MMET = "configs/Demo/mmet_synth.yml"
TINY = ["MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
        "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "1"]
MARKET = ["DATASETS.NAMES", "('Market1501',)", "DATASETS.TESTS", "('Market1501',)"]
FINEGPR = ["DATASETS.NAMES", "('FineGPRCaption',)", "DATASETS.TESTS", "()"]


def write_finegpr(root, names=None, captions=None):
    """A FineGPR folder; returns its path. ``names``: image files; ``captions``: captions.txt text."""
    folder = os.path.join(root, "FineGPR")
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    if names is None:
        names = [f"{pid:04d}_c{c:02d}_w01_l01_p01.jpg" for pid in range(6) for c in range(1, 5)]
    for name in names:
        Image.new("RGB", (32, 64), (20 * len(name) % 255, 90, 40)).save(
            os.path.join(folder, "images", name), quality=90)
    if captions is None:
        captions = "".join(f"ImageName:{n}, the caption is: a man in a red top.\n" for n in names)
    with open(os.path.join(folder, "captions.txt"), "wb") as f:
        f.write(captions if isinstance(captions, bytes) else captions.encode())
    return folder


def vocab(tmp, tokens):
    path = os.path.join(tmp, "vocab.txt")
    with open(path, "w") as f:
        f.write("\n".join(tokens))
    return path


def checkpoint(tmp, kind):
    path = os.path.join(tmp, f"{kind}.pth")
    if kind == "truncated":
        torch.save({"model": {"w": torch.zeros(4096)}}, path)
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
    elif kind == "resnet":
        torch.save({"model": {f"backbone.layer{i}.weight": torch.zeros(2) for i in range(40)}}, path)
    return path


def case(tmp, market, name):
    """(train_net arguments, environment, texts the error must contain) of one case."""
    env = {"FASTREID_DATASETS": market}
    base = ["--config-file", DEMO2, *TINY, *MARKET, "OUTPUT_DIR", os.path.join(tmp, "out")]
    if name == "no config file":
        return [], env, ["--config-file is required"]
    if name == "missing config file":
        return ["--config-file", "configs/nope.yml"], env, ["configs/nope.yml", "does not exist"]
    if name == "unknown key in yaml":
        path = os.path.join(tmp, "bad.yml")
        open(path, "w").write(f"_BASE_: {os.path.abspath(DEMO2)}\nSOLVER:\n  BASE_LRR: 0.1\n")
        return ["--config-file", path], env, [path, "SOLVER.BASE_LRR", "SOLVER.BASE_LR"]
    if name == "unknown key on the command line":
        return base + ["MODEL.VIT.DEPHT", "2"], env, ["MODEL.VIT.DEPHT", "MODEL.VIT.DEPTH"]
    if name == "word for an int":
        return base + ["SOLVER.MAX_EPOCH", "ten"], env, ["SOLVER.MAX_EPOCH"]
    if name == "word for an int in yaml":
        path = os.path.join(tmp, "word.yml")
        open(path, "w").write(f"_BASE_: {os.path.abspath(DEMO2)}\nSOLVER:\n  MAX_EPOCH: ten\n")
        return ["--config-file", path], env, [path, "SOLVER.MAX_EPOCH"]
    if name == "float for an int in yaml":
        path = os.path.join(tmp, "float.yml")
        open(path, "w").write(f"_BASE_: {os.path.abspath(DEMO2)}\nSOLVER:\n  MAX_EPOCH: 1.5\n")
        return ["--config-file", path], env, [path, "SOLVER.MAX_EPOCH"]
    if name == "missing MODEL.WEIGHTS":
        return base + ["MODEL.WEIGHTS", os.path.join(tmp, "no.pth")], env, ["MODEL.WEIGHTS", "no.pth"]
    if name == "missing PRETRAIN_PATH":
        return base + ["MODEL.BACKBONE.PRETRAIN", "True", "MODEL.BACKBONE.PRETRAIN_PATH",
                       os.path.join(tmp, "vit.pth")], env, ["MODEL.BACKBONE.PRETRAIN_PATH", "vit.pth"]
    if name == "stock ResNet PRETRAIN without a path":
        return ["--config-file", "configs/Base-Baseline.yml", "MODEL.BACKBONE.PRETRAIN", "True",
                "MODEL.BACKBONE.PRETRAIN_PATH", ""], env, ["MODEL.BACKBONE.PRETRAIN_PATH", "empty"]
    if name == "translator folder missing":
        return base + ["MODEL.TEXT.TRANSLATOR", os.path.join(tmp, "minilm")], env, [
            "MODEL.TEXT.TRANSLATOR", "minilm", "does not exist"]
    if name == "translator id not cached offline":
        return base + ["MODEL.TEXT.TRANSLATOR", "facebook/data2vec-text-base"], {
            **env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": os.path.join(tmp, "hub")}, [
            "facebook/data2vec-text-base", "huggingface-cli download"]
    if name == "tokenizer missing":
        return base + ["MODEL.TEXT.TOKENIZER", os.path.join(tmp, "vocab.txt")], env, [
            "MODEL.TEXT.TOKENIZER", "vocab.txt"]
    if name == "two-token vocabulary":
        return base + ["MODEL.TEXT.TRANSLATOR", "", "MODEL.TEXT.TOKENIZER",
                       vocab(tmp, ["[PAD]", "[UNK]"])], env, ["MODEL.TEXT.TOKENIZER", "2 tokens"]
    if name == "MODALITIES bogus":
        return base + ["MODEL.DMF.MODALITIES", "pictures"], env, ["MODEL.DMF.MODALITIES", "pictures"]
    if name == "CAPTION_WORDS bogus":
        return ["--config-file", DEMO1, *TINY, *FINEGPR, "MODEL.TEXT.CAPTION_WORDS", "some"], {
            "FASTREID_DATASETS": os.path.dirname(write_finegpr(tmp))}, ["MODEL.TEXT.CAPTION_WORDS"]
    if name == "FASTREID_DATASETS empty":
        os.makedirs(os.path.join(tmp, "empty"))
        return base, {"FASTREID_DATASETS": os.path.join(tmp, "empty")}, ["Market1501", "empty"]
    if name == "batch not divisible by NUM_INSTANCE":
        return base + ["SOLVER.IMS_PER_BATCH", "30"], env, ["SOLVER.IMS_PER_BATCH", "NUM_INSTANCE"]
    if name == "fewer identities than a batch":
        return base + ["SOLVER.IMS_PER_BATCH", "256"], env, ["12 identities", "needs 64"]
    if name == "empty images folder":
        return ["--config-file", DEMO1, *TINY, *FINEGPR], {
            "FASTREID_DATASETS": os.path.dirname(write_finegpr(tmp, names=[], captions=""))}, [
            "FineGPR/images", "no usable image"]
    if name == "every file badly named":
        return ["--config-file", DEMO1, *TINY, *FINEGPR], {
            "FASTREID_DATASETS": os.path.dirname(write_finegpr(tmp, names=["a.jpg", "b_1.jpg"]))}, [
            "no usable image", "2 files not named"]
    if name == "captions not UTF-8":
        names = ["0000_c01_w01_l01_p01.jpg", "0000_c02_w01_l01_p01.jpg"]
        root = os.path.dirname(write_finegpr(tmp, names, b"ImageName:0000_c01_w01_l01_p01.jpg, "
                                             b"the caption is: ok\nImageName:x.jpg, \xff\xfe bad\n"))
        return ["--config-file", DEMO1, *TINY, *FINEGPR], {"FASTREID_DATASETS": root}, [
            "captions.txt:2", "UTF-8"]
    if name == "malformed caption line":
        names = ["0000_c01_w01_l01_p01.jpg"]
        root = os.path.dirname(write_finegpr(tmp, names, "0000_c01_w01_l01_p01.jpg a man\n"))
        return ["--config-file", DEMO1, *TINY, *FINEGPR], {"FASTREID_DATASETS": root}, [
            "captions.txt:1", "malformed caption line"]
    if name == "resume names a deleted checkpoint":
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        open(os.path.join(out, "last_checkpoint"), "w").write("model_0004.pth")
        return ["--resume", *base], env, ["last_checkpoint", "model_0004.pth", "does not exist"]
    if name == "truncated checkpoint":
        return base + ["MODEL.WEIGHTS", checkpoint(tmp, "truncated")], env, [
            "truncated.pth", "not a readable weight file"]
    if name == "eval-only with another architecture":
        return ["--eval-only", *base, "MODEL.WEIGHTS", checkpoint(tmp, "resnet")], env, [
            "resnet.pth", "not a checkpoint of this architecture"]
    if name == "mask ratio outside (0, 1)":
        return ["--config-file", MMET, *TINY, "MODEL.MMET.IMAGE_MASK_RATIO", "1.5"], env, [
            "MODEL.MMET.IMAGE_MASK_RATIO", "1.5"]
    if name == "negative loss weight":
        return ["--config-file", MMET, *TINY, "MODEL.MMET.MLM_WEIGHT", "-1.0"], env, [
            "MODEL.MMET.MLM_WEIGHT", "non-negative"]
    if name == "unknown loss name":
        return base + ["MODEL.LOSSES.NAME", "('CrossEntropyLoss', 'ArcFaceLoss')"], env, [
            "MODEL.LOSSES.NAME", "ArcFaceLoss"]
    if name == "text-only pre-training without captions":
        return base + ["MODEL.DMF.MODALITIES", "text"], env, ["MODEL.DMF.MODALITIES", "no captions"]
    if name == "image smaller than a patch":
        return base + ["INPUT.SIZE_TRAIN", "[8, 8]"], env, ["INPUT.SIZE_TRAIN", "MODEL.VIT.PATCH_SIZE"]
    raise KeyError(name)


CASES = ["no config file", "missing config file", "unknown key in yaml",
         "unknown key on the command line", "word for an int", "word for an int in yaml",
         "float for an int in yaml",
         "missing MODEL.WEIGHTS", "missing PRETRAIN_PATH", "stock ResNet PRETRAIN without a path",
         "translator folder missing", "translator id not cached offline", "tokenizer missing",
         "two-token vocabulary", "MODALITIES bogus", "CAPTION_WORDS bogus",
         "FASTREID_DATASETS empty", "batch not divisible by NUM_INSTANCE",
         "fewer identities than a batch", "empty images folder", "every file badly named",
         "captions not UTF-8", "malformed caption line", "resume names a deleted checkpoint",
         "truncated checkpoint", "eval-only with another architecture", "mask ratio outside (0, 1)",
         "negative loss weight", "unknown loss name", "text-only pre-training without captions",
         "image smaller than a patch"]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_error_line(name, tmp_path, market_root, tool):
    args, env, expected = case(str(tmp_path), market_root, name)
    run = tool("train_net.py", *args, env=env, timeout=300)
    assert run.returncode == 2, (run.returncode, run.stderr[-3000:])
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    for text in expected:
        assert text in run.stderr, (text, run.stderr[-3000:])


@pytest.mark.parametrize("bad", ["random bytes", "zero bytes", "truncated", "badly named",
                                 "caption of a missing image"])
def test_bad_files_among_good_ones_are_skipped_and_counted(bad, tmp_path, caplog):
    from fastreid_multimodal.data.datasets.finegpr_caption import FineGPRCaption
    folder = write_finegpr(str(tmp_path))
    images = os.path.join(folder, "images")
    if bad == "random bytes":
        open(os.path.join(images, "0001_c09_w01_l01_p01.jpg"), "wb").write(os.urandom(300))
        reason = "1 images that fail to decode"
    elif bad == "zero bytes":
        open(os.path.join(images, "0001_c09_w01_l01_p01.jpg"), "wb").close()
        reason = "1 images that fail to decode"
    elif bad == "truncated":  # Image.verify() passes it; the full decode at load does not
        path = os.path.join(images, "0001_c09_w01_l01_p01.jpg")
        Image.new("RGB", (32, 64), (200, 10, 10)).save(path, quality=90)
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
        reason = "1 images that fail to decode"
    elif bad == "badly named":
        Image.new("RGB", (32, 64)).save(os.path.join(images, "person_7.jpg"))
        reason = "1 files not named"
    else:
        with open(os.path.join(folder, "captions.txt"), "a") as f:
            f.write("ImageName:0009_c01_w01_l01_p01.jpg, the caption is: nobody.\n")
        reason = "1 captions naming an image that does not exist"
    with caplog.at_level(logging.WARNING, logger="fastreid.multimodal"):
        data = FineGPRCaption(root=str(tmp_path))
    assert len(data.train) == 24 and len(data.texts) == 24  # every good image kept
    assert any(reason in record.getMessage() for record in caplog.records), caplog.text


def test_input_size_off_the_patch_grid_is_said(caplog):
    """Pixels beyond the last stride are not seen: a warning names the keys and what is lost
    (not an error: TransReID's own 256x128 at stride 12 drops 4 columns)."""
    from fastreid.modeling.meta_arch import build_model

    from fastreid_multimodal.engine import load_config
    cfg = load_config(DEMO2, [*TINY, "MODEL.TEXT.TRANSLATOR", "", "MODEL.IMAGE.TRANSLATOR", "",
                              "INPUT.SIZE_TRAIN", "[70, 32]",
                              "MODEL.HEADS.NUM_CLASSES", "2", "MODEL.DEVICE", "cpu"], check_files=False)
    with caplog.at_level(logging.WARNING, logger="fastreid.multimodal"):
        build_model(cfg)
    assert "INPUT.SIZE_TRAIN [70, 32]" in caplog.text and "last 6 rows and 0 columns" in caplog.text
