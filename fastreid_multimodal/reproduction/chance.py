"""What a random ranking scores on a test set: the floor small (synthetic, demo-size) results are
read against. Image->image uses FastReID's protocol (same-camera gallery entries of the query's
identity are dropped); text->image the one of ``text_retrieval``.
"""
import numpy as np
import torch
from fastreid.evaluation.rank import evaluate_rank

from ..data.build import build_dataset
from ..evaluation.text_retrieval import PREFIX, TextToImageEvaluator, text_to_image_metrics


def random_image_ranking(query, gallery, draws=20, seed=0):
    """{"mAP", "Rank-1"} (percent) of uniformly random rankings, averaged over ``draws``."""
    rng = np.random.default_rng(seed)
    q_pids, q_cams = (np.array([item[i] for item in query]) for i in (1, 2))
    g_pids, g_cams = (np.array([item[i] for item in gallery]) for i in (1, 2))
    aps, r1s = [], []
    for _ in range(draws):
        cmc, all_ap, _ = evaluate_rank(rng.random((len(query), len(gallery))), q_pids, g_pids,
                                       q_cams, g_cams, max_rank=1)
        aps.append(np.mean(all_ap))
        r1s.append(cmc[0])
    return {"mAP": float(np.mean(aps)) * 100, "Rank-1": float(np.mean(r1s)) * 100}


def random_text_ranking(queries, gallery, draws=20, seed=0):
    """{"text2image/mAP", "text2image/Rank-1"} of random text->image rankings."""
    generator = torch.Generator().manual_seed(seed)
    runs = [text_to_image_metrics(torch.randn(len(queries), 8, generator=generator),
                                  [pid for _, pid, _ in queries],
                                  torch.randn(len(gallery), 8, generator=generator),
                                  [pid for _, pid, _ in gallery]) for _ in range(draws)]
    return {PREFIX + key: float(np.mean([run[key] for run in runs])) for key in ("mAP", "Rank-1")}


def chance_levels(cfg, names):
    """{dataset: metrics of a random ranking} for the test sets ``names`` (built with ``cfg``)."""
    levels = {}
    for name in names:
        dataset = build_dataset(cfg, name)
        levels[name] = random_image_ranking(dataset.query, dataset.gallery)
        text = TextToImageEvaluator(cfg, name, dataset)
        if text.available:
            levels[name].update(random_text_ranking(text.queries, text.gallery))
    return levels
