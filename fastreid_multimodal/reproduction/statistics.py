"""Is a step between two rows of a table larger than the seeds' noise?

Rows that ran the same seeds are compared PAIRED: the difference of each seed's two values
d_i = b_i - a_i (same data, same initialisation stream, same batch order where the configs allow),
its mean and standard error SE = std(d, ddof=1) / sqrt(n). Seed-to-seed variation that both rows
share cancels, so a paired test sees smaller steps than the unpaired one. Rows with different seed
sets are paired on the seeds both ran (at least two; the step says on which), else fall back to
the unpaired SE = sqrt(s1^2/n1 + s2^2/n2) and are marked so.

Verdict: "yes" when the mean difference exceeds 2 SE, "reversed" when it is below -2 SE, else
"no". The minimum detectable difference (MDD) for these seeds is 2.8 SE: a true step that large
is found with about 80 % power by a two-sided 5 % test (z 1.96 + z 0.84 = 2.8; with few seeds a t
quantile would be larger, so read it as optimistic).
"""
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

VERDICT_SE = 2.0   # "yes" beyond 2 standard errors (about a two-sided 5 % test)
MDD_SE = 2.8       # 1.96 + 0.84: 80 % power at two-sided 5 %


@dataclass(frozen=True)
class Step:
    diff: float          # mean of b - a (paired: mean of per-seed differences)
    two_se: float        # 2 x its standard error
    mdd: float           # 2.8 x the standard error: minimum detectable difference
    paired: bool
    n: int               # pairs (paired) or min(n1, n2)

    @property
    def verdict(self):
        if self.diff > self.two_se:
            return "yes"
        return "no" if self.diff >= -self.two_se else "reversed"


def paired_step(a: Sequence[float], b: Sequence[float]) -> Optional[Step]:
    """Step from row a to row b, values paired by position (same seed, or the table's pairing);
    None with fewer than 2 pairs."""
    if len(a) != len(b):
        raise ValueError(f"paired rows need as many values: {len(a)} vs {len(b)}")
    if len(a) < 2:
        return None
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    se = float(np.std(d, ddof=1) / np.sqrt(len(d)))
    return Step(float(d.mean()), VERDICT_SE * se, MDD_SE * se, True, len(d))


def unpaired_step(a: Sequence[float], b: Sequence[float]) -> Optional[Step]:
    """Step from row a to row b of independent seeds: SE = sqrt(s1^2/n1 + s2^2/n2)."""
    if len(a) < 2 or len(b) < 2:
        return None
    se = float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
    return Step(float(np.mean(b) - np.mean(a)), VERDICT_SE * se, MDD_SE * se, False,
                min(len(a), len(b)))


def step(a, b, seeds_a=None, seeds_b=None, by_position=False) -> Optional[Step]:
    """Paired when the rows ran the same seeds in the same order, or, with ``by_position`` (a
    table that pairs disjoint seed sets, e.g. A/A), as many values; unpaired otherwise (also
    when a row's seeds are unknown: None). Seeds that do not match a row's values (a metric the
    row does not have, e.g. text->image of an image-only model) are unknown."""
    seeds_a = seeds_a if seeds_a is not None and len(seeds_a) == len(a) else None
    seeds_b = seeds_b if seeds_b is not None and len(seeds_b) == len(b) else None
    if len(a) == len(b) and (by_position or (seeds_a is not None and seeds_b is not None
                                             and list(seeds_a) == list(seeds_b))):
        return paired_step(a, b)
    if seeds_a is not None and seeds_b is not None and not by_position:
        common = [seed for seed in seeds_a if seed in seeds_b]
        if len(common) >= 2:  # pair on the seeds both rows ran rather than drop the pairing
            return paired_step([a[list(seeds_a).index(s)] for s in common],
                               [b[list(seeds_b).index(s)] for s in common])
    return unpaired_step(a, b)
