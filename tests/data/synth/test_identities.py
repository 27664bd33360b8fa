"""SynthPerson identities: distinct people per domain, diverse but colour-ambiguous."""
import json

import numpy as np

from fastreid_multimodal.data.synth import Identity, sample_domain_identity


def test_domains_have_different_people():
    src = [sample_domain_identity("source", i, 0) for i in range(20)]
    tgt = [sample_domain_identity("winter", i, 0) for i in range(20)]
    assert all(a.height != b.height for a, b in zip(src, tgt))
    # the winter identity shift is visible in the attribute statistics
    win = [sample_domain_identity("winter", i, 0) for i in range(300)]
    cam = [sample_domain_identity("campus", i, 0) for i in range(300)]
    assert np.mean([w.boots for w in win]) > np.mean([c.boots for c in cam]) + 0.3
    assert np.mean([w.short_sleeve for w in win]) < np.mean([c.short_sleeve for c in cam]) - 0.3


def test_identities_are_diverse():
    ids = [sample_domain_identity("source", i, 0) for i in range(300)]
    pairs = [(i.upper, i.lower) for i in ids]
    # colours alone do not identify people: the commonest colour pair is shared by many ids
    assert max(pairs.count(p) for p in set(pairs)) >= 8
    # but the full visible+hidden appearance is unique
    keys = {(i.upper, i.lower, i.gender, i.hair, i.texture, i.bag_type, i.hat, i.skin,
             round(i.height, 2), round(i.build, 2)) for i in ids}
    assert len(keys) == 300
    assert all(not i.dress or i.gender == "female" for i in ids)
    rt = Identity.from_dict(json.loads(json.dumps(ids[0].to_dict())))
    assert rt == ids[0]
