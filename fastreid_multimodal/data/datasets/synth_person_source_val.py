"""SynthPersonSourceVal: a validation set drawn like the source domain, for choosing settings
without looking at the target domains.

Its DATASETS.SYNTH.VAL_IDS identities come from the source domain's renderer and identity stream
(same distribution of people, environments and cameras) with numbers from FIRST_PID up, which
SynthPersonSource (identities 0..NUM_IDS-1) never reaches: no validation identity is trained on.
Rendered into $FASTREID_DATASETS/SynthPerson/source_val/; all of it is test data, evaluated
all-vs-all like the targets (query = gallery = every image; FastReID's same-identity-same-camera
rule removes the query itself).
"""
from fastreid.data.datasets import DATASET_REGISTRY

from ...errors import ConfigError
from .synth_person import SynthPerson

FIRST_PID = 100_000  # above any realistic NUM_IDS; file names take pids of 4 digits or more
FOLDER = "source_val"


@DATASET_REGISTRY.register()
class SynthPersonSourceVal(SynthPerson):
    """Held-out source-domain identities, all test (query = gallery), for model selection."""

    domain = "source"
    dataset_name = "synthpersonsourceval"

    def locate(self):
        options = self.generation_options()
        if options["num_ids"] > FIRST_PID:
            raise ConfigError(f"DATASETS.SYNTH.NUM_IDS must be at most {FIRST_PID} for "
                              f"SynthPersonSourceVal to stay disjoint from SynthPersonSource")
        options.update(num_ids=self.count_option("VAL_IDS", 100), split=0.0, test_ids=None,
                       first_pid=FIRST_PID)
        return self.render_domain(FOLDER, **options)
