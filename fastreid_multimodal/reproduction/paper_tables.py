"""The papers' tables (transcribed from DMF and MMET, see shared/papers.md) and the runs that
reproduce each of them; the markdown writer that puts our numbers next to the paper's.

A table has rows (pre-training variants, data sets, losses); a row is produced by one run — a
DMF two-stage pipeline or one train_net run — whose results.json holds metrics per target.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

R1, MAP, R5 = "Rank-1", "mAP", "Rank-5"
T2I = "text2image/"  # prefix of text->image retrieval metrics in results.json


@dataclass(frozen=True)
class Run:
    """How one row is produced. kind 'pipeline': tools/dmf_pipeline.py (stage I + II);
    kind 'train': tools/train_net.py with one config; kind 'transfer': tools/transfer_eval.py
    (the 'train' run of the same config and options, then its final model tested on ``tests``,
    with ``eval_opts`` on the evaluation only)."""
    kind: str
    config: str                  # train, transfer: the config; pipeline: the stage II config
    pretrain: str = ""           # pipeline: the stage I config
    variant: str = "both"        # pipeline: DMF pre-training variant
    opts: Tuple[str, ...] = ()
    folder: str = ""             # names its run folders instead of the first row using it
    tests: Tuple[str, ...] = ()  # transfer: the data sets tested on
    eval_opts: Tuple[str, ...] = ()  # transfer: overrides of the evaluation only (the training is shared)


@dataclass(frozen=True)
class Row:
    name: str
    run: Run
    paper: Dict[str, Dict[str, float]] = field(default_factory=dict)  # target -> metric -> value
    seed_offset: int = 0  # trains seed + offset for each planned seed (A/A: a disjoint seed set)


@dataclass(frozen=True)
class Table:
    title: str
    targets: Tuple[str, ...]
    metrics: Tuple[str, ...]
    rows: Tuple[Row, ...]
    synthetic: Optional["Table"] = None  # the same structure on SynthPerson at demo size
    pairing: str = "seed"  # steps pair the rows' values by seed, or by "position" (A/A tables)
    steps: Optional[Tuple[Tuple[str, str], ...]] = None  # (from, to) rows compared; None: consecutive rows
    training: Tuple[str, ...] = ()  # training-log keys reported per row: metrics.json's last record


def _both(r1, m):
    return {R1: r1, MAP: m}


DMF_PRE = "configs/DMF/vit_finegpr.yml"
SYN_PRE, SYN_FT = "configs/Demo/dmf_stage1_synth.yml", "configs/Demo/dmf_stage2_synth.yml"
SYN_TARGETS = ("SynthPersonCampus", "SynthPersonWinter", "SynthPersonNight")
SYN_MMET_METRICS = (MAP, R1, T2I + MAP, T2I + R1)
SYN_MMM = Run("train", "configs/Demo/mmet_synth.yml")  # in every synthetic MMET table: trained once
GC_BNNECK = ("MODEL.MMET.GC_FEATURE", "bnneck")
NO_FUSION_REID = ("MODEL.MMET.FUSION_REID_WEIGHT", "0.0")
FUSION_REID_LOW = ("MODEL.MMET.FUSION_REID_WEIGHT", "0.1")
TEXT_REID_LOW = ("MODEL.MMET.TEXT_REID_WEIGHT", "0.1")
FUSION_LR_CONSTANT = ("MODEL.MMET.FUSION_LR_SCHEDULE", "constant")
# no masking losses (MMM is the other loss on the fusion encoder) and no ID + triplet on [CLS_M]
ITM_ALONE = ("MODEL.LOSSES.NAME", '("CrossEntropyLoss", "TripletLoss", "GlobalContrastive", "ImageTextMatching")',
             *NO_FUSION_REID, *FUSION_LR_CONSTANT)
PATCH_STEM, CONV_STEM = ("MODEL.VIT.STEM", "patch"), ("MODEL.VIT.STEM", "conv")


def _dmf_ablation(pre, ft, targets, paper):
    names = {"none": "none (baseline)", "text": "text only", "image": "image only",
             "both": "text + image (DMF)"}
    return tuple(Row(names[v], Run("pipeline", ft, pre, v), paper.get(v, {}))
                 for v in ("none", "text", "image", "both"))


STOCK_BASELINE = "stock Baseline (MobileNetV2, ImageNet)"  # what a FastReID user would pick instead
DMF_TEXT_WEIGHTED = "text + image (DMF), caption loss weight 0.1"


def _synthetic_dmf_ablation():
    """DMF Table 1's rows on SynthPerson, then the anchor: FastReID's stock Baseline on the same
    ImageNet network, pre-trained on the source images and fine-tuned on campus for the same
    epochs. Steps: the paper's order, and the anchor against DMF."""
    rows = _dmf_ablation(SYN_PRE, SYN_FT, SYN_TARGETS, {}) + (
        Row(STOCK_BASELINE, Run("pipeline", "configs/Demo/baseline_stage2_synth.yml",
                                "configs/Demo/baseline_stage1_synth.yml", "image")),
        # ours: the captions' share of stage I's losses at the weight chosen on SourceVal (the
        # dmf-stage1 table, whose stage I models these are)
        Row(DMF_TEXT_WEIGHTED, Run("pipeline", SYN_FT, SYN_PRE, "both",
                                   opts=("MODEL.DMF.TEXT_LOSS_WEIGHT", "0.1"))))
    names = [row.name for row in rows]
    return Table(
        "DMF Table 1 on SynthPerson: pre-training on the source domain, stage II on campus "
        "(R1 / mAP)", SYN_TARGETS, (R1, MAP), rows,
        steps=tuple(zip(names[:3], names[1:4])) + ((STOCK_BASELINE, names[3]),
                                                   (names[2], DMF_TEXT_WEIGHTED),
                                                   (names[3], DMF_TEXT_WEIGHTED),
                                                   (STOCK_BASELINE, DMF_TEXT_WEIGHTED)))


def _dmf_stage1():
    """Does the caption help the image features DMF's stage I leaves, before any fine-tuning
    (ours)? The synthetic Table 1's stage I models of the image-only and DMF rows (shared, not
    trained again), tested directly on the held-out source identities and the three targets."""
    tests = ("SynthPersonSourceVal",) + SYN_TARGETS
    variants = (("image only", "image"), ("text + image (DMF)", "both"))

    def stage1(name, variant, *opts):
        return Row(name, Run("transfer", SYN_PRE, tests=tests,
                             opts=("MODEL.DMF.MODALITIES", variant) + opts))
    rows = tuple(stage1(f"{name}, after stage I", variant) for name, variant in variants)
    # the demo's stage I is far from converged (ID loss 2.7-2.9 of ln 100 = 4.6 at its end): does
    # the image path catch up with the captions given three times the steps?
    rows += tuple(stage1(f"{name}, after a 30-epoch stage I", variant, "SOLVER.MAX_EPOCH", "30",
                         "SOLVER.CHECKPOINT_PERIOD", "10") for name, variant in variants)
    # FastReID's hard mining over the fused batch makes a caption the hardest positive of an image
    # anchor in about a third of the batches: without the triplet loss, do captions still cost?
    rows += tuple(stage1(f"{name}, ID loss only", variant, "MODEL.LOSSES.NAME", '("CrossEntropyLoss",)')
                  for name, variant in variants)
    # the frozen ImageNet translator fixes what the image tokens can say; trained, the image path
    # can take what the captions teach into its own features (49.4 -> 72.0 SourceVal mAP for DMF)
    rows += tuple(stage1(f"{name}, translator trained", variant, "MODEL.IMAGE.FREEZE_TRANSLATOR", "False")
                  for name, variant in variants)
    # without the triplet loss captions cost more, so the shared classifier is the suspect
    rows += (stage1("text + image (DMF), one classifier per modality", "both",
                    "MODEL.DMF.CLASSIFIER", "per_modality"),)
    # MMET's text path cost less at a lower L_GC weight: the captions' share of DMF's losses,
    # weighted down (MODEL.DMF.TEXT_LOSS_WEIGHT), chosen on SourceVal
    rows += tuple(stage1(f"text + image (DMF), caption loss weight {weight}", "both",
                         "MODEL.DMF.TEXT_LOSS_WEIGHT", weight) for weight in ("0.3", "0.1"))
    names = [row.name for row in rows]
    return Table(
        "DMF's stage I alone (ours)", (), (MAP, R1), (),
        synthetic=Table(
            "DMF's stage I models on SynthPerson, no stage II: image-only against text + image "
            "pre-training on the source domain, tested directly (mAP / R1)", tests, (MAP, R1), rows,
            steps=((names[0], names[1]), (names[2], names[3]), (names[4], names[5]),
                   (names[6], names[7]), (names[0], names[2]), (names[1], names[3]),
                   (names[1], names[8]), (names[0], names[8]), (names[1], names[9]),
                   (names[1], names[10]), (names[0], names[9]), (names[0], names[10]))))


REAL_FT = "configs/DMF/real/duke_to_market.yml"
REAL_BASELINE = "configs/DMF/real/baseline_duke_to_market.yml"
SYN_BASELINE_PRE = "configs/Demo/baseline_stage1_synth.yml"
DMF_TABLE1_MARKET = {  # DMF Table 1, stage II on DukeMTMC, tested on Market1501 (R1 / mAP)
    "none": {"Market1501": _both(54.2, 30.1)}, "text": {"Market1501": _both(64.1, 38.7)},
    "image": {"Market1501": _both(74.9, 46.3)}, "both": {"Market1501": _both(80.2, 52.6)}}


def _real_dmf_ablation(stage2=REAL_FT, baseline=REAL_BASELINE, source="DukeMTMC-reID",
                       target="Market1501", paper=DMF_TABLE1_MARKET):
    """DMF Table 1's protocol at CPU scale: stage I on SynthPerson (the synthetic table's runs,
    shared), stage II on one real data set's photos (``stage2``), tested on another (``target``);
    then FastReID's stock Baseline from the same ImageNet weights fine-tuned on the same photos."""
    rows = _dmf_ablation(SYN_PRE, stage2, (target,), paper) + (
        Row(STOCK_BASELINE, Run("pipeline", baseline, SYN_BASELINE_PRE, "none")),
        # ours: the synthetic table's weighted-caption stage I (chosen on SourceVal), fine-tuned
        # on the same photos
        Row(DMF_TEXT_WEIGHTED, Run("pipeline", stage2, SYN_PRE, "both",
                                   opts=("MODEL.DMF.TEXT_LOSS_WEIGHT", "0.1"))))
    none, text, image, both = (row.name for row in rows[:4])
    return Table(
        f"DMF Table 1 on real photos (CPU scale): SynthPerson pre-training, stage II on {source} "
        f"(200 identities), tested on {target} (R1 / mAP)", (target,), (R1, MAP), rows,
        steps=((none, text), (text, image), (image, both), (none, image), (STOCK_BASELINE, both),
               (image, DMF_TEXT_WEIGHTED), (both, DMF_TEXT_WEIGHTED),
               (STOCK_BASELINE, DMF_TEXT_WEIGHTED)))


REAL_PRE_PHOTO = "configs/DMF/real/stage1_synth_photo.yml"


def _real_dmf_photo():
    """The real-photo DMF table's image rows with stage I on the photo look (DATASETS.SYNTH.LOOK
    photo) beside the same rows on the rendered look (dmf-real's runs) and its anchor."""
    image, both = ("image only", "image"), ("text + image (DMF)", "both")
    rows = tuple(Row(f"{name}, {look} look", Run("pipeline", REAL_FT, pre, variant))
                 for name, variant in (image, both)
                 for look, pre in (("rendered", SYN_PRE), ("photo", REAL_PRE_PHOTO))) + (
        Row(STOCK_BASELINE, Run("pipeline", REAL_BASELINE, SYN_BASELINE_PRE, "none")),)
    names = [row.name for row in rows]
    return Table(
        "DMF on real photos, stage I on SynthPerson as rendered and through the photo look: "
        "stage II on DukeMTMC-reID (200 identities), tested on Market1501 (R1 / mAP)",
        ("Market1501",), (R1, MAP), rows,
        steps=((names[0], names[1]), (names[2], names[3]), (names[1], names[3]),
               (STOCK_BASELINE, names[3])))


MMET_TABLE1 = {  # MMET Table 1, pre-trained on FineGPR, tested directly (mAP / R1)
    "baseline": {"Market1501": _both(38.9, 15.4), "DukeMTMC": _both(19.5, 9.8)},
    "random": {"Market1501": _both(51.1, 26.7), "DukeMTMC": _both(35.1, 19.2)},
    "mmm": {"Market1501": _both(59.2, 28.8), "DukeMTMC": _both(43.6, 23.5)}}
REAL_TESTS = ("Market1501", "DukeMTMC")


def _real_mmet():
    """MMET Table 1's protocol at CPU scale: the synthetic table's models (trained on the
    SynthPerson source, shared), tested directly on Market-1501 and DukeMTMC-reID; the stock
    Baseline from the same ImageNet weights trained on the same images as the anchor."""
    rows = tuple(Row(name, Run("transfer", f"configs/Demo/{config}.yml", tests=REAL_TESTS),
                     MMET_TABLE1[key])
                 for name, config, key in (("baseline", "mmet_synth_baseline", "baseline"),
                                           ("MMET, random masking", "mmet_synth_random", "random"),
                                           ("MMET + MMM", "mmet_synth", "mmm"))) + (
        Row(STOCK_BASELINE, Run("transfer", STOCK_BASELINE_SYNTH.config, tests=REAL_TESTS)),)
    return Table("MMET Table 1 on real photos (CPU scale): trained on SynthPerson, tested directly "
                 "(mAP / R1)", REAL_TESTS, (MAP, R1), rows,
                 steps=(("baseline", "MMET, random masking"), ("MMET, random masking", "MMET + MMM"),
                        (STOCK_BASELINE, "MMET + MMM")))


def _synthetic_mmet(title, *rows, mmm_row, anchor=False, fusion_row=None):
    """An MMET table on SynthPerson: image->image and text->image metrics on the three targets;
    ``rows`` are (name, configs/Demo config name), then the MMM run the two tables share. With
    ``fusion_row``, the MMM models ranked on [CLS_M] of the image alone (MODEL.MMET.EVAL_FEATURE
    fusion, the feature the paper's Re-ID classifier reads), evaluated without training again.
    With ``anchor``, FastReID's stock Baseline on the same ImageNet network, trained on the same
    source images (the A/A table's runs), closes the table. Steps: the rows' order up to MMM,
    then MMM -> its [CLS_M] ranking and anchor -> MMM."""
    rows = tuple(Row(name, Run("train", f"configs/Demo/{config}.yml")) for name, config in rows) \
        + (Row(mmm_row, SYN_MMM),)
    steps = None
    names = [row.name for row in rows]
    if fusion_row:
        rows += (Row(fusion_row, Run("transfer", SYN_MMM.config, tests=SYN_TARGETS,
                                     eval_opts=("MODEL.MMET.EVAL_FEATURE", "fusion"))),)
    if anchor:
        rows += (Row(STOCK_BASELINE, STOCK_BASELINE_SYNTH),)
    if fusion_row or anchor:
        steps = tuple(zip(names[:-1], names[1:])) + \
            (((mmm_row, fusion_row),) if fusion_row else ()) + \
            (((STOCK_BASELINE, mmm_row),) if anchor else ())
    return Table(title + " (image->image mAP / R1, text->image mAP / R1)", SYN_TARGETS,
                 SYN_MMET_METRICS, rows, steps=steps)


def _mmm_ablation(what, *rows, training=()):
    """An ablation of ours over MMET + MMM; ``rows`` are (name, opts on Table 1's MMM config, opts on
    the demo MMM run). A row without demo opts is the demo MMM run the MMET tables share.
    ``training``: the training-log keys reported beside the metrics."""
    def demo_run(opts):
        return Run("train", SYN_MMM.config, opts=opts) if opts else SYN_MMM
    return Table(
        f"Ablation (ours, not in the papers): {what}, MMET + MMM (mAP / R1)",
        ("Market1501", "DukeMTMC"), (MAP, R1),
        tuple(Row(name, Run("train", "configs/MMET/table1_mmm.yml", opts=opts)) for name, opts, _ in rows),
        synthetic=Table(
            f"Ablation on SynthPerson: {what}, MMET + MMM, trained on the source domain "
            "(image->image mAP / R1, text->image mAP / R1)", SYN_TARGETS, SYN_MMET_METRICS,
            tuple(Row(name, demo_run(opts)) for name, _, opts in rows), training=training),
        training=training)


def _text_path_ablation():
    """Which part of MMET's text path moves image->image mAP (ours): the no-masking control
    without one unmasked loss at a time, and with one classifier per modality, against the
    image-only baseline. On the source validation split, so that what it finds can be chosen;
    the baseline row is the settings table's run."""
    no_masking = "configs/Demo/mmet_synth_no_masking.yml"
    losses = ("CrossEntropyLoss", "TripletLoss", "GlobalContrastive", "ImageTextMatching")
    paper = SOURCE_VAL + ("MODEL.MMET.GC_WEIGHT", "1.0")  # the demo's 0.1 was chosen here

    def without(loss):
        kept = ", ".join(f'"{name}"' for name in losses if name != loss)
        return ("MODEL.LOSSES.NAME", f"({kept})")
    rows = (Row("baseline", Run("train", "configs/Demo/mmet_synth_baseline.yml", opts=SOURCE_VAL)),
            Row("MMET, no masking", Run("train", no_masking, opts=paper)),
            Row("one classifier per modality", Run("train", no_masking,
                                                   opts=paper + PER_MODALITY_CLASSIFIER)),
            Row("- L_GC", Run("train", no_masking, opts=paper + without("GlobalContrastive"))),
            Row("L_GC on projections (FLAVA)", Run("train", no_masking,
                                                    opts=paper + ("MODEL.MMET.GC_PROJECTION", "192"))),
            Row("- ITM", Run("train", no_masking, opts=paper + without("ImageTextMatching"))),
            *(Row(f"L_GC weight {weight}", Run("train", no_masking,
                                               opts=SOURCE_VAL + ("MODEL.MMET.GC_WEIGHT", weight)))
              for weight in ("0.3", "0.1")),
            Row("- ID + triplet on [CLS_M]", Run("train", no_masking, opts=paper + NO_FUSION_REID)),
            # the demo's L_GC weight, and captions' Re-ID terms weighted down as DMF's are
            Row("L_GC weight 0.1, [CLS_T] ID + triplet weight 0.1",
                Run("train", no_masking, opts=SOURCE_VAL + TEXT_REID_LOW)),
            Row("L_GC weight 0.1, [CLS_T] and [CLS_M] ID + triplet weight 0.1",
                Run("train", no_masking, opts=SOURCE_VAL + TEXT_REID_LOW + FUSION_REID_LOW)))
    names = [row.name for row in rows]
    return Table(
        "Ablation (ours): MMET's text path without masking, one part changed at a time", (), (MAP, R1),
        (), synthetic=Table(
            "Ablation on SynthPersonSourceVal (held-out source identities): MMET's text path "
            "without masking, one part changed at a time (image->image mAP / R1, text->image "
            "mAP / R1)", ("SynthPersonSourceVal",), SYN_MMET_METRICS, rows,
            steps=((names[0], names[1]),) + tuple((names[1], name) for name in names[2:-2])
            + tuple(("L_GC weight 0.1", name) for name in names[-2:]) + ((names[0], names[-1]),)))


AA_SEEDS = 5  # A' trains seeds 5-9 beside A's 0-4 (the default five synthetic seeds)


def _folder_run(config):
    return Run("train", config, folder=config.rsplit("/", 1)[-1].rsplit(".", 1)[0])


# trained once for the A/A table and MMET Table 1's anchor row ("aa" is first in TABLES, so its
# folder holds them)
STOCK_BASELINE_SYNTH = _folder_run("configs/Demo/baseline_synth.yml")


def _aa_calibration(config):
    """One config twice, on disjoint seed sets, paired by position: the step between them must
    come out "no" about 95 % of the time; more "yes"/"reversed" means the 2SE rule (or the
    pairing) is too optimistic for this noise."""
    run = _folder_run(config)
    return Table(
        "A/A calibration (ours): one config, two disjoint seed sets, paired by position; "
        f"expected: no step ({config})", (), (MAP, R1), (),
        synthetic=Table(
            f"A/A calibration on SynthPerson: {config} twice, seeds 0-4 vs 5-9, paired by "
            "position; expected: no step (mAP / R1)", SYN_TARGETS, (MAP, R1),
            (Row("A: seeds 0-4", run), Row("A': seeds 5-9", run, seed_offset=AA_SEEDS)),
            pairing="position"))


SOURCE_VAL = ("DATASETS.TESTS", '("SynthPersonSourceVal",)')
ERASING = ("INPUT.REA.ENABLED", "True")
PATCHES_16 = ("MODEL.BACKBONE.STRIDE_SIZE", "(16, 16)", "MODEL.VIT.PATCH_SIZE", "16")
PER_MODALITY_CLASSIFIER = ("MODEL.MMET.CLASSIFIER", "per_modality")


def _mmet_settings():
    """Settings of the MMET demo chosen on the source validation split (held-out source
    identities; never a target): occlusion augmentation (FastReID's random erasing) and what the
    8-px patches that make masks mask cost against 16-px ones. Measured on the baseline row (the
    image encoder with ID + triplet); what it picks, every row of the MMET tables gets."""
    config = "configs/Demo/mmet_synth_baseline.yml"
    rows = (Row("baseline, 8-px patches", Run("train", config, opts=SOURCE_VAL)),
            Row("+ random erasing", Run("train", config, opts=SOURCE_VAL + ERASING)),
            Row("16-px patches", Run("train", config, opts=SOURCE_VAL + PATCHES_16)))
    names = [row.name for row in rows]
    return Table(
        "MMET demo settings (ours), chosen on the source validation split", (), (MAP, R1), (),
        synthetic=Table(
            "MMET demo settings on SynthPersonSourceVal (held-out source identities): the "
            "baseline row with random erasing and with 16-px patches (mAP / R1)",
            ("SynthPersonSourceVal",), (MAP, R1), rows,
            steps=((names[0], names[1]), (names[2], names[0]))))


def _synth_look():
    """What SynthPerson lacks for real photos, found on a validation split: FastReID's stock
    Baseline from the ImageNet weights trained on the SynthPerson source as rendered and through
    cameras with real photos' statistics (DATASETS.SYNTH.LOOK photo), tested directly on
    DukeMTMCVal (held-out DukeMTMC-reID training identities; never a test set)."""
    config, val = "configs/Demo/baseline_synth.yml", ("DATASETS.TESTS", '("DukeMTMCVal",)')
    rows = (Row("rendered look", Run("train", config, opts=val)),
            Row("photo look", Run("train", config, opts=val + ("DATASETS.SYNTH.LOOK", "photo"))))
    return Table("SynthPerson's look for real photos (ours): FastReID's stock Baseline (ImageNet "
                 "MobileNetV2) trained on the SynthPerson source, tested directly on DukeMTMCVal "
                 "(mAP / R1)", ("DukeMTMCVal",), (MAP, R1), rows,
                 steps=((rows[0].name, rows[1].name),))


TABLES = {
    "aa": _aa_calibration("configs/Demo/baseline_synth.yml"),
    "mmet-settings": _mmet_settings(),
    "dmf-1": Table(
        "DMF Table 1: pre-training ablation, stage II on DukeMTMC (R1 / mAP)",
        ("Market1501", "CUHK03", "MSMT17"), (R1, MAP),
        _dmf_ablation(DMF_PRE, "configs/DMF/vit_duke.yml", (), {
            "none": {"Market1501": _both(54.2, 30.1), "CUHK03": _both(11.4, 10.4), "MSMT17": _both(9.1, 8.7)},
            "text": {"Market1501": _both(64.1, 38.7), "CUHK03": _both(14.3, 13.1), "MSMT17": _both(13.7, 12.5)},
            "image": {"Market1501": _both(74.9, 46.3), "CUHK03": _both(19.3, 17.9), "MSMT17": _both(17.5, 16.0)},
            "both": {"Market1501": _both(80.2, 52.6), "CUHK03": _both(21.2, 19.4), "MSMT17": _both(20.8, 19.3)},
        }),
        synthetic=_synthetic_dmf_ablation()),
    "dmf-stage1": _dmf_stage1(),
    "dmf-real": _real_dmf_ablation(),
    "synth-look": _synth_look(),
    "dmf-real-photo": _real_dmf_photo(),
    "dmf-real-m2d": _real_dmf_ablation(  # the reverse direction (not in the paper's Table 1)
        "configs/DMF/real/market_to_duke.yml", "configs/DMF/real/baseline_market_to_duke.yml",
        "Market-1501", "DukeMTMC", paper={}),
    "dmf-2": Table(
        "DMF Table 2: stage II on Market1501 (R1 / mAP)", ("CUHK03", "MSMT17"), (R1, MAP),
        (Row("DMF", Run("pipeline", "configs/DMF/vit_market.yml", DMF_PRE),
             {"CUHK03": _both(23.4, 22.6), "MSMT17": _both(50.6, 21.5)}),)),
    "dmf-3": Table(
        "DMF Table 3: stage II on MSMT17 (R1 / mAP)", ("Market1501", "CUHK03"), (R1, MAP),
        (Row("DMF, MSMT17 train", Run("pipeline", "configs/DMF/vit_msmt.yml", DMF_PRE),
             {"Market1501": _both(81.3, 55.1), "CUHK03": _both(26.1, 24.7)}),
         Row("DMF, MSMT17 all", Run("pipeline", "configs/DMF/vit_msmt_all.yml", DMF_PRE),
             {"Market1501": _both(82.6, 58.8), "CUHK03": _both(34.0, 32.1)}))),
    "dmf-4": Table(
        "DMF Table 4: stage II on RandPerson (R1 / mAP)", ("Market1501", "CUHK03", "MSMT17"), (R1, MAP),
        (Row("DMF", Run("pipeline", "configs/DMF/vit_randperson.yml", DMF_PRE),
             {"Market1501": _both(78.7, 52.0), "CUHK03": _both(21.5, 19.3), "MSMT17": _both(52.4, 18.9)}),)),
    "mmet-1": Table(
        "MMET Table 1: masking, pre-trained on FineGPR (mAP / R1)", ("Market1501", "DukeMTMC"), (MAP, R1),
        (Row("baseline", Run("train", "configs/MMET/table1_baseline.yml"), MMET_TABLE1["baseline"]),
         Row("MMET, random masking", Run("train", "configs/MMET/table1_random_masking.yml"),
             MMET_TABLE1["random"]),
         Row("MMET + MMM", Run("train", "configs/MMET/table1_mmm.yml"), MMET_TABLE1["mmm"])),
        synthetic=_synthetic_mmet(
            "MMET Table 1 on SynthPerson: trained on the source domain",
            ("baseline", "mmet_synth_baseline"), ("MMET, no masking", "mmet_synth_no_masking"),
            ("MMET, random masking", "mmet_synth_random"), mmm_row="MMET + MMM", anchor=True,
            fusion_row="MMET + MMM, ranked on [CLS_M]")),
    "mmet-real": _real_mmet(),
    "mmet-2": Table(
        "MMET Table 2: FineGPR -> CUHK-PEDES text->image (mAP / R1 / R5)", ("CUHKPEDES",),
        (T2I + MAP, T2I + R1, T2I + R5),
        (Row("MIM only", Run("train", "configs/MMET/table2_mim.yml"),
             {"CUHKPEDES": {T2I + MAP: 24.6, T2I + R1: 36.7, T2I + R5: 47.6}}),
         Row("MLM only", Run("train", "configs/MMET/table2_mlm.yml"),
             {"CUHKPEDES": {T2I + MAP: 14.4, T2I + R1: 27.8, T2I + R5: 39.5}}),
         Row("MMM", Run("train", "configs/MMET/table2_mmm.yml"),
             {"CUHKPEDES": {T2I + MAP: 25.6, T2I + R1: 38.8, T2I + R5: 50.4}})),
        synthetic=_synthetic_mmet(
            "MMET Table 2 on SynthPerson: masking losses, trained on the source domain",
            ("MIM only", "mmet_synth_mim"), ("MLM only", "mmet_synth_mlm"), mmm_row="MMM")),
    "mmet-gc": _mmm_ablation(
        "what L_GC compares", ("L_GC on raw [CLS]", (), ()),
        ("L_GC on BNNeck features", GC_BNNECK, GC_BNNECK)),
    "mmet-fusion": _mmm_ablation(
        "ID + triplet on [CLS_M] or not", ("ID + triplet on [CLS_M]", (), ()),
        ("[CLS_M] left to ITM / MMM", NO_FUSION_REID, NO_FUSION_REID)),
    "mmet-text-path": _text_path_ablation(),
    "mmet-itm": _mmm_ablation(  # ITM learns at a constant lr on frozen encodings, not in the run
        "the fusion encoder's learning-rate schedule", ("shared (cosine)", (), ()),
        ("constant after warm-up", FUSION_LR_CONSTANT, FUSION_LR_CONSTANT),
        # nothing but ITM trains the fusion encoder: does ITM learn when nothing competes with it?
        ("ITM alone trains the fusion encoder, constant", ITM_ALONE, ITM_ALONE), training=("loss_itm",)),
    "mmet-stem": _mmm_ablation(  # the paper's configs use the patchify stem, the demo the conv one
        "the image encoder's stem", ("patchify stem", (), PATCH_STEM),
        ("convolutional stem", CONV_STEM, ())),
    "mmet-3": Table(
        "MMET Table 3: pre-trained on FineGPR (mAP / R1)", ("Market1501", "DukeMTMC", "CUHK03"), (MAP, R1),
        (Row("MMET", Run("train", "configs/MMET/finegpr.yml"),
             {"Market1501": _both(59.2, 28.8), "DukeMTMC": _both(43.6, 23.5),
              "CUHK03": _both(23.6, 20.3)}),)),
    "mmet-4": Table(
        "MMET Table 4: pre-training set (mAP / R1)", ("Market1501", "DukeMTMC", "CUHK03"), (MAP, R1),
        (Row("RandPerson", Run("train", "configs/MMET/table4_randperson.yml"),
             {"Market1501": _both(55.6, 28.8), "DukeMTMC": _both(47.6, 27.1),
              "CUHK03": _both(13.4, 10.8)}),
         Row("FineGPR", Run("train", "configs/MMET/finegpr.yml"),
             {"Market1501": _both(59.2, 28.8), "DukeMTMC": _both(43.6, 23.5),
              "CUHK03": _both(23.6, 20.3)}))),
}


def _cell(value, fmt="{:.1f}"):
    return "-" if value is None else fmt.format(value)


def format_comparison(table, ours, spread=None, reference=None):
    """Markdown: per row and target, ours | paper | delta for each metric.

    ``ours``: row name -> target -> metric -> value (missing: '-'); ``spread``: the same shape
    with standard deviations over seeds, shown as ours±std; ``reference``: the same shape, extra
    rows after the table's (e.g. the chance level)."""
    with_paper = any(row.paper for row in table.rows)  # synthetic tables have no paper column
    head = ["row"]
    for target in table.targets:
        for metric in table.metrics:
            short = metric.replace(T2I, "t2i ").replace("Rank-", "R")
            head += [f"{target} {short}"] + (["paper", "Δ"] if with_paper else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.rows:
        cells = [row.name]
        for target in table.targets:
            for metric in table.metrics:
                mine = ours.get(row.name, {}).get(target, {}).get(metric)
                paper = row.paper.get(target, {}).get(metric)
                std = (spread or {}).get(row.name, {}).get(target, {}).get(metric)
                text = _cell(mine) + (f"±{std:.1f}" if mine is not None and std is not None else "")
                delta = None if mine is None or paper is None else mine - paper
                cells += [text] + ([_cell(paper), _cell(delta, "{:+.1f}")] if with_paper else [])
        lines.append("| " + " | ".join(cells) + " |")
    for name, values in (reference or {}).items():
        cells = [name]
        for target in table.targets:
            for metric in table.metrics:
                cells += [_cell(values.get(target, {}).get(metric))] + (["", ""] if with_paper else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
