"""What a user of a trained model imports, apart from training: ``Embedder`` (config + weights ->
numpy embeddings of images and captions) and the ONNX export of the same encoders
(tools/export_onnx.py)."""
from .embedder import Embedder  # noqa: F401
