"""CaptionedImages: one's own captioned Re-ID images, listed in one JSONL or CSV file."""
import os

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ...config import active_config
from ...errors import ConfigError, DatasetNotFoundError
from ..captioned_file import read_captioned_file
from ..layouts import datasets_root
from ..samples import Caption

# without camids, queries and gallery images get different cameras: FastReID's rule drops a
# query's same-identity gallery images taken by the query's own camera, which would drop them all
QUERY_CAMERA, GALLERY_CAMERA = 0, 1


@DATASET_REGISTRY.register()
class CaptionedImages(ImageDataset):
    """The records of DATASETS.CAPTIONED.FILE (``data/captioned_file.py``; a relative path is read
    under $FASTREID_DATASETS). ``train``: the train records' images; ``texts``: every caption of
    every train record, a text sample each (DMF stage I, like CUHKPEDES); ``caption_of``: an image's
    first caption (MMET's pairs), ``captions_of`` all of them; ``query``/``gallery``: the query and
    gallery records' images (image->image); ``text_queries``: every caption of every query record,
    ranked against ``text_gallery``, the gallery images (text->image)."""

    dataset_name = "captionedimages"

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        cfg = dataset_cfg if dataset_cfg is not None else active_config()
        node = getattr(getattr(cfg, "DATASETS", None), "CAPTIONED", None)
        self.file = self.locate(getattr(node, "FILE", "") if node is not None else "")
        records = read_captioned_file(self.file)
        by_split = {split: [r for r in records if r.split == split]
                    for split in ("train", "query", "gallery")}

        def label(value):
            return f"{self.dataset_name}_{value}"

        train = [(r.image, label(r.pid), label(r.camid or 0)) for r in by_split["train"]]
        self.texts = [(Caption(c, r.image), label(r.pid), label(r.camid or 0))
                      for r in by_split["train"] for c in r.captions]
        self.captions_of = {r.image: r.captions for r in records}
        self.caption_of = {image: captions[0] for image, captions in self.captions_of.items()}
        query = [(r.image, r.pid, QUERY_CAMERA if r.camid is None else r.camid)
                 for r in by_split["query"]]
        gallery = [(r.image, r.pid, GALLERY_CAMERA if r.camid is None else r.camid)
                   for r in by_split["gallery"]]
        self.text_queries = [(Caption(c, r.image), pid, camid)
                             for r, (_, pid, camid) in zip(by_split["query"], query)
                             for c in r.captions]
        self.text_gallery = list(gallery)
        super().__init__(train, query, gallery, **kwargs)

    def locate(self, file):
        if not file:
            raise ConfigError("DATASETS.CAPTIONED.FILE is empty: set it to the JSONL or CSV file "
                              "that lists your images (image, pid, camid, split, captions)")
        path = os.path.join(self.root, file)
        if not os.path.isfile(path):
            raise DatasetNotFoundError(
                f"data set CaptionedImages: DATASETS.CAPTIONED.FILE '{path}' does not exist (a "
                f"relative path is read under FASTREID_DATASETS={os.path.abspath(self.root)})")
        return path
