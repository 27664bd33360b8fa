"""SynthPerson<Domain>: the embedded FineGPR-style data, generated on first use.

One entry per domain (SynthPersonSource, SynthPersonCampus, SynthPersonWinter, SynthPersonNight);
all share FineGPRCaption's reader. The domain is rendered into
$FASTREID_DATASETS/SynthPerson/<domain>/ with DATASETS.SYNTH.* when absent or when those
parameters changed; the source domain is all-train (NUM_IDS identities); a target trains on
round(NUM_IDS * 0.5) identities and tests on TEST_IDS others, all-vs-all (query = gallery = every
test image; FastReID's same-identity-same-camera rule removes the query itself).
DATASETS.SYNTH.LOOK photo renders the same people and environments through cameras with real
photos' statistics (``synth.domains.PHOTO_LOOK``) into <domain>-photo/.
"""
from fastreid.data.datasets import DATASET_REGISTRY

from ...config import check_choice
from ...errors import ConfigError
from ..synth import DOMAINS, LOOKS, ensure_domain, get_domain, with_look
from .finegpr_caption import FineGPRCaption


class SynthPerson(FineGPRCaption):
    domain = "source"

    def synth_option(self, key, default):
        node = getattr(getattr(self.dataset_cfg, "DATASETS", None), "SYNTH", None)
        return getattr(node, key, default) if node is not None else default

    def count_option(self, key, default):
        """A DATASETS.SYNTH count that must be a positive integer (one clear error otherwise)."""
        value = self.synth_option(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"DATASETS.SYNTH.{key} must be a positive integer, got {value!r}")
        return value

    def generation_options(self):
        """ensure_domain's keyword arguments for this domain."""
        targets = DOMAINS[self.domain].train_fraction < 1  # the source domain has no test set
        return dict(num_ids=self.count_option("NUM_IDS", 100),
                    images_per_id=self.count_option("IMAGES_PER_ID", 12),
                    seed=self.synth_option("SEED", 0),
                    size=tuple(self.synth_option("SIZE", (128, 64))),
                    workers=self.synth_option("WORKERS", 1),
                    test_ids=self.count_option("TEST_IDS", 200) if targets else None)

    def look(self):
        look = self.synth_option("LOOK", "rendered")
        check_choice(look, LOOKS, "DATASETS.SYNTH.LOOK")
        return look

    def render_domain(self, folder=None, **options):
        """Render (or reuse) this domain through DATASETS.SYNTH.LOOK's cameras into ``folder``
        (default: the domain's name), suffixed with the look unless it is the rendered one."""
        look, folder = self.look(), folder or self.domain
        if look == "rendered":
            return ensure_domain(self.root, self.domain, folder=folder, **options)
        return ensure_domain(self.root, with_look(get_domain(self.domain), look),
                             folder=f"{folder}-{look}", **options)

    def locate(self):
        return self.render_domain(**self.generation_options())

    def images_per_id(self):
        return 0  # the domain was generated at the requested size: use every image

    def option(self, key, default):
        if key == "VERIFY_IMAGES":  # written by our own renderer a moment ago
            return False
        return super().option(key, default)


def _register(domain):
    name = "SynthPerson" + domain.capitalize()
    cls = type(name, (SynthPerson,), {"domain": domain, "dataset_name": name.lower(),
                                       "__doc__": f"SynthPerson '{domain}' domain: "
                                                  f"{DOMAINS[domain].description}"})
    DATASET_REGISTRY.register(cls)
    return cls


ENTRIES = {domain: _register(domain) for domain in DOMAINS}
