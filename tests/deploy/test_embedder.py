"""fastreid_multimodal.Embedder: config + weights -> numpy embeddings. An image through the API is
the evaluator's feature of that image (FastReID's inference_on_dataset with the trainer's test
loader and evaluator, same config and weights); a caption is text->image evaluation's."""
import numpy as np
import pytest
import torch
from fastreid.evaluation import inference_on_dataset
from fastreid.utils.checkpoint import Checkpointer
from PIL import Image

import fastreid_multimodal
from tiny_models import DEMO, TINY, save_untrained
from fastreid_multimodal.deploy import Embedder
from fastreid_multimodal.engine import MultimodalTrainer, load_config
from fastreid_multimodal.errors import UserError
from fastreid_multimodal.evaluation.features import text_features

CONFIG = f"{DEMO}/dmf_stage1_synth.yml"


@pytest.fixture(scope="module")
def weights(tmp_path_factory, synth_root):
    return save_untrained(CONFIG, TINY, tmp_path_factory.mktemp("dmf"))


def evaluator_features(opts, weights):
    """(feats (N, D), image paths) of SynthPersonCampus's test images as the trainer's evaluation
    computes them: the model built and loaded as --eval-only does, FastReID's inference loop."""
    cfg = load_config(CONFIG, [*opts, "MODEL.WEIGHTS", weights, "MODEL.BACKBONE.PRETRAIN", "False",
                               "MODEL.HEADS.NUM_CLASSES", "8", "MODEL.DEVICE", "cpu"])
    model = MultimodalTrainer.build_model(cfg)
    Checkpointer(model).load(weights)
    loader, evaluator = MultimodalTrainer.build_evaluator(cfg, "SynthPersonCampus")
    inference_on_dataset(model, loader, evaluator, flip_test=cfg.TEST.FLIP.ENABLED)
    feats = torch.cat([p["feats"] for p in evaluator._predictions])
    return feats, [item[0] for item in loader.dataset.img_items]


@pytest.mark.parametrize("flip", ["False", "True"])
def test_an_image_through_the_api_is_the_evaluators_feature(weights, flip):
    opts = [*TINY, "TEST.FLIP.ENABLED", flip]
    feats, paths = evaluator_features(opts, weights)
    embedder = fastreid_multimodal.Embedder.from_config(CONFIG, weights, opts, device="cpu")
    one = embedder.embed_images(paths[3])
    assert one.shape == (1, feats.shape[1]) and one.dtype == np.float32
    np.testing.assert_allclose(one[0], feats[3].numpy(), rtol=1e-5, atol=1e-5)
    several = embedder.embed_images(paths[:20])  # batched (TEST.IMS_PER_BATCH 16): two batches
    np.testing.assert_allclose(several, feats[:20].numpy(), rtol=1e-5, atol=1e-5)


def test_captions_are_text_retrievals_features_and_pil_images_are_files(weights, tmp_path):
    embedder = Embedder.from_config(CONFIG, weights, TINY, batch_size=2)
    captions = ["a woman in a red coat with a backpack", "a man with short hair", "a child"]
    got = embedder.embed_texts(captions)
    expected = text_features(embedder.cfg, embedder.model, captions).numpy()
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_texts(captions[1]), expected[1:2], rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(0)
    files = []
    for i in range(3):
        files.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(rng.integers(0, 256, (80, 40, 3), dtype=np.uint8)).save(files[-1])
    with Image.open(files[1]) as colour, Image.open(files[2]) as grey:
        mixed = embedder.embed_images([files[0], colour.copy(), grey.convert("L")])
    from_files = embedder.embed_images(files)
    assert mixed.shape == (3, from_files.shape[1])  # a grey image is read as RGB, as a file is
    np.testing.assert_allclose(mixed[:2], from_files[:2], rtol=1e-6, atol=1e-6)
    with pytest.raises(UserError, match="do not exist: .*missing.jpg"):
        embedder.embed_images([files[0], str(tmp_path / "missing.jpg")])


def test_a_model_without_a_text_path_says_so(weights):
    cfg = load_config(CONFIG, [*TINY, "MODEL.TEXT.PATH", "off", "MODEL.HEADS.NUM_CLASSES", "8",
                               "MODEL.DEVICE", "cpu"])
    embedder = Embedder(cfg, MultimodalTrainer.build_model(cfg))
    assert not embedder.has_text
    with pytest.raises(UserError, match="no text path"):
        embedder.embed_texts(["a man"])
