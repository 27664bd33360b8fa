"""Temporary files of saves killed in an earlier run are removed; a live writer's are kept."""
import os
import subprocess
import sys

from fastreid_multimodal.engine.trainer import remove_stale_temp_files


def test_stale_temp_files_of_killed_saves_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f"model_0004.pth.tmp.{dead}").write_bytes(b"partial")
    (tmp_path / f"model_0005.pth.tmp.{os.getpid()}").write_bytes(b"being written")
    remove_stale_temp_files(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"model_0005.pth.tmp.{os.getpid()}"]
