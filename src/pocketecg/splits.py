"""Deterministic train/val/test splits and cross-fitting folds, the same for every model.

Splits are made over *groups*, never over files: a group is a patient where the source names one
(PTB-XL's `patient_id`), else one recording (all its copies: CPSC's `.mat` and its CinC WFDB copy,
PTB-XL's records500/records100/processed500 forms and CinC's `HR<ecg_id>`). Every member of a group
lands in the same split.

- A group with a PTB-XL `strat_fold` follows it: 1-8 train, 9 validation, 10 test (PTB-XL's folds
  are patient-wise).
- Else a group whose copy names its split (preprocessed PTB-XL copies do) keeps that split.
- Every other group gets a seeded split stratified on its labels (about 80/10/10): groups are
  binned by their rarest class, each bin is shuffled with the seed and cut at 10 % / 20 %.
The result depends only on the groups' keys, labels and the seed, never on scan order.
"""

from __future__ import annotations

import hashlib
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
    group: str | None = None  # patient or recording this file belongs to (default: the file itself)


def _stratum(labels: frozenset[str] | None, frequency: Counter) -> str:
    if labels is None:
        return "~unknown"
    if not labels:
        return "~none"
    return min(labels, key=lambda c: (frequency[c], c))


def stratified_positions(groups: dict[str, frozenset[str] | None], seed: int, salt: str = "") -> dict[str, float]:
    """Each group -> a position u in [0, 1), evenly spread within every stratum (rarest class).

    Cutting u at fractions gives splits or folds whose class mix follows the whole. Seeded per
    stratum from its name, so adding a class elsewhere leaves a stratum's positions alone.
    """
    frequency = Counter(c for labels in groups.values() if labels for c in labels)
    strata: dict[str, list[str]] = defaultdict(list)
    for key in sorted(groups):
        strata[_stratum(groups[key], frequency)].append(key)
    out = {}
    for name, keys in sorted(strata.items()):
        digest = int.from_bytes(hashlib.sha256(f"{seed}:{salt}{name}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(digest)
        order = rng.permutation(len(keys))
        offset = rng.random()
        for rank, idx in enumerate(order):
            out[keys[idx]] = ((rank + offset) / len(keys)) % 1.0
    return out


def assign_splits(items: Iterable[SplitInput], seed: int = 0) -> dict[str, str]:
    """File key -> split; all files of one group share it."""
    members: dict[str, list[SplitInput]] = defaultdict(list)
    for it in sorted(items, key=lambda it: it.key):
        members[it.group or it.key].append(it)
    group_split: dict[str, str] = {}
    rest: dict[str, frozenset[str] | None] = {}
    for group, its in members.items():
        folds = sorted(it.strat_fold for it in its if it.strat_fold is not None)
        hints = sorted(it.split_hint for it in its if it.split_hint in SPLITS)
        if folds:
            group_split[group] = split_of_fold(folds[0])
        elif hints:
            group_split[group] = Counter(hints).most_common(1)[0][0]
        else:
            known = [it.labels for it in its if it.labels is not None]
            rest[group] = frozenset().union(*known) if known else None
    for group, u in stratified_positions(rest, seed).items():
        group_split[group] = "test" if u < TEST_FRACTION else "val" if u < TEST_FRACTION + VAL_FRACTION else "train"
    return {it.key: group_split[group] for group, its in members.items() for it in its}


def assign_folds(groups: dict[str, frozenset[str] | None], k: int, seed: int = 0) -> dict[str, int]:
    """Group -> cross-fitting fold 0..k-1, stratified on labels like the splits (used on train+val)."""
    if k < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {k}")
    return {g: min(int(u * k), k - 1) for g, u in stratified_positions(groups, seed, salt=f"folds{k}:").items()}
