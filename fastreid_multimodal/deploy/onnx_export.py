"""ONNX export of a trained model's encoders (``encoders.ImageEncoder`` / ``TextEncoder``), batch
axis dynamic (and the caption length), checked against onnxruntime.

The TorchScript-based exporter (``dynamo=False``) is used: with torch 2.14, torch.export
(``dynamo=True``) stopped on a data-dependent guard in the demo DMF's image encoder. Tracing
records Python branches as the example batch takes them; the example captions are padded, so the
key-padding mask (``run_blocks``, Hugging Face's mask helpers) is in the graph, where it is a no-op
for captions without padding.
"""
import contextlib
import logging
import os
import warnings

import numpy as np
import torch

from ..errors import UserError
from .encoders import ImageEncoder, TextEncoder, has_text_path, random_captions, random_images

logger = logging.getLogger("fastreid.multimodal")

OPSET = 17  # LayerNormalization is an ONNX operator from 17 on
EXAMPLE_BATCH = 2  # a batch of 1 could be specialised into the graph
INSTALL = "pip install onnx onnxruntime (or pip install -e '.[deploy]')"


def require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise UserError(f"ONNX export needs onnx and onnxruntime ({exc.name} is missing): "
                        f"{INSTALL}") from None


def text_output_path(output):
    """model.onnx -> model_text.onnx: the caption encoder beside the image encoder."""
    root, ext = os.path.splitext(output)
    return f"{root}_text{ext or '.onnx'}"


@contextlib.contextmanager
def caption_cache_off(model):
    """A frozen pre-trained text translator memoises captions in a Python dict, which a trace would
    freeze for the example batch; its direct encoding (the same features on real tokens) is traced."""
    from ..modeling.backbones.text_translator import PretrainedTextTranslator
    cached = [m for m in model.modules() if isinstance(m, PretrainedTextTranslator) and m.frozen]
    for module in cached:
        module.forward = module.encode
    try:
        yield
    finally:
        for module in cached:
            del module.forward


def export(module, inputs, path, input_names, dynamic_axes, opset):
    module.eval()  # the exporter puts a module back in the mode it found it in
    with torch.no_grad(), caption_cache_off(module), warnings.catch_warnings():
        # the branches the tracer warns about are taken as the example batch takes them, which is
        # the way every batch takes them (padding in it), and the onnxruntime check compares
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Exporting aten::index operator")
        torch.onnx.export(module, inputs, path, input_names=input_names,
                          output_names=["embedding"], opset_version=opset, dynamo=False,
                          dynamic_axes={**dynamic_axes, "embedding": {0: "batch"}})
    module.eval()


def export_encoders(cfg, model, output, opset=OPSET):
    """Write the image encoder to ``output`` and, for a model with a text path, the caption
    encoder to ``text_output_path(output)``; returns {"image": path, "text": path?}."""
    require_onnx()
    model = model.eval().cpu()
    generator = torch.Generator().manual_seed(0)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    paths = {"image": output}
    export(ImageEncoder(model, cfg.TEST.FLIP.ENABLED), (random_images(cfg, EXAMPLE_BATCH, generator),),
           output, ["images"], {"images": {0: "batch"}}, opset)
    if has_text_path(model):
        from ..data.text import text_tokenizer
        length = min(16, cfg.MODEL.TEXT.MAX_LENGTH)
        captions = random_captions(text_tokenizer(cfg), EXAMPLE_BATCH, length, generator)
        paths["text"] = text_output_path(output)
        axes = {0: "batch", 1: "length"}
        export(TextEncoder(model), captions, paths["text"], ["input_ids", "attention_mask"],
               {"input_ids": axes, "attention_mask": axes}, opset)
    return paths


def largest_differences(cfg, model, paths, batch_sizes=(1, 7), seed=0):
    """[(encoder, batch size, largest |onnxruntime - PyTorch|, largest |PyTorch embedding|)] on
    random batches (captions of another length than the export's example, to exercise the dynamic
    length); the last number says what the difference compares with."""
    import onnxruntime
    model = model.eval().cpu()
    generator = torch.Generator().manual_seed(seed)
    results = []
    encoders = {"image": ImageEncoder(model, cfg.TEST.FLIP.ENABLED).eval()}
    if "text" in paths:
        from ..data.text import text_tokenizer
        encoders["text"] = TextEncoder(model).eval()
        tokenizer, length = text_tokenizer(cfg), min(24, cfg.MODEL.TEXT.MAX_LENGTH)
    for name, encoder in encoders.items():
        session = onnxruntime.InferenceSession(paths[name], providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        for batch in batch_sizes:
            inputs = (random_images(cfg, batch, generator),) if name == "image" else \
                random_captions(tokenizer, batch, length, generator)
            with torch.no_grad():
                expected = encoder(*inputs).numpy()
            got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0]
            if got.shape != expected.shape:
                raise RuntimeError(f"{paths[name]}: onnxruntime gave {got.shape}, PyTorch "
                                   f"{expected.shape} for a batch of {batch}")
            results.append((name, batch, float(np.abs(got - expected).max()),
                            float(np.abs(expected).max())))
    return results
