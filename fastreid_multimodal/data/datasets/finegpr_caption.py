"""FineGPRCaption: FineGPR images plus their FineGPR-C-style captions."""
import logging
import os

from fastreid.data.datasets import DATASET_REGISTRY

from ...errors import ConfigError
from ..finegpr_attributes import read_attributes
from ..finegpr_folder import draw_caption, generated_captions, read_caption_file, read_environments
from ..samples import Caption
from .finegpr import FineGPR

logger = logging.getLogger("fastreid.multimodal")


@DATASET_REGISTRY.register()
class FineGPRCaption(FineGPR):
    """FineGPR + captions. ``train`` stays images only (FastReID-compatible); the text samples are
    ``texts`` — (Caption, pid, camid), one per training image that has a caption — and
    ``caption_of`` maps an image path to that caption, ``captions_of`` to all of its captions.
    An image with several captions (FineGPR-C) gives one, drawn from DATASETS.FINEGPR.SEED and the
    image's name; ``text_queries`` hold every caption of every query image. Captions come from
    ``captions.txt`` or, without it (or with DATASETS.FINEGPR.CAPTIONS = "generate"), from
    ``attributes.json`` and each image's environment through the FineGPR-C templates."""

    dataset_name = "finegprcaption"

    def load_extras(self):
        source = self.option("CAPTIONS", "auto")
        caption_file = os.path.join(self.folder, "captions.txt")
        attribute_file = os.path.join(self.folder, "attributes.json")
        if source not in ("auto", "file", "generate"):
            raise ConfigError(f"DATASETS.FINEGPR.CAPTIONS must be auto, file or generate, got "
                              f"{source!r}")
        self.attributes = None
        if source == "file" or (source == "auto" and os.path.isfile(caption_file)):
            self.check_before_run(caption_file)
            self.captions = read_caption_file(caption_file, self.images, self.skips)
        else:
            self.check_before_run(attribute_file)
            self.attributes = read_attributes(attribute_file)  # captioned in split(): used images

    def split(self):
        train, query, gallery = super().split()
        seed = self.option("SEED", 0)
        tests = [os.path.basename(path) for path, _, _ in query + gallery]
        used = dict.fromkeys(self.train_names + tests)
        if self.attributes is not None:
            # each image's caption has its own seed: captioning only the images used (FineGPR:
            # 12,650 of 2,028,600) gives them the captions captioning all would
            self.captions = generated_captions(
                {name: self.images[name] for name in used}, self.attributes, seed,
                read_environments(os.path.join(self.folder, "images.json")))
        for name in used:
            if name not in self.captions:
                self.skips.skip("images without a caption (kept as image-only samples)", name)
        self.captions_of = {self.path(n): self.captions[n] for n in used if n in self.captions}
        self.caption_of = {path: draw_caption(caps, os.path.basename(path), seed)
                           for path, caps in self.captions_of.items()}
        self.texts = [(Caption(self.caption_of[path], path), pid, camid)
                      for path, pid, camid in train if path in self.caption_of]
        self.text_queries = [(Caption(c, path), pid, camid)
                             for path, pid, camid in query for c in self.captions_of.get(path, ())]
        return train, query, gallery
