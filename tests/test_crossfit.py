"""Cross-fitting: out-of-fold predictions for every train+val record, thresholds from them, test never read."""

import json

import numpy as np
import pandas as pd
import pytest

from pocketecg.cache import PreparedCache
from pocketecg.crossfit import OOF_FILE, OOF_METRICS, record_folds
from pocketecg.train import TrainConfig
from pocketecg.metrics import choose_thresholds, f1_per_class

from conftest import TINY_MODEL


def test_crossfit_run(tiny_cache, tmp_path):
    from typer.testing import CliRunner

    from pocketecg.cli import app

    out = tmp_path / "cf"
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out), "--crossfit", "3",
                                      "--epochs", "3", "--batch-size", "8", "--augment", "none",
                                      "--model-kwargs", json.dumps(TINY_MODEL)])
    assert result.exit_code == 0, result.output
    cache = PreparedCache(tiny_cache)
    pool = cache.rows(("train", "val")).drop_duplicates("record")
    test_records = set(cache.rows("test")["record"])
    with np.load(out / OOF_FILE) as d:
        records, folds, y, p, thresholds = d["records"], d["folds"], d["y"], d["p"], d["thresholds"]
    # every train+val record has exactly one out-of-fold prediction; no test record is touched
    assert sorted(records) == sorted(pool["record"]) and not set(records) & test_records
    assert set(folds) == {0, 1, 2} and np.isfinite(p).all()
    # a group's records share a fold (PTB-XL patients, copies)
    group = pool.set_index("record")["group"]
    assert pd.Series(folds, index=records).groupby(group[records].to_numpy()).nunique().max() == 1
    config = json.loads((out / "config.json").read_text())
    assert config["crossfit"]["k"] == 3 and len(config["crossfit"]["folds"]) == 3
    assert config["thresholds"] == dict(zip(config["classes"], choose_thresholds(y, p).tolist()))
    assert config["thresholds"] == dict(zip(config["classes"], thresholds.tolist()))
    final = config["crossfit"]["final_epochs"]
    assert final == int(np.median([f["best_epoch"] for f in config["crossfit"]["folds"]])) and config["epochs_run"] == final
    oof = json.loads((out / OOF_METRICS).read_text())
    assert oof["records"] == len(records) and len(oof["ci95"]["macro_f1"]) == 2
    # fold models each trained without their held-out records
    for f in config["crossfit"]["folds"]:
        assert (out / "folds" / f"fold-{f['fold']}" / "model.pt").is_file()


def test_record_folds_deterministic(tiny_cache):
    cache = PreparedCache(tiny_cache)
    assert record_folds(cache, 3, 0) == record_folds(cache, 3, 0)
    assert TrainConfig(cache=str(tiny_cache), out="x").epochs == 40


def test_crossfit_on_a_subset_of_folds_equals_those_folds_of_the_full_run(tiny_cache, tmp_path):
    """`--folds 1 --no-final` (a model too costly for all K): only fold 1 is trained, its out-of-fold
    predictions are fold 1's held-out records and equal the full run's for them; pair_oof pairs the two on
    those records with thresholds re-chosen there."""
    import importlib.util
    import sys
    from pathlib import Path

    from typer.testing import CliRunner

    from pocketecg.cli import app

    common = ["train", "--cache", str(tiny_cache), "--crossfit", "3", "--no-final", "--epochs", "2",
              "--batch-size", "8", "--augment", "none", "--model-kwargs", json.dumps(TINY_MODEL)]
    full, part = tmp_path / "full", tmp_path / "part"
    for out, extra in ((full, []), (part, ["--folds", "1"])):
        result = CliRunner().invoke(app, common + ["--out", str(out)] + extra)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (part / "folds").iterdir()) == ["fold-1"]
    with np.load(full / OOF_FILE) as f, np.load(part / OOF_FILE) as s:
        in_fold_1 = f["folds"] == 1
        assert set(s["folds"]) == {1} and s["records"].tolist() == f["records"][in_fold_1].tolist()
        np.testing.assert_allclose(s["p"], f["p"][in_fold_1], atol=1e-6)
    summary = json.loads((part / "crossfit.json").read_text())["crossfit"]
    assert summary["folds_trained"] == [1] and [f["fold"] for f in summary["folds"]] == [1]

    spec = importlib.util.spec_from_file_location("pair_oof", Path(__file__).parents[1] / "benchmarks" / "pair_oof.py")
    pair_oof = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pair_oof)
    runs, cut = pair_oof.on_shared_records({"full": pair_oof.load(full), "part": pair_oof.load(part)})
    assert cut and all(r["records"].tolist() == runs["part"]["records"].tolist() for r in runs.values())
    np.testing.assert_array_equal(runs["full"]["thresholds"], choose_thresholds(runs["full"]["y"], runs["full"]["p"]))
    out = tmp_path / "pair.json"
    sys.argv = ["pair_oof.py", str(full), str(part), "--out", str(out), "--bootstrap", "50"]
    pair_oof.main()
    report = json.loads(out.read_text())
    assert report["records"] == int(in_fold_1.sum()) and "folds [1]" in report["note"]
    assert abs(report["runs"][str(part)]["minus_reference"]["difference"]) < 1e-9
    # two runs joined by a comma are one recipe's seeds: scored by their mean, each run by itself too
    sys.argv = ["pair_oof.py", f"{full},{part}", str(part), "--out", str(out), "--bootstrap", "50"]
    pair_oof.main()
    recipe = json.loads(out.read_text())["runs"][f"{full},{part}"]
    assert sorted(recipe["seeds"]) == sorted([str(full), str(part)])
    assert recipe["macro_f1"] == pytest.approx(np.mean(list(recipe["seeds"].values())))


def test_fold_subset_is_checked_before_anything_is_written(tiny_cache, tmp_path):
    from typer.testing import CliRunner

    from pocketecg.cli import app

    out = tmp_path / "never"
    for extra, message in ((["--crossfit", "3", "--folds", "0"], "--no-final"),
                           (["--crossfit", "3", "--no-final", "--folds", "3"], "0..2"),
                           (["--crossfit", "3", "--no-final", "--folds", "a"], "fold numbers"),
                           (["--folds", "0"], "--crossfit")):
        result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out)] + extra)
        assert result.exit_code != 0 and message in result.output, result.output
        assert not out.exists()


def test_crossfit_test_rows_score_final_and_fold_models_with_thresholds_chosen_out_of_fold(tiny_cache, tmp_path):
    """benchmarks/crossfit_test_rows.py: the final model's row is `pocketecg evaluate`'s test score with the
    out-of-fold thresholds; the fold-models row is the mean of each fold model's own test score with the
    thresholds of the records it held out; a run with one fold is paired with the reference's fold models."""
    import importlib.util
    import sys
    from pathlib import Path

    from typer.testing import CliRunner

    from pocketecg.cli import app
    from pocketecg.evaluate import evaluate_run

    common = ["train", "--cache", str(tiny_cache), "--crossfit", "3", "--epochs", "2", "--batch-size", "8",
              "--augment", "none", "--model-kwargs", json.dumps(TINY_MODEL)]
    full, part = tmp_path / "full", tmp_path / "part"
    for out, extra in ((full, []), (part, ["--no-final", "--folds", "0", "--seed", "3"])):
        result = CliRunner().invoke(app, common + ["--out", str(out)] + extra)
        assert result.exit_code == 0, result.output
    spec = importlib.util.spec_from_file_location(
        "crossfit_test_rows", Path(__file__).parents[1] / "benchmarks" / "crossfit_test_rows.py")
    rows = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rows)
    report_path = tmp_path / "rows.json"
    sys.argv = ["crossfit_test_rows.py", str(full), str(part), "--cache", str(tiny_cache), "--bootstrap", "50",
                "--out", str(report_path)]
    rows.main()
    report = json.loads(report_path.read_text())
    ref, other = report["runs"]
    n_test = PreparedCache(tiny_cache).rows("test")["record"].nunique()
    assert report["test_records"] == n_test

    def own_test_f1(run_dir):
        evaluate_run(run_dir, "test", tiny_cache, bootstrap=0, plots=False)  # writes predictions-test.npz
        with np.load(run_dir / "predictions-test.npz") as d:
            y, pred = d["y"], (d["p"] >= d["thresholds"]).astype(int)
        keep = y.sum(axis=0) > 0  # classes without a positive test record are left out, as in score_records
        return f1_per_class(y[:, keep], pred[:, keep]).mean()

    final_f1 = own_test_f1(full)
    with np.load(full / OOF_FILE) as d:
        assert list(json.loads((full / "config.json").read_text())["thresholds"].values()) == d["thresholds"].tolist()
    assert ref["final"]["macro_f1"] == pytest.approx(final_f1) and ref["final"]["members"] == ["final"]
    folds = [full / "folds" / f"fold-{i}" for i in range(3)]
    assert ref["fold_models"]["macro_f1"] == pytest.approx(np.mean([own_test_f1(f) for f in folds]))
    assert ref["fold_models"]["members"] == ["fold-0", "fold-1", "fold-2"] and "minus_reference" not in ref["final"]
    # the one-fold run: no final row, its fold model's own score, paired with the reference's three fold models
    assert "final" not in other and other["fold_models"]["members"] == ["fold-0"]
    part_f1 = own_test_f1(part / "folds" / "fold-0")
    assert other["fold_models"]["macro_f1"] == pytest.approx(part_f1)
    assert other["fold_models"]["minus_reference"]["difference"] == pytest.approx(part_f1 - ref["fold_models"]["macro_f1"])
    lo, hi = other["fold_models"]["minus_reference"]["ci95"]
    assert lo <= hi and ref["final"]["macro_f1_ci95"][0] <= ref["final"]["macro_f1_ci95"][1]
