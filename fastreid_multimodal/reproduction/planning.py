"""Which runs a paper table needs, where they live, which data sets they read (tools/reproduce.py).

Runs live in ``<output>/<table>[-synthetic]/<row>_s<seed>``; a run whose results.json exists is
done, so an interrupted reproduction continues, and a run two tables share (the same configs and
options) lives under the first of them and is trained once. Missing data sets are reported before
anything runs.
"""
import os
import re
import sys
from dataclasses import dataclass

from ..data.build import build_dataset
from ..data.layouts import LAYOUTS, datasets_root, is_present
from ..engine.defaults import load_config
from ..errors import ConfigError
from .paper_tables import TABLES

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "tools")


@dataclass
class PlannedRun:
    row: str
    seed: int
    output_dir: str
    command: list
    configs: tuple
    tests: tuple = ()  # data sets tested on besides the configs' own (transfer runs)
    after: str = ""  # a run folder that must be finished first (a transfer run's training)
    recorded: bool = False  # its values are in the results JSON already (from a run folder now gone)

    @property
    def done(self):
        return os.path.isfile(os.path.join(self.output_dir, "results.json"))


def select(table_name, synthetic):
    table = TABLES[table_name]
    if not synthetic and not table.rows:
        raise ConfigError(f"--table {table_name} exists only with --synthetic")
    if synthetic:
        if table.synthetic is None:
            raise ConfigError(f"--table {table_name} has no --synthetic version (tables that have one: "
                             f"{', '.join(k for k, t in TABLES.items() if t.synthetic)})")
        return table.synthetic
    return table


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def choose_rows(table, wanted):
    """The names of the table's rows that ``wanted`` names (a row's name or its folder name);
    an unknown one is a ConfigError listing the table's rows."""
    by_name = {}
    for row in table.rows:
        by_name[row.name] = by_name[_slug(row.name)] = row.name
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ConfigError(f"--rows: {', '.join(map(repr, unknown))} is not a row of this table; "
                          f"its rows: {'; '.join(repr(row.name) for row in table.rows)}")
    return {by_name[name] for name in wanted}


def _run_dir(output_dir, run, synthetic, seed):
    """The run's folder, named after the first table (in TABLES order) with the same run."""
    for name, table in TABLES.items():
        chosen = table.synthetic if synthetic else table
        for row in chosen.rows if chosen else ():
            if row.run == run:
                return os.path.join(output_dir, name + ("-synthetic" if synthetic else ""),
                                    f"{_slug(run.folder or row.name)}_s{seed}")
    raise KeyError(run)


def _pairs(opts):
    """KEY VALUE options as a dict (their order does not change a run)."""
    return dict(zip(opts[::2], opts[1::2]))


def _stage1_dir(output_dir, run, seed, extra_opts):
    """Stage I's folder: that of the first pipeline (every table, in TABLES order, real before
    synthetic) with the same stage I config, variant and options, so one pre-training serves
    every stage II that starts from it (the papers fine-tune one stage I model on several sets).
    Command-line options change stage I, so a run given any trains its own."""
    if extra_opts:
        return None
    # a stage I some table trains and tests directly (a transfer run) serves a pipeline too
    wanted = {**_pairs(run.opts), "MODEL.DMF.MODALITIES": run.variant}
    for name, table in TABLES.items():
        for chosen, synthetic in ((table, False), (table.synthetic, True)):
            for row in chosen.rows if chosen else ():
                other = row.run
                if other.kind == "transfer" and other.config == run.pretrain and \
                        _pairs(other.opts) == wanted:
                    return _train_dir(output_dir, other, seed) or \
                        os.path.join(_run_dir(output_dir, other, synthetic, seed), "train")
    for name, table in TABLES.items():
        for chosen, suffix in ((table, ""), (table.synthetic, "-synthetic")):
            for row in chosen.rows if chosen else ():
                other = row.run
                if other.kind == "pipeline" and (other.pretrain, other.variant, other.opts) == \
                        (run.pretrain, run.variant, run.opts):
                    return os.path.join(output_dir, name + suffix,
                                        f"{_slug(other.folder or row.name)}_s{seed}", "stage1")
    return None


def _train_dir(output_dir, run, seed):
    """A transfer run's training folder: that of the first 'train' run (every table, real before
    synthetic) with the same config and options, or the stage I of the first pipeline whose
    pre-training is that config with those options (the variant as MODEL.DMF.MODALITIES, as
    tools/dmf_pipeline.py passes it), so a model trained for one table is tested on other data
    sets without training it again."""
    for name, table in TABLES.items():
        for chosen, suffix in ((table, ""), (table.synthetic, "-synthetic")):
            for row in chosen.rows if chosen else ():
                other = row.run
                folder = os.path.join(output_dir, name + suffix,
                                      f"{_slug(other.folder or row.name)}_s{seed}")
                if other.kind == "train" and (other.config, other.opts) == (run.config, run.opts):
                    return folder
                if other.kind == "pipeline" and other.variant != "none" and \
                        (other.pretrain, (*other.opts, "MODEL.DMF.MODALITIES", other.variant)) == \
                        (run.config, run.opts):
                    return os.path.join(folder, "stage1")
    return None


def plan(table_name, output_dir, synthetic=False, seeds=(0,), extra_opts=()):
    table = select(table_name, synthetic)
    runs = []
    # seed by seed: an interrupted reproduction has every row for its finished seeds
    for position in seeds:
        for row in table.rows:
            seed = position + row.seed_offset
            out = _run_dir(output_dir, row.run, synthetic, seed)
            opts = [*row.run.opts, *extra_opts, "SEED", str(seed)]
            if row.run.kind == "pipeline":
                command = [sys.executable, os.path.join(TOOLS, "dmf_pipeline.py"),
                           "--pretrain", row.run.pretrain, "--finetune", row.run.config,
                           "--output-dir", out, "--variant", row.run.variant]
                stage1 = _stage1_dir(output_dir, row.run, seed, extra_opts)
                if row.run.variant != "none" and stage1 and stage1 != os.path.join(out, "stage1"):
                    command += ["--stage1-dir", stage1]
                command += opts
                configs = (row.run.pretrain, row.run.config) if row.run.variant != "none" \
                    else (row.run.config,)
            elif row.run.kind == "transfer":
                # command-line options change the training, so a run given any trains its own
                train = (not extra_opts and _train_dir(output_dir, row.run, seed)) or \
                    os.path.join(out, "train")
                eval_opts = [part for i in range(0, len(row.run.eval_opts), 2)
                             for part in ("--eval-opt", *row.run.eval_opts[i:i + 2])]
                command = [sys.executable, os.path.join(TOOLS, "transfer_eval.py"), "--config-file",
                           row.run.config, "--train-dir", train, "--tests", *row.run.tests,
                           "--output-dir", out, *eval_opts, *opts]
                configs = (row.run.config,)
            else:
                command = [sys.executable, os.path.join(TOOLS, "train_net.py"), "--config-file",
                           row.run.config, "--resume", *opts, "OUTPUT_DIR", out]
                configs = (row.run.config,)
            runs.append(PlannedRun(row.name, seed, out, command, configs, row.run.tests,
                                   train if row.run.kind == "transfer" else ""))
    return table, runs


def _datasets_of(runs):
    """(name, config of its first run) of every data set the runs train or test on, in order."""
    seen = set()
    for run in runs:
        for config in run.configs:
            cfg = load_config(config, check_files=False)
            for name in (*cfg.DATASETS.NAMES, *cfg.DATASETS.TESTS, *run.tests):
                if name not in seen:
                    seen.add(name)
                    yield name, cfg


def needed_datasets(runs):
    return [name for name, _ in _datasets_of(runs)]


def missing_datasets(runs):
    """[(name, expected layout)] of the data sets the runs need that are not present."""
    return [(name, f"$FASTREID_DATASETS/{LAYOUTS.get(name, '?')}") for name in needed_datasets(runs)
            if not is_present(name)]


def prepare_synthetic_data(runs):
    """Render the SynthPerson domains the runs need once, before parallel runs would race to."""
    for name, cfg in _datasets_of(runs):
        if name.startswith("SynthPerson"):
            build_dataset(cfg, name)


def datasets_message(missing):
    lines = [f"missing data sets under FASTREID_DATASETS={os.path.abspath(datasets_root())}:"]
    lines += [f"  {name}: {layout}" for name, layout in missing]
    lines.append("  (--synthetic runs the same table structure on generated SynthPerson data)")
    return "\n".join(lines)
