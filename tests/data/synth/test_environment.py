"""SynthPerson environments follow their domain's tables."""
import numpy as np

from fastreid_multimodal.data.synth import DOMAINS, get_domain, sample_environment


def test_viewpoint_follows_source_camera():
    src = get_domain("source")
    for k in range(60):
        env = sample_environment(np.random.default_rng(k), src)
        base = (env.camera - 1) * 10.0
        diff = (env.viewpoint_deg - base + 180) % 360 - 180
        assert abs(diff) <= 5.0 + 1e-6


def test_domain_tables_are_respected():
    for name, d in DOMAINS.items():
        cams = {c.cid for c in d.cameras}
        for k in range(200):
            env = sample_environment(np.random.default_rng(k), d)
            assert env.camera in cams
            assert d.weather_probs[env.weather - 1] > 0
            assert d.illumination_probs[env.illumination - 1] > 0
            cam = d.camera(env.camera)
            assert env.scene in (cam.scenes or range(1, 10))
    assert len(DOMAINS["source"].cameras) == 36
    assert all(len(d.cameras) <= 8 for n, d in DOMAINS.items() if n != "source")
    assert set(DOMAINS) >= {"source", "campus", "winter", "night"}
