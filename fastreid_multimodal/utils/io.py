"""Atomic file writes: a reader (or a resumed run) sees the old file or the new one, never a
half-written one. Every file the project writes goes through here."""
import json
import os


def _temporary(path):
    # the pid lets a later run tell a killed writer's leftover from a live one (engine.trainer)
    return f"{path}.tmp.{os.getpid()}"


def _replace_with(path, write, mode):
    tmp = _temporary(path)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path, text):
    _replace_with(path, lambda f: f.write(text), "w")


def atomic_write_json(path, obj, **dump_kwargs):
    """``json.dump(obj, **dump_kwargs)`` and a final newline."""
    atomic_write_text(path, json.dumps(obj, **dump_kwargs) + "\n")


def atomic_write_gzip_json(path, obj):
    """``obj`` as gzip-compressed JSON, byte-identical for identical ``obj`` (no time stamp)."""
    import gzip
    _replace_with(path, lambda f: f.write(gzip.compress(json.dumps(obj).encode(), mtime=0)), "wb")


def read_gzip_json(path):
    import gzip
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def atomic_torch_save(obj, path):
    import torch
    _replace_with(path, lambda f: torch.save(obj, f), "wb")
