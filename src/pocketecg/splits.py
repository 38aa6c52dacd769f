"""Deterministic train/val/test splits, the same for every model.

- PTB-XL records (and CinC's PTB-XL copies, `HR<ecg_id>`) follow PTB-XL's own `strat_fold`:
  1-8 train, 9 validation, 10 test. The folds are patient-wise, so no patient straddles splits.
- Every other record gets a seeded split stratified on its labels (about 80/10/10): records are
  grouped by their rarest class, each group is shuffled with the seed and cut at 10 % / 20 %.
  The split depends only on the record's key, its labels and the seed, never on scan order.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")
VAL_FRACTION = 0.1
TEST_FRACTION = 0.1


def split_of_fold(fold: int) -> str:
    return "test" if fold == 10 else "val" if fold == 9 else "train"


@dataclass(frozen=True)
class SplitInput:
    key: str
    source: str
    labels: frozenset[str] | None
    strat_fold: int | None = None
    split_hint: str | None = None  # e.g. the folder split of preprocessed PTB-XL copies


def cinc_ptbxl_ecg_id(key: str) -> int | None:
    m = re.search(r"(?:^|/)HR(\d+)$", key)
    return int(m.group(1)) if m else None


def assign_splits(items: Iterable[SplitInput], seed: int = 0) -> dict[str, str]:
    items = sorted(items, key=lambda it: it.key)
    out: dict[str, str] = {}
    rest: list[SplitInput] = []
    for it in items:
        if it.strat_fold is not None:
            out[it.key] = split_of_fold(it.strat_fold)
        elif it.split_hint in SPLITS:
            out[it.key] = it.split_hint
        else:
            rest.append(it)
    frequency = Counter(c for it in rest if it.labels for c in it.labels)

    def stratum(it: SplitInput) -> str:
        if it.labels is None:
            return "~unknown"
        if not it.labels:
            return "~none"
        return min(it.labels, key=lambda c: (frequency[c], c))

    groups: dict[str, list[SplitInput]] = defaultdict(list)
    for it in rest:
        groups[stratum(it)].append(it)
    for name in sorted(groups):
        group = groups[name]
        # Seed per stratum from its name so adding a class elsewhere leaves this stratum alone.
        digest = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(digest)
        order = rng.permutation(len(group))
        offset = rng.random()
        for rank, idx in enumerate(order):
            u = ((rank + offset) / len(group)) % 1.0
            out[group[idx].key] = "test" if u < TEST_FRACTION else "val" if u < TEST_FRACTION + VAL_FRACTION else "train"
    return out
