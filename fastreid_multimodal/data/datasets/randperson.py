"""RandPerson: synthetic pedestrians, images only (no attributes, no captions)."""
import logging
import os
import re
import shlex

from fastreid.data.datasets import DATASET_REGISTRY
from fastreid.data.datasets.bases import ImageDataset

from ...errors import DatasetNotFoundError
from ..finegpr_folder import SkipLog
from ..layouts import datasets_root

logger = logging.getLogger("fastreid.multimodal")
NAME = re.compile(r"^(\d+)_s(\d+)_c(\d+)_f(\d+)\.(?:jpg|png)$")
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar")
UNPACK = {".zip": "unzip -q {a} -d {d}", ".7z": "7z x {a} -o{d}", ".rar": "unrar x {a} {d}/"}


def unpack_command(archive, target):
    a, d = shlex.quote(archive), shlex.quote(target)
    for suffix, command in UNPACK.items():
        if archive.lower().endswith(suffix):
            return command.format(a=a, d=d)
    return f"tar -xf {a} -C {d}"


@DATASET_REGISTRY.register()
class RandPerson(ImageDataset):
    """$FASTREID_DATASETS/RandPerson/**/{pid}_s{scene}_c{cam}_f{frame}.jpg, all for training (any
    folder under RandPerson/: images/, randperson_subset/, one per camera); a camera is a (scene,
    camera) pair. Each file name counts once, wherever it lies. The release's per-camera archives
    must be unpacked first: left packed, they are named in the error with the command to run."""

    dataset_dir = "RandPerson"
    dataset_name = "randperson"

    def __init__(self, root=None, dataset_cfg=None, **kwargs):
        self.root = root if root is not None else datasets_root()
        folder = os.path.join(self.root, self.dataset_dir)
        self.check_before_run(folder)
        skips = SkipLog(folder)
        train, seen, archives = [], {}, []
        for path in self.files(folder):
            name = os.path.basename(path)
            if name.lower().endswith(ARCHIVES):
                archives.append(path)
                continue
            match = NAME.match(name)
            if match is None:
                skips.skip("files not named pid_sXX_cXX_fXXXXXX.jpg", path)
                continue
            if name in seen:
                # one image unpacked twice (images/ and randperson_subset/, or an archive
                # unpacked into two folders): the name holds pid, camera and frame
                skips.skip("images found twice (the first kept)", f"{path} (first: {seen[name]})")
                continue
            seen[name] = path
            pid, scene, cam, _ = (int(g) for g in match.groups())
            train.append((path, f"{self.dataset_name}_{pid}", f"{self.dataset_name}_{scene}_{cam}"))
        if not train:
            raise DatasetNotFoundError(self.nothing_unpacked(folder, archives, skips))
        if archives:
            logger.warning("%s: %d archives left packed beside the %d images read (their images "
                           "are not read unless unpacked), e.g. %s", folder, len(archives),
                           len(train), archives[0])
        skips.report()
        super().__init__(train, [], [], **kwargs)

    @staticmethod
    def files(folder):
        for parent, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                yield os.path.join(parent, name)

    @staticmethod
    def nothing_unpacked(folder, archives, skips):
        target = os.path.join(folder, "images")
        if archives:
            shown = "\n    ".join(os.path.relpath(a, folder) for a in archives[:10])
            more = f"\n    ... and {len(archives) - 10} more" if len(archives) > 10 else ""
            return (f"RandPerson: no unpacked image under {folder}, but {len(archives)} packed "
                    f"archives:\n    {shown}{more}\n  unpack each into {target}/ (images named "
                    f"pid_sXX_cXX_fXXXXXX.jpg may lie in sub-folders), e.g.\n    mkdir -p "
                    f"{shlex.quote(target)} && {unpack_command(archives[0], target)}")
        counts = ", ".join(f"{n} {reason}" for reason, n in skips.counts.items()) or "empty"
        return (f"RandPerson: no image under {folder} ({counts}); expected files named "
                f"{{pid}}_s{{scene}}_c{{cam}}_f{{frame}}.jpg, e.g. {target}/"
                "00000000_s01_c01_f000001.jpg")
