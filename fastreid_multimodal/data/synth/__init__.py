"""SynthPerson: a procedural, FineGPR-style synthetic pedestrian renderer (numpy + PIL).

Quick use::

    from fastreid_multimodal.data.synth import generate_domain
    path = generate_domain("datasets", "source", num_ids=100, images_per_id=8, seed=0)

See ``domains`` for the built-in domains (source, campus, winter, night), ``environment`` for
what varies per image, ``person`` and ``backgrounds`` for what is drawn, ``render`` for how a
picture is composed and ``generate`` for the on-disk layout.
"""
from ..finegpr_names import parse_image_name
from .attributes import (COLOUR_NAMES, COLOURS, SKIN_NAMES, SKIN_TONES, VISIBLE_ATTRIBUTES,
                         Identity, nearest_colour, sample_identity)
from .domains import (DOMAINS, ILLUMINATIONS, LOOKS, SCENES, VIEWPOINTS, WEATHERS, Camera, Domain,
                      Palette, get_domain, viewpoint_name, with_look)
from .environment import Environment, sample_environment
from .generate import (domain_dir, ensure_domain, generate_domain, identity_folder, identity_rng,
                       image_file, image_name, identity_split, image_rng, make_contact_sheet,
                       make_splits, mask_file, plan_images, read_domain, sample_domain_identity,
                       save_image, save_mask)
from .labels import PART_NAMES
from .render import render

__all__ = [
    "COLOUR_NAMES", "COLOURS", "SKIN_NAMES", "SKIN_TONES", "VISIBLE_ATTRIBUTES", "Identity",
    "nearest_colour", "sample_identity", "DOMAINS", "ILLUMINATIONS", "SCENES", "VIEWPOINTS",
    "WEATHERS", "LOOKS", "Camera", "Domain", "Palette", "get_domain", "viewpoint_name", "with_look",
    "domain_dir",
    "ensure_domain", "generate_domain", "identity_folder", "identity_rng", "identity_split",
    "image_file", "image_name", "image_rng", "make_contact_sheet", "make_splits", "mask_file",
    "parse_image_name", "plan_images", "read_domain",
    "sample_domain_identity", "save_image", "save_mask", "PART_NAMES", "Environment", "render",
    "sample_environment",
]
