"""Text->image search: cosine similarity between a sentence's embedding and the gallery's image
embeddings (both from ``deploy.Embedder``), ranked by the evaluation's chunked engine
(``chunked_topk``)."""
import numpy as np
import torch

from ..errors import UserError
from .chunked_ranking import chunked_topk


def search(gallery_feats, query_feats, topk):
    """(cosine scores, indices), each (Nq, k), best first (k is capped at the gallery size)."""
    gallery = torch.as_tensor(np.asarray(gallery_feats, dtype=np.float32))
    query = torch.as_tensor(np.asarray(query_feats, dtype=np.float32))
    distances, ids = chunked_topk(query.reshape(-1, gallery.shape[1]), gallery, topk, "cosine")
    return (1 - distances).numpy(), ids.numpy()


def search_text(embedder, paths, sentence, topk=5, image_feats=None):
    """[(path, cosine)] of the top-k gallery images for one sentence, best first."""
    if not sentence.strip():
        raise UserError("--query: empty sentence")
    if image_feats is None:
        image_feats = embedder.embed_images(paths)
    scores, ids = search(image_feats, embedder.embed_texts([sentence]), topk)
    return [(paths[i], float(s)) for i, s in zip(ids[0], scores[0])]
