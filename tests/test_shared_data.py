"""Real-data tests on ../shared/data (skipped, saying why, only when the folder is absent)."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pocketecg import labels as L
from pocketecg.cache import PreparedCache, prepare
from pocketecg.cli import app
from pocketecg.data import read_record
from pocketecg.data.ptbxl import load_database
from pocketecg.data.scan import scan
from pocketecg.preprocess import apply

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def scanned(shared_data):
    return scan([shared_data])


@pytest.fixture(scope="module")
def prepared(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("shared_cache")
    report = prepare([shared_data], out)
    return report, PreparedCache(out)


def test_every_listed_record_is_read(shared_data, scanned):
    listed = pd.read_csv(shared_data / "labels.csv")
    assert scanned.failures == []
    assert {e.key for e in scanned.entries} == set(listed["record"])


def test_labels_agree_with_labels_csv_and_snr_means_normal(shared_data, scanned):
    listed = pd.read_csv(shared_data / "labels.csv").set_index("record")
    for e in scanned.entries:
        row = listed.loc[e.key]
        if pd.isna(row["SNR"]):
            assert e.labels is None, e.key
            continue
        others = {c for c in L.CLASSES[1:] if row[c] == 1}
        if e.source.startswith("cpsc2018"):  # CPSC's own labels: unchanged
            assert e.labels == others | ({"SNR"} if row["SNR"] == 1 else set()), e.key
        else:
            # labels.csv's SNR means "sinus rhythm" and it ignores prolonged PR; ours is stricter on SNR
            # (normal ECG) and adds IAVB for prolonged PR, nothing else differs
            assert e.labels - {"SNR", "IAVB"} == others - {"IAVB"} and others <= e.labels | {"SNR"}, e.key
            if "SNR" in e.labels:
                assert row["SNR"] == 1 and not others, e.key
        assert not ("SNR" in e.labels and len(e.labels) > 1), e.key


def test_data_check_cli_reads_everything(shared_data):
    result = CliRunner().invoke(app, ["data", "check", "--data", str(shared_data)])
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[-1] == "records read: 2568 of 2568"


def test_prepared_cache_splits(shared_data, prepared):
    report, cache = prepared
    assert report.failures == [] and report.records == 2568
    records = cache.manifest.drop_duplicates("record").set_index("record")
    db = load_database(shared_data / "ptbxl" / "ptbxl_database.csv")
    ptb = records[records["source"].str.startswith("ptbxl")]
    patient_splits = {}
    for key, row in ptb.iterrows():
        ecg_id = int(key.rsplit("/", 1)[-1].split("_")[0])
        if ecg_id in db:
            fold = db[ecg_id].strat_fold
            assert row["split"] == ("test" if fold == 10 else "val" if fold == 9 else "train"), key
            patient_splits.setdefault(db[ecg_id].patient_id, set()).add(row["split"])
    assert all(len(s) == 1 for s in patient_splits.values())
    labelled = records[records["labelled"] == 1]
    for cls in L.PRESETS["six"]:  # every class can be validated and tested
        for split in ("val", "test"):
            assert labelled[(labelled["split"] == split) & (labelled[cls] == 1)].shape[0] >= 3, (cls, split)


def test_cached_windows_equal_fresh_preprocessing(shared_data, prepared):
    _, cache = prepared
    m = cache.manifest
    for key, path in [("cpsc2018/wfdb/A0001", "cpsc2018/wfdb/A0001.hea"), ("cinc/S0001", "cinc/S0001.hea"),
                      ("cpsc2018/original/A1980", "cpsc2018/original/A1980.mat"),
                      ("ptbxl/processed500/train/00519_hr", "ptbxl/processed500/train/00519_hr.hea")]:
        rows = m[m["record"] == key]
        windows, starts = apply(read_record(shared_data / path), cache.settings)
        assert rows["start"].tolist() == starts
        assert np.array_equal(cache.windows[rows["window"].to_numpy()], windows), key
