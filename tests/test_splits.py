from collections import Counter

from pocketecg.splits import SplitInput, assign_splits, split_of_fold


def _items(n=1000):
    classes = ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"]
    return [SplitInput(f"cpsc/A{i:04d}", "cpsc2018_original", frozenset({classes[i % 6]})) for i in range(n)]


def test_deterministic_and_independent_of_order():
    items = _items()
    a = assign_splits(items, seed=0)
    b = assign_splits(list(reversed(items)), seed=0)
    assert a == b
    assert assign_splits(items, seed=1) != a


def test_about_80_10_10_within_every_class():
    items = _items()
    splits = assign_splits(items, seed=0)
    for cls in ["SNR", "AF", "LBBB"]:
        counts = Counter(splits[it.key] for it in items if cls in it.labels)
        assert 14 <= counts["test"] <= 19 and 14 <= counts["val"] <= 19, counts


def test_ptbxl_follows_strat_fold_so_patients_never_straddle():
    assert [split_of_fold(f) for f in (1, 8, 9, 10)] == ["train", "train", "val", "test"]
    items = [SplitInput(f"ptbxl/{i}", "ptbxl_records500", frozenset(), strat_fold=(i // 3) % 10 + 1) for i in range(60)]
    splits = assign_splits(items)
    patient = {it.key: int(it.key.split("/")[1]) // 3 for it in items}  # strat_fold is patient-wise
    by_patient = {}
    for key, split in splits.items():
        by_patient.setdefault(patient[key], set()).add(split)
    assert all(len(s) == 1 for s in by_patient.values())
    assert Counter(splits.values()) == {"train": 48, "val": 6, "test": 6}


def test_split_hint_used_when_fold_unknown():
    items = [SplitInput("ptbxl/processed500/val/00007_hr", "ptbxl_processed500", None, split_hint="val")]
    assert assign_splits(items) == {"ptbxl/processed500/val/00007_hr": "val"}
