"""The fixes that rewrite fastreid code apply to the fastreid version they were written against;
on another version they are skipped with one warning, and the rest still applies."""
import logging

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat
from fastreid_multimodal.compat import checkpoint, data, distributed, training
from fastreid_multimodal.compat.patching import rewrites_fastreid

WHOLE_METHOD_REWRITES = [training.amp_on_cpu, checkpoint.atomic_and_data_only_checkpoints,
                         data.dataloader_on_cpu, distributed.launch_on_cpu]


def test_installed_version_comes_from_package_metadata():
    import fastreid
    assert fastreid.__version__ == "1.3"  # fastreid 1.4.0 says so itself: not to be trusted
    assert compat.installed_fastreid_version() == compat.FASTREID_VERSION == "1.4.0"


def test_the_expected_version_gets_every_fix(caplog):
    with caplog.at_level(logging.WARNING):
        fixes = compat.applicable_fixes("1.4.0")
    assert fixes == compat.BEHAVIOURS + compat.DEFECTS and not caplog.records


def test_another_version_warns_once_and_skips_the_rewrites(monkeypatch, caplog):
    applied = []
    monkeypatch.setattr(compat, "_applied", False)
    monkeypatch.setattr(compat, "installed_fastreid_version", lambda: "1.5.0")
    monkeypatch.setattr(compat, "DEFECTS", [lambda: applied.append("wrapper"),
                                            rewrites_fastreid(lambda: applied.append("rewrite"))])
    monkeypatch.setattr(compat, "BEHAVIOURS", [])
    with caplog.at_level(logging.WARNING):
        compat.apply()
        compat.apply()
    assert applied == ["wrapper"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "fastreid 1.5.0" in warnings[0] and "fastreid 1.4.0" in warnings[0]


def test_whole_method_rewrites_are_the_gated_ones(caplog):
    kept = compat.applicable_fixes("1.5.0")
    assert not set(WHOLE_METHOD_REWRITES) & set(kept)
    assert training.optimizer_without_contiguous_buffers in kept  # a wrapper of fastreid's code


def test_each_fix_says_what_kind_it_is():
    for fix in compat.IMPORT_DEFECTS + compat.DEFECTS:
        assert fix.__doc__.startswith(("DEFECT:", "DEFECT (")), fix.__name__
    for fix in compat.IMPORT_BEHAVIOURS + compat.BEHAVIOURS:
        assert fix.__doc__.startswith("CHANGES A BEHAVIOUR:"), fix.__name__
