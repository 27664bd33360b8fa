"""FastReID's backbones return a (B, C, H, W) map and its heads pool it (EmbeddingHead); ours
produce one CLS vector per sample, handed over as a 1x1 map."""


def as_feature_map(features):
    """(B, D) -> (B, D, 1, 1)."""
    return features[..., None, None]
