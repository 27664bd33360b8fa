"""fastreid imports on torch >= 2 / Python >= 3.10, and the import is silent."""
import subprocess
import sys


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_torch_six_and_collections_mapping_defects_and_fixes():
    bare = _python("import fastreid.data")
    assert bare.returncode != 0 and "torch._six" in bare.stderr
    six_only = _python("import sys, types; six = types.ModuleType('torch._six'); "
                       "six.string_classes = (str, bytes); sys.modules['torch._six'] = six; "
                       "import fastreid.data")
    assert six_only.returncode != 0 and "Mapping" in six_only.stderr
    fixed = _python("import fastreid_multimodal; import fastreid.data.build, fastreid.evaluation.testing")
    assert fixed.returncode == 0, fixed.stderr


def test_import_is_silent():
    out = _python("import warnings; warnings.simplefilter('default'); import fastreid_multimodal")
    assert out.returncode == 0, out.stderr
    assert out.stderr == "" and out.stdout == ""
