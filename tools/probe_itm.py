#!/usr/bin/env python
"""Can MMET's fusion encoder learn ITM on given unimodal encodings? A diagnostic, not a benchmark.

    python tools/probe_itm.py --config-file OUTPUT_DIR/config.yaml --weights OUTPUT_DIR/model_0015.pth \
        [--dataset SynthPersonSource] [--lr 1e-4] [--steps 300] [--own-fusion] [--id-on-fusion]

Encodes every captioned training image and its caption once with the checkpoint's image and text
encoders (clean, frozen; cached beside the checkpoint as <weights>.itm-probe.pt), prints how far
the raw [CLS_I] / [CLS_T] cosine alone separates matches from mismatches (a logistic regression
on it: the ITM loss a one-number comparison reaches), then trains a fusion encoder + ITM head on
ITM alone over the frozen encodings: 8 identities x 4 pairs a step, each pair with a caption and
an image of another identity as negatives (chance 0.637), Adam. The fusion is freshly initialised
(seed 1) unless --own-fusion; --id-on-fusion adds the ID loss on the positives' [CLS_M] through
the checkpoint's [CLS_M] BNNeck and classifier, as MMET's clean pass has it.
"""
import argparse
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # uninstalled checkout

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from timm.models.vision_transformer import init_weights_vit_timm  # noqa: E402

import fastreid_multimodal  # noqa: E402,F401  (patches fastreid, registers everything)
from fastreid_multimodal.data.text import text_tokenizer  # noqa: E402
from fastreid_multimodal.engine import run_cli  # noqa: E402
from fastreid_multimodal.engine.inference import load_dataset, load_model  # noqa: E402
from fastreid_multimodal.errors import ConfigError  # noqa: E402
from fastreid_multimodal.evaluation.features import load_images, tokens  # noqa: E402
from fastreid_multimodal.modeling.feature_map import as_feature_map  # noqa: E402
from fastreid_multimodal.modeling.heads import ImageTextMatchingHead  # noqa: E402
from fastreid_multimodal.utils.safe_load import load_weights  # noqa: E402


def encode_training_set(cfg, model, dataset_name, cache):
    if os.path.isfile(cache):
        return load_weights(cache)
    dataset = load_dataset(cfg, dataset_name)
    caption_of = getattr(dataset, "caption_of", {})
    items = [(path, pid, caption_of[path]) for path, pid, _ in dataset.train if caption_of.get(path)]
    if not items:
        raise ConfigError(f"--dataset {dataset_name}: its training images have no captions")
    classes = {pid: i for i, pid in enumerate(sorted({pid for _, pid, _ in items}))}
    tokenizer, backbone = text_tokenizer(cfg), model.backbone
    images, texts, masks = [], [], []
    with torch.no_grad():
        for start in range(0, len(items), 100):
            chunk = items[start:start + 100]
            images.append(backbone.encode_image(model.preprocess_image(
                load_images(cfg, [path for path, _, _ in chunk]))))
            ids, mask = tokens(cfg, tokenizer, [caption for _, _, caption in chunk], "cpu")
            texts.append(backbone.encode_text(ids, mask))
            masks.append(mask.bool())
    length = max(mask.shape[1] for mask in masks)
    encodings = {
        "h_image": torch.cat(images),
        "h_text": torch.cat([F.pad(t, (0, 0, 0, length + 1 - t.shape[1])) for t in texts]),
        "text_mask": torch.cat([F.pad(m, (0, length - m.shape[1])) for m in masks]),
        "classes": torch.tensor([classes[pid] for _, pid, _ in items])}
    torch.save(encodings, cache)
    return encodings


def cosine_bound(h_image, h_text, classes, generator):
    """ITM loss of a logistic regression on the raw [CLS_I] . [CLS_T] cosine (two negatives per pair)."""
    image, text = F.normalize(h_image[:, 0], dim=1), F.normalize(h_text[:, 0], dim=1)
    positive = (image * text).sum(1)
    negatives = []
    for _ in range(2):
        other = torch.randint(0, len(classes), (len(classes),), generator=generator)
        negatives.append((image * text[other]).sum(1)[classes[other] != classes])
    negative = torch.cat(negatives)
    x = torch.cat([positive, negative])
    y = torch.cat([torch.ones_like(positive), torch.zeros_like(negative)])
    w = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(w[0] * x + w[1], y)
        loss.backward()
        return loss
    optimizer.step(closure)
    return positive, negative, closure().item()


def main(argv=None):
    return run_cli(probe, argv)


def probe(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--dataset", default="SynthPersonSource")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--own-fusion", action="store_true")
    parser.add_argument("--id-on-fusion", action="store_true")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg, model = load_model(args.config_file, args.weights, args.opts)
    if model.backbone.__class__.__name__ != "MMETTransformer":
        raise ConfigError(f"--config-file {args.config_file}: probe_itm needs an MMET model")
    enc = encode_training_set(cfg, model, args.dataset, args.weights + ".itm-probe.pt")
    h_image, h_text, text_mask, classes = enc["h_image"], enc["h_text"], enc["text_mask"], enc["classes"]
    generator = torch.Generator().manual_seed(0)
    positive, negative, bound = cosine_bound(h_image, h_text, classes, generator)
    print(f"{len(classes)} pairs; raw CLS cosine: match {positive.mean():.3f} ± {positive.std():.3f}, "
          f"mismatch {negative.mean():.3f} ± {negative.std():.3f}; ITM of a logistic regression on it "
          f"{bound:.3f} (chance 0.637)")

    fusion, itm_head = copy.deepcopy(model.backbone), copy.deepcopy(model.itm_head)
    if not args.own_fusion or itm_head is None:
        torch.manual_seed(1)
        for module in (fusion.fusion_blocks, fusion.image_to_fusion, fusion.text_to_fusion):
            module.apply(init_weights_vit_timm)
        itm_head = ImageTextMatchingHead(cfg)
    fusion_heads = copy.deepcopy(model.fusion_heads)
    params = [*fusion.fusion_blocks.parameters(), *fusion.fusion_norm.parameters(),
              *fusion.image_to_fusion.parameters(), *fusion.text_to_fusion.parameters(),
              fusion.fusion_cls_token, *itm_head.parameters()]
    if args.id_on_fusion:
        params += list(fusion_heads.parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr)
    for module in (fusion, itm_head, fusion_heads):
        module.train()
    identities = classes.unique()
    rows_of = {int(c): torch.nonzero(classes == c).flatten() for c in identities}
    window = []
    for step in range(1, args.steps + 1):
        chosen = identities[torch.randperm(len(identities), generator=generator)[:8]]
        rows = torch.cat([rows_of[int(c)][torch.randperm(len(rows_of[int(c)]), generator=generator)[:4]]
                          for c in chosen])
        other = (classes[rows][:, None] != classes[rows][None, :]).float()
        text_negative = rows[torch.multinomial(other, 1, generator=generator).flatten()]
        image_negative = rows[torch.multinomial(other, 1, generator=generator).flatten()]
        image_rows = torch.cat([rows, rows, image_negative])
        text_rows = torch.cat([rows, text_negative, rows])
        labels = torch.cat([torch.ones(len(rows)), torch.zeros(2 * len(rows))]).long()
        fused = fusion.fuse(h_image[image_rows], h_text[text_rows], text_mask[text_rows])[:, 0]
        itm = F.cross_entropy(itm_head(fused), labels)
        loss = itm
        if args.id_on_fusion:
            outputs = fusion_heads(as_feature_map(fused[:len(rows)]), classes[rows])
            loss = loss + F.cross_entropy(outputs["pred_class_logits"], classes[rows], label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        window.append(itm.item())
        if step % 50 == 0:
            print(f"step {step}: ITM {sum(window) / len(window):.3f} (mean of the last {len(window)} steps)",
                  flush=True)
            window = []


if __name__ == "__main__":
    main()
