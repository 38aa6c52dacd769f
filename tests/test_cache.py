import json

import numpy as np
from typer.testing import CliRunner

from pocketecg import labels as L
from pocketecg.cache import PreparedCache, PreparedDataset, measure_read_rate, prepare
from pocketecg.cli import app
from pocketecg.data import read_record
from pocketecg.preprocess import PreprocessSettings, apply


def test_prepare_writes_memmap_manifest_and_splits(synthetic_corpus, tmp_path):
    report = prepare([synthetic_corpus], tmp_path / "cache", workers=2)
    assert report.failures == [] and report.records == 92
    cache = PreparedCache(tmp_path / "cache")
    m = cache.manifest
    assert cache.windows.shape == (report.windows, 12, 2500) and len(m) == report.windows
    assert set(m["split"]) <= {"train", "val", "test"}
    assert m.groupby("record")["split"].nunique().max() == 1  # a record's windows share its split
    # 12-30 s CPSC records keep all their windows
    assert m[m["record"] == "cpsc/A0002"]["n_windows"].iloc[0] == 3
    # PTB-XL records follow strat_fold (ecg_id i+1 has fold 1 + i % 10)
    ptb = m[m["source"] == "ptbxl_records500"].drop_duplicates("record")
    fold10 = ptb[ptb["record"].str.contains("00010_hr|00020_hr|00030_hr")]
    assert set(fold10["split"]) == {"test"}
    assert m[m["record"] == "user/mine"]["labelled"].iloc[0] == 0
    info = json.loads((tmp_path / "cache" / "cache.json").read_text())
    assert PreprocessSettings.from_dict(info["settings"]) == PreprocessSettings() and len(info["manifest_sha256"]) == 64


def test_cache_windows_equal_prediction_time_preprocessing(synthetic_corpus, tmp_path):
    """One preprocessing implementation: what training reads equals what prediction computes."""
    settings = PreprocessSettings(fs=500, window_seconds=8, stride_seconds=4)
    prepare([synthetic_corpus / "cpsc"], tmp_path / "cache", settings, workers=1)
    cache = PreparedCache(tmp_path / "cache")
    rows = cache.manifest[cache.manifest["record"] == "A0005"]
    windows, starts = apply(read_record(synthetic_corpus / "cpsc" / "A0005.mat"), settings)
    assert rows["start"].tolist() == starts
    assert np.array_equal(cache.windows[rows["window"].to_numpy()], windows)


def test_prepare_is_deterministic(synthetic_corpus, tmp_path):
    a = prepare([synthetic_corpus / "cinc"], tmp_path / "a", workers=2)
    b = prepare([synthetic_corpus / "cinc"], tmp_path / "b", workers=1)
    assert a.windows == b.windows
    assert (tmp_path / "a" / "manifest.csv").read_bytes() == (tmp_path / "b" / "manifest.csv").read_bytes()
    assert (tmp_path / "a" / "windows.f32").read_bytes() == (tmp_path / "b" / "windows.f32").read_bytes()


def test_dataset_items_and_batches(synthetic_corpus, tmp_path):
    prepare([synthetic_corpus / "cinc"], tmp_path / "cache", workers=1)
    ds = PreparedDataset(tmp_path / "cache", "train", L.PRESETS["six"])
    x, y = ds[0]
    assert x.shape == (12, 2500) and y.shape == (6,) and y.sum() == 1
    xb, yb = ds.batch(np.array([3, 1, 2]))
    assert xb.shape == (3, 12, 2500) and yb.shape == (3, 6)
    for xi, yi in zip(xb, yb):  # batch rows stay paired with their targets
        j = next(j for j in range(len(ds)) if np.array_equal(ds[j][0], xi))
        assert np.array_equal(ds[j][1], yi)
    assert measure_read_rate(ds, batches=3) > 0


def test_prepare_cli_reports_time_and_read_rate(synthetic_corpus, tmp_path):
    result = CliRunner().invoke(app, ["prepare", "--data", str(synthetic_corpus / "ptbxl"), "--out", str(tmp_path / "c"),
                                      "--fs", "500", "--seconds", "5"])
    assert result.exit_code == 0, result.output
    assert "prepared 30 records" in result.output and "cache read rate" in result.output
    assert PreparedCache(tmp_path / "c").windows.shape[1:] == (12, 2500)


def test_two_forms_of_one_recording_share_a_split_and_train_once(tmp_path):
    """CPSC .mat + its CinC copy, and PTB-XL records500 + CinC HR + a z-scored processed copy."""
    import ecg_files as F

    root = tmp_path / "data"
    for i in range(1, 31):
        x = F.signal(["SNR", "AF", "RBBB"][i % 3], seed=i)
        F.write_cpsc_original(root / "cpsc2018", f"A{i:04d}", x, codes=(1 + i % 3 * 0,))
        F.write_cinc_mat(root / "cinc", f"A{i:04d}", x, dx="Normal")
        F.write_ptbxl(root / "ptbxl", i, x, {"NORM": 100.0}, strat_fold=1 + i % 10, patient_id=500 + i // 3)
        F.write_cinc_mat(root / "cinc", f"HR{i:05d}", x, dx="426783006")
        z = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
        F.write_wfdb(root / "ptbxl" / "processed500" / "test", f"{i:05d}_hr", z, dx=None, units="NU",
                     comments=[f"ecg_id: {i}", "split: test"])
    report = prepare([root], tmp_path / "cache", workers=2)
    assert report.failures == [] and report.records == 150 and report.duplicate_copies == 90
    m = PreparedCache(tmp_path / "cache").manifest.drop_duplicates("record")
    assert m.groupby("recording")["split"].nunique().max() == 1  # copies never straddle splits
    assert m.groupby("recording").size().to_dict() == {**{f"cpsc2018:A{i:04d}": 2 for i in range(1, 31)},
                                                        **{f"ptbxl:{i}": 3 for i in range(1, 31)}}
    assert m.groupby("recording")["primary"].sum().eq(1).all()  # one copy of each is trained on
    primary = m[m["primary"] == 1]
    assert set(primary["source"]) == {"cpsc2018_original", "ptbxl_records500"}
    # PTB-XL patients (three ecg_ids each) never straddle splits, whatever form their records are in
    ptb = m[m["recording"].str.startswith("ptbxl:")]
    assert ptb.groupby("patient")["split"].nunique().max() == 1 and ptb["patient"].notna().all()
    # the strat_fold of the original wins over the processed copy's "split: test"
    assert set(ptb[ptb["recording"] == "ptbxl:1"]["split"]) == {"train"}
    assert len(PreparedDataset(tmp_path / "cache", ("train", "val", "test")).records) == len(primary)
