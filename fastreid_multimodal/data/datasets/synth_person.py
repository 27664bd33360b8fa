"""SynthPerson<Domain>: the embedded FineGPR-style data, generated on first use.

One entry per domain (SynthPersonSource, SynthPersonCampus, SynthPersonWinter, SynthPersonNight);
all share FineGPRCaption's reader. The domain is rendered into
$FASTREID_DATASETS/SynthPerson/<domain>/ with DATASETS.SYNTH.* when absent or when those
parameters changed; the source domain is all-train, targets are split into train/query/gallery.
"""
from fastreid.data.datasets import DATASET_REGISTRY

from ..synth import DOMAINS, ensure_domain
from .finegpr_caption import FineGPRCaption


class SynthPerson(FineGPRCaption):
    domain = "source"

    def synth_option(self, key, default):
        node = getattr(getattr(self.dataset_cfg, "DATASETS", None), "SYNTH", None)
        return getattr(node, key, default) if node is not None else default

    def locate(self):
        return ensure_domain(
            self.root, self.domain,
            num_ids=self.synth_option("NUM_IDS", 100),
            images_per_id=self.synth_option("IMAGES_PER_ID", 12),
            seed=self.synth_option("SEED", 0),
            size=tuple(self.synth_option("SIZE", (128, 64))),
            workers=self.synth_option("WORKERS", 1))

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
