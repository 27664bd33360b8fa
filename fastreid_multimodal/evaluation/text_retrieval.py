"""Text->image retrieval: captions are the queries, images the gallery (R1/R5/R10/mAP/mINP).

Works on any data set with ``text_queries`` ((Caption, pid, camid) items): the gallery is its
``text_gallery`` when it has one (CUHK-PEDES: every test image), else its query + gallery images
(FineGPRCaption, SynthPerson targets), each image once (SynthPerson's query and gallery lists are
the same images: all-vs-all). Distances are cosine; FastReID's metrics come from the
chunked engine (chunked_ranking), query and gallery on distinct cameras so that no gallery image
is filtered out.

The model must give image features for ``model(batch)`` in eval mode (FastReID's convention) and
text features for ``model.text_features(input_ids, attention_mask)`` (MMET).
"""
import logging
from collections import OrderedDict

import numpy as np
import torch

from ..data.build import build_dataset
from ..data.protocol import each_test_image
from ..utils.model import unwrap
from .chunked_evaluator import ranking_device
from .chunked_ranking import chunked_evaluate_rank
from .features import image_features, text_features

logger = logging.getLogger("fastreid.multimodal")
PREFIX = "text2image/"
RANKS = (1, 5, 10)


def text_to_image_metrics(text_feats, text_pids, image_feats, image_pids):
    """{"Rank-1", "Rank-5", "Rank-10", "mAP", "mINP"} (percent) of cosine text->image retrieval;
    Rank-k is left out when the gallery has fewer than k images."""
    return text_to_image_ranking(text_feats, text_pids, image_feats, image_pids)[0]


def text_to_image_ranking(text_feats, text_pids, image_feats, image_pids):
    """(``text_to_image_metrics``, the AP in percent of every query with a match, in order)."""
    ids = {pid: i for i, pid in enumerate(sorted({*text_pids, *image_pids}, key=str))}
    q_pids = np.array([ids[p] for p in text_pids], dtype=np.int64)
    g_pids = np.array([ids[p] for p in image_pids], dtype=np.int64)
    max_rank = min(max(RANKS), len(g_pids))
    device = ranking_device()
    cmc, all_ap, all_inp = chunked_evaluate_rank(
        torch.as_tensor(text_feats).to(device), torch.as_tensor(image_feats).to(device), q_pids,
        g_pids, np.zeros_like(q_pids), np.ones_like(g_pids), metric="cosine", max_rank=max_rank)
    results = OrderedDict((f"Rank-{r}", float(cmc[r - 1]) * 100) for r in RANKS if r <= max_rank)
    results["mAP"] = float(np.mean(all_ap)) * 100
    results["mINP"] = float(np.mean(all_inp)) * 100
    return results, [float(ap) * 100 for ap in all_ap]


class TextToImageEvaluator:
    """Text->image retrieval on one test data set (``available`` is False without text queries)."""

    def __init__(self, cfg, dataset_name, dataset=None):
        self.cfg, self.name = cfg, dataset_name
        if dataset is None:
            dataset = build_dataset(cfg, dataset_name)
        self.queries = list(getattr(dataset, "text_queries", None) or [])
        gallery = getattr(dataset, "text_gallery", None)
        self.gallery = list(gallery) if gallery else each_test_image(dataset)
        self.per_query_ap = []  # AP (percent) of every caption query with a match, after evaluate

    @property
    def available(self):
        return bool(self.queries) and bool(self.gallery)

    def text_features(self, model):
        return text_features(self.cfg, model, [item.text for item, _, _ in self.queries])

    def image_features(self, model):
        return image_features(self.cfg, model, [path for path, _, _ in self.gallery])

    def evaluate(self, model):
        """{"text2image/Rank-1": ..., "text2image/mAP": ...} (percent)."""
        model = unwrap(model)
        training = model.training
        model.eval()
        try:
            text = self.text_features(model)
            images = self.image_features(model)
        finally:
            model.train(training)
        metrics, self.per_query_ap = text_to_image_ranking(
            text, [pid for _, pid, _ in self.queries], images, [pid for _, pid, _ in self.gallery])
        logger.info("%s text->image: %d captions vs %d images", self.name, len(self.queries),
                    len(self.gallery))
        return OrderedDict((PREFIX + k, v) for k, v in metrics.items())


def format_text_table(results):
    """Markdown table of text->image results {dataset: {"text2image/Rank-1": ...}}."""
    columns = [f"Rank-{r}" for r in RANKS] + ["mAP"]
    lines = ["| target (text->image) | R1 | R5 | R10 | mAP |", "|---|---|---|---|---|"]
    for name, metrics in results.items():
        cells = [f"{metrics[PREFIX + c]:.1f}" if PREFIX + c in metrics else "-" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
