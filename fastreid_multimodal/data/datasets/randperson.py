"""RandPerson: synthetic pedestrians, images only (no attributes, no captions)."""
import glob
import os
import re

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ..finegpr_folder import SkipLog
from ..layouts import datasets_root

NAME = re.compile(r"^(\d+)_s(\d+)_c(\d+)_f(\d+)\.(?:jpg|png)$")


@DATASET_REGISTRY.register()
class RandPerson(ImageDataset):
    """$FASTREID_DATASETS/RandPerson/{images,randperson_subset}/{pid}_s{scene}_c{cam}_f{frame}.jpg,
    all for training; a camera is a (scene, camera) pair."""

    dataset_dir = "RandPerson"
    dataset_name = "randperson"

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        folder = os.path.join(self.root, self.dataset_dir)
        candidates = [os.path.join(folder, d) for d in ("images", "randperson_subset")]
        image_dir = next((d for d in candidates if os.path.isdir(d)), candidates[0])
        self.check_before_run([folder, image_dir])
        skips = SkipLog(image_dir)
        train = []
        for path in sorted(glob.glob(os.path.join(image_dir, "**", "*.*"), recursive=True)):
            match = NAME.match(os.path.basename(path))
            if match is None:
                skips.skip("files not named pid_sXX_cXX_fXXXXXX.jpg", path)
                continue
            pid, scene, cam, _ = (int(g) for g in match.groups())
            train.append((path, f"{self.dataset_name}_{pid}", f"{self.dataset_name}_{scene}_{cam}"))
        skips.report()
        super().__init__(train, [], [], **kwargs)
