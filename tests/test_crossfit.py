"""Cross-fitting: out-of-fold predictions for every train+val record, thresholds from them, test never read."""

import json

import numpy as np
import pandas as pd

from pocketecg.cache import PreparedCache
from pocketecg.crossfit import OOF_FILE, OOF_METRICS, record_folds
from pocketecg.train import TrainConfig
from pocketecg.metrics import choose_thresholds

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
