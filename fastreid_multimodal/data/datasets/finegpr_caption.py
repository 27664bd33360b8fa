"""FineGPRCaption: FineGPR images plus one FineGPR-C-style caption per image."""
import logging
import os

from fastreid.data.datasets import DATASET_REGISTRY

from ..finegpr_folder import generated_captions, read_attributes, read_caption_file
from ..samples import Caption
from .finegpr import FineGPR

logger = logging.getLogger("fastreid.multimodal")


@DATASET_REGISTRY.register()
class FineGPRCaption(FineGPR):
    """FineGPR + captions. ``train`` stays images only (FastReID-compatible); the text samples are
    ``texts`` — (Caption, pid, camid) for every training image that has a caption — and
    ``caption_of`` maps an image path to its caption. Captions come from ``captions.txt`` or,
    without it (or with DATASETS.FINEGPR.CAPTIONS = "generate"), from ``attributes.json`` and
    the file names through the FineGPR-C templates."""

    dataset_name = "finegprcaption"

    def load_extras(self):
        source = self.option("CAPTIONS", "auto")
        caption_file = os.path.join(self.folder, "captions.txt")
        attribute_file = os.path.join(self.folder, "attributes.json")
        if source not in ("auto", "file", "generate"):
            raise ValueError(f"DATASETS.FINEGPR.CAPTIONS must be auto, file or generate, got {source!r}")
        if source == "file" or (source == "auto" and os.path.isfile(caption_file)):
            self.check_before_run(caption_file)
            self.captions = read_caption_file(caption_file, self.images, self.skips)
        else:
            self.check_before_run(attribute_file)
            self.captions = generated_captions(self.images, read_attributes(attribute_file),
                                               self.option("SEED", 0))
        missing = [n for n in self.images if n not in self.captions]
        for name in missing:
            self.skips.skip("images without a caption (kept as image-only samples)", name)

    def split(self):
        train, query, gallery = super().split()
        self.caption_of = {self.path(n): c for n, c in self.captions.items()}
        self.texts = [(Caption(self.captions[n], self.path(n)), pid, camid)
                      for n, (_, pid, camid) in zip(self.train_names, train) if n in self.captions]
        self.text_queries = [(Caption(self.caption_of[path], path), pid, camid)
                             for path, pid, camid in query if path in self.caption_of]
        return train, query, gallery
