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


def test_copies_of_one_recording_or_patient_share_a_split():
    # 200 recordings, each in two forms; the group is the recording (or the patient) they share
    items = []
    for i in range(200):
        labels = frozenset({["SNR", "AF", "RBBB"][i % 3]})
        items.append(SplitInput(f"cpsc/A{i:04d}", "cpsc2018_original", labels, group=f"cpsc2018:A{i:04d}"))
        items.append(SplitInput(f"cinc/A{i:04d}", "cpsc2018_wfdb", labels, group=f"cpsc2018:A{i:04d}"))
    splits = assign_splits(items, seed=3)
    assert all(splits[f"cpsc/A{i:04d}"] == splits[f"cinc/A{i:04d}"] for i in range(200))
    assert {"train", "val", "test"} == set(splits.values())
    # a fold on one copy (PTB-XL) pulls the copy without it (a CinC HR file) into the same split
    items = [SplitInput("ptbxl/records500/00000/00010_hr", "ptbxl_records500", frozenset(), strat_fold=10,
                        group="ptbxl-patient:7"),
             SplitInput("cinc/HR00010", "cinc_ptbxl", frozenset(), group="ptbxl-patient:7"),
             SplitInput("ptbxl/processed500/train/00011_hr", "ptbxl_processed500", frozenset(), split_hint="train",
                        group="ptbxl-patient:7")]
    assert set(assign_splits(items).values()) == {"test"}


def test_folds_are_balanced_and_deterministic():
    from pocketecg.splits import assign_folds

    groups = {f"g{i}": frozenset({["SNR", "AF", "IAVB"][i % 3]}) for i in range(300)}
    folds = assign_folds(groups, 5, seed=0)
    assert folds == assign_folds(dict(reversed(list(groups.items()))), 5, seed=0)
    for cls in ["SNR", "AF", "IAVB"]:
        counts = Counter(folds[g] for g, labels in groups.items() if cls in labels)
        assert sorted(counts) == [0, 1, 2, 3, 4] and max(counts.values()) - min(counts.values()) <= 1, counts
