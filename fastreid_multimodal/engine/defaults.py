"""Command-line plumbing shared by tools/: config loading with clear errors, setup, error exit."""
import difflib
import os
import re
import sys

from fastreid.config import get_cfg
from fastreid.engine import default_argument_parser as _fastreid_argument_parser
from fastreid.engine import default_setup as _fastreid_default_setup

from ..config import add_multimodal_config
from ..errors import ConfigError, UserError, exit_with_error_line
from ..utils.device import resolve_device


def default_argument_parser():
    """FastReID's parser (--config-file, --resume, --eval-only, --num-gpus, ..., KEY VALUE opts)."""
    parser = _fastreid_argument_parser()
    parser.description = "fastreid-multimodal training and evaluation"
    return parser


def _all_keys(cfg, prefix=""):
    for key, value in cfg.items():
        name = prefix + key
        if isinstance(value, dict):
            yield from _all_keys(value, name + ".")
        else:
            yield name


def _unknown_key_error(cfg, exc, source):
    message = str(exc.args[0]) if exc.args else str(exc)
    match = re.search(r"Non-existent (?:config )?key: (\S+)", message)
    if not match:
        return ConfigError(f"{source}: {message}")
    key = match.group(1)
    close = difflib.get_close_matches(key, list(_all_keys(cfg)), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"{source}: unknown config key {key}.{hint}")


def load_config(config_file="", opts=(), check_files=True):
    """FastReID defaults + our keys + a yacs file (with _BASE_) + KEY VALUE overrides."""
    cfg = get_cfg()
    add_multimodal_config(cfg)
    if config_file:
        if not os.path.isfile(config_file):
            raise ConfigError(f"config file '{config_file}' does not exist")
        try:
            cfg.merge_from_file(config_file)
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise _unknown_key_error(cfg, exc, config_file) from None
    if opts:
        flags = [o for o in opts if str(o).startswith("--")]
        if flags:
            raise ConfigError(f"{' '.join(flags)}: flags must come before the KEY VALUE overrides")
        if len(opts) % 2:
            raise ConfigError(f"command-line overrides must be KEY VALUE pairs, got {list(opts)}")
        try:
            cfg.merge_from_list(list(opts))
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise _unknown_key_error(cfg, exc, "command line") from None
    if check_files:
        check_config_files(cfg)
    resolve_device(cfg)
    cfg.freeze()
    return cfg


def check_config_files(cfg):
    """Files a config points to must exist before anything is built."""
    weights = cfg.MODEL.WEIGHTS
    if weights and not os.path.isfile(weights):
        raise ConfigError(f"MODEL.WEIGHTS: checkpoint file '{weights}' does not exist "
                          "(expected a .pth written by a FastReID/fastreid-multimodal run, "
                          "e.g. OUTPUT_DIR/model_final.pth)")
    if cfg.MODEL.BACKBONE.PRETRAIN:
        path = cfg.MODEL.BACKBONE.PRETRAIN_PATH
        if not path:  # FastReID's own backbones would try to download with gdown here
            raise ConfigError("MODEL.BACKBONE.PRETRAIN is True but MODEL.BACKBONE.PRETRAIN_PATH is "
                              "empty: give a local weight file (or, for the ViT backbones, a cached "
                              "timm name), or set MODEL.BACKBONE.PRETRAIN False; nothing is downloaded")
        from ..modeling.backbones.pretrained import timm_hub_id
        packaged = path == "packaged" and cfg.MODEL.BACKBONE.NAME == "build_mobilenetv2_backbone"
        if not packaged and not os.path.isfile(path) and timm_hub_id(path) is None:  # names resolve at build
            raise ConfigError(f"MODEL.BACKBONE.PRETRAIN_PATH: '{path}' does not exist and is not "
                              "a timm model name with pre-trained weights (expected a local weight "
                              "file, e.g. vit_base_patch16_224.augreg2_in21k_ft_in1k, or packaged "
                              "with build_mobilenetv2_backbone)")


def default_setup(cfg, args):
    """FastReID's setup (logger, env info, config dump), which compat makes seed from cfg.SEED
    and fall back to the CPU (the same under FastReID's own scripts)."""
    _fastreid_default_setup(cfg, args)
    return cfg


def run_cli(main, *args, hard_exit=False):
    """Run ``main(*args)``; a UserError ends the process with its message alone (exit code 2).
    ``hard_exit``: leave with os._exit (a training process, whose background threads may be busy)."""
    try:
        return main(*args)
    except UserError:
        exit_with_error_line(sys.exc_info(), hard=hard_exit)
