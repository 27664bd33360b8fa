"""Abnar & Zuidema's attention rollout of the [cls] token through a ViT backbone (DMF Fig. 5).

The backbone encodes the images itself (its FastReID ``forward``); forward hooks on timm's
``Attention`` modules recompute each layer's attention probabilities from the layer's own qkv
projection of its input, so the model is neither changed nor re-implemented.
"""
import torch
from timm.layers import Attention


def attention_weights(attn, x):
    """Attention probabilities (B, heads, N, N) of a timm ``Attention`` on its input ``x``
    (a block's norm1 output): the module's qkv, q/k norms and scale, softmax."""
    b, n, _ = x.shape
    q, k, _ = attn.qkv(x).reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


@torch.no_grad()
def layer_attentions(backbone, images):
    """Attention probabilities of every attention layer the backbone runs on ``images``, in the
    order they run."""
    seen = []

    def record(module, args, _):
        seen.append(attention_weights(module, args[0]))

    layers = [m for m in backbone.modules() if isinstance(m, Attention)]
    handles = [layer.register_forward_hook(record) for layer in layers]
    try:
        backbone(images)
    finally:
        for handle in handles:
            handle.remove()
    if not seen:
        raise ValueError(f"{type(backbone).__name__} ran no timm Attention layer on the images")
    return seen


@torch.no_grad()
def attention_rollout(backbone, images):
    """[cls]-to-patch attention rollout, (B, gh, gw), each map non-negative and summing to 1.

    ``images`` are normalised (the meta-arch's ``preprocess_image``). Per layer: heads averaged,
    identity added (the residual), rows renormalised; the product over layers is read at the
    [cls] row, restricted to the patches and renormalised."""
    rollout = None
    for attn in layer_attentions(backbone, images):
        a = attn.mean(dim=1)
        a = a + torch.eye(a.shape[-1], device=a.device)
        a = a / a.sum(dim=-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout
    cls = rollout[:, 0, 1:].clamp_min(0)
    cls = cls / cls.sum(dim=-1, keepdim=True)
    gh, gw = backbone.patch_embed.grid_size
    return cls.reshape(-1, gh, gw).cpu()
