"""Where each data set must be placed under $FASTREID_DATASETS (shown when one is missing)."""
import os

DEMO_COMMAND = "make demo   (SynthPerson: generated on the fly, no download)"

LAYOUTS = {
    "Market1501": "Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}/*.jpg",
    "DukeMTMC": "DukeMTMC-reID/{bounding_box_train,query,bounding_box_test}/*.jpg",
    "MSMT17": "MSMT17_V2/{mask_train_v2,mask_test_v2}/ + "
              "{list_train,list_val,list_query,list_gallery}.txt",
    "FineGPR": "FineGPR/images/{pid:04d}_c{01-36}_w{01-07}_l{01-07}_p{01-09}.jpg (flat or in "
               "<pid>/ folders, as SynthPerson writes), or FineGPR's release: "
               "FineGPR_Dataset/FineGPR/<pid>/*.jpg or FineGPR_Dataset/FineGPR_subset/*.jpg "
               "(+ attributes.json / captions.txt in the folder above the images; see README, "
               "'Data sets')",
    "FineGPRCaption": "FineGPR/images/[<pid>/]*.jpg + FineGPR/captions.txt (ImageName:<file>, "
                      "the caption is: <caption>) or FineGPR/attributes.json; or FineGPR's "
                      "release FineGPR_Dataset/{FineGPR/<pid>/,FineGPR_subset/} + "
                      "FineGPR_Dataset/captions.txt or attributes.json",
    "CUHKPEDES": "CUHK-PEDES/reid_raw.json + CUHK-PEDES/imgs/<file_path>",
    "ICFGPEDES": "ICFG-PEDES/ICFG-PEDES.json + ICFG-PEDES/imgs/<file_path>",
    "RSTPReid": "RSTPReid/data_captions.json + RSTPReid/imgs/<img_path>",
    "RandPerson": "RandPerson/images/{pid}_s{scene}_c{cam}_f{frame}.jpg (unpacked; any folder "
                  "under RandPerson/ is read)",
    "CaptionedImages": "the JSONL or CSV file of DATASETS.CAPTIONED.FILE (see README, "
                       "'Your own captioned images')",
    "CUHK03": "cuhk03/cuhk03_release/cuhk-03.mat + cuhk03/cuhk03_new_protocol_config_"
              "{detected,labeled}.mat",
}
# identity splits of a real set read the set itself (data/datasets/held_out.py)
for _split in ("Subset", "Val"):
    LAYOUTS["Market1501" + _split] = LAYOUTS["Market1501"]
    LAYOUTS["DukeMTMC" + _split] = LAYOUTS["DukeMTMC"]


# FineGPR's image folders, in the order they are looked for: ours (a SynthPerson domain copied
# in), then FineGPR's release, full before subset; annotation files lie in the folder above
FINEGPR_IMAGE_DIRS = ("FineGPR/images", "FineGPR_Dataset/FineGPR", "FineGPR_Dataset/FineGPR_subset")

# what must exist under $FASTREID_DATASETS for each data set (any one of the alternatives);
# SynthPerson domains are absent from the table: they are generated on first use
REQUIRED = {
    "Market1501": ("Market-1501-v15.09.15/bounding_box_train", "bounding_box_train"),
    "DukeMTMC": ("DukeMTMC-reID/bounding_box_train",),
    "MSMT17": ("MSMT17_V2/list_train.txt", "MSMT17_V1/list_train.txt"),
    "CUHK03": ("cuhk03/cuhk03_release",),
    "FineGPR": FINEGPR_IMAGE_DIRS,
    "FineGPRCaption": FINEGPR_IMAGE_DIRS,
    "CUHKPEDES": ("CUHK-PEDES/reid_raw.json",),
    "ICFGPEDES": ("ICFG-PEDES/ICFG-PEDES.json",),
    "RSTPReid": ("RSTPReid/data_captions.json",),
    "RandPerson": ("RandPerson",),
}
for _split in ("Subset", "Val"):
    REQUIRED["Market1501" + _split] = REQUIRED["Market1501"]
    REQUIRED["DukeMTMC" + _split] = REQUIRED["DukeMTMC"]


def is_present(dataset_name, root=None):
    """Whether a data set is where FastReID will look for it (generated ones always are)."""
    if dataset_name not in REQUIRED:
        return True
    root = root or datasets_root()
    return any(os.path.exists(os.path.join(root, path)) for path in REQUIRED[dataset_name])


def datasets_root():
    return os.getenv("FASTREID_DATASETS", "datasets")


def describe_missing(dataset_name, missing_path):
    """One message: what is missing, where it is looked for, the layout, the no-download demo."""
    root = os.path.abspath(datasets_root())
    layout = LAYOUTS.get(dataset_name, "see the data set's documentation")
    return (f"data set {dataset_name}: '{missing_path}' does not exist.\n"
            f"  Data sets are read from FASTREID_DATASETS={root}\n"
            f"  expected layout: $FASTREID_DATASETS/{layout}\n"
            f"  to try the project without any download: {DEMO_COMMAND}")
