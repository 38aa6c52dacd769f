import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ecg_files as F
from pocketecg.cli import app
from pocketecg.data import read_record
from pocketecg.predict import Predictor
from pocketecg.preprocess import apply
from pocketecg.inference import load_run


@pytest.fixture(scope="module")
def files(tmp_path_factory, synthetic_corpus):
    d = tmp_path_factory.mktemp("files")
    x = F.signal("AF", seconds=23)
    np.save(d / "rec.npy", x)
    return {
        "wfdb": F.write_wfdb(d, "w1", x),
        "flac": F.write_wfdb(d, "w2", x, fmt="516"),
        "cinc_mat": F.write_cinc_mat(d, "E1", x),
        "cpsc_mat": synthetic_corpus / "cpsc" / "A0001.mat",
        "csv": F.write_csv(d / "rec.csv", x, fs=500),
        "npy": d / "rec.npy",
    }


def test_predict_every_format_json_schema(tiny_run, files):
    paths = [str(p) for p in files.values()]
    result = CliRunner().invoke(app, ["predict", *paths, "--model", str(tiny_run), "--json", "--fs", "500"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]  # the summary goes to stderr
    assert [d["record"] for d in lines] == paths
    classes = ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"]
    for d in lines:
        assert set(d["probabilities"]) == set(classes) == set(d["thresholds"])
        assert all(0 <= v <= 1 for v in d["probabilities"].values())
        assert d["labels"] == [c for c in classes if d["probabilities"][c] >= d["thresholds"][c]]
        assert [f.split(" ")[0] for f in d["findings"]] == d["labels"]
        assert "SNR" not in d["labels"] or "SNR (normal ECG)" in d["findings"]
        assert any("(STE)" in n for n in d["not_assessed"]) and any("infarction" in n for n in d["not_assessed"])
    by_kind = dict(zip(files, lines))
    assert by_kind["wfdb"]["windows"] == 5 and by_kind["wfdb"]["window_starts_s"] == [0.0, 5.0, 10.0, 15.0, 18.0]
    # the same signal in four containers gives the same answer
    ref = by_kind["wfdb"]["probabilities"]
    for kind in ("flac", "cinc_mat", "csv", "npy"):
        assert by_kind[kind]["probabilities"] == pytest.approx(ref, abs=2e-3)


def test_predict_uses_the_training_preprocessing_and_mean_of_windows(tiny_run, files):
    predictor = Predictor.from_path(tiny_run)
    record = read_record(files["wfdb"])
    result = predictor.predict_record(record)
    model, config = load_run(tiny_run)
    import torch

    windows, starts = apply(record, predictor.settings)
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(windows))).numpy().mean(axis=0)
    assert list(result.probabilities.values()) == pytest.approx(p.tolist(), abs=1e-6)
    assert result.windows == len(starts) == 5 and result.window_starts_s == [0.0, 5.0, 10.0, 15.0, 18.0]


def test_onnx_backend_equals_torch_backend(tiny_run, files, tmp_path):
    CliRunner().invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "m.onnx")])
    a = Predictor.from_path(tiny_run).predict_file(files["wfdb"])
    b = Predictor.from_path(tmp_path / "m.onnx").predict_file(files["wfdb"])
    assert list(a.probabilities.values()) == pytest.approx(list(b.probabilities.values()), abs=1e-5)
    assert a.labels == b.labels


def test_bad_files_are_skipped_and_exit_status_says_so(tiny_run, files, tmp_path):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"garbage")
    result = CliRunner().invoke(app, ["predict", str(files["wfdb"]), str(bad), "--model", str(tiny_run), "--json"])
    assert result.exit_code == 1
    assert "bad.mat" in result.output and "corrupt or truncated" in result.output and "Traceback" not in result.output
    assert json.loads(result.output.strip().splitlines()[0])["record"] == str(files["wfdb"])


def test_warnings_short_flat_noisy_missing(tiny_run, tmp_path):
    x = F.signal("SNR", seconds=4)
    x[2] = 0.1  # flat lead III
    x[8] += np.random.default_rng(0).normal(0, 1.0, x.shape[1])  # very noisy V3
    header = F.write_wfdb(tmp_path, "odd", x[:11], lead_names=list(F.STANDARD_LEADS[:11]))
    result = CliRunner().invoke(app, ["predict", str(header), "--model", str(tiny_run), "--allow-missing-leads"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "short record: 4.0 s, zero-padded to the 5-s window" in out  # the tiny model's window is 5 s
    assert "flat lead(s): III" in out and "noisy lead(s): V3" in out
    assert "missing lead(s), zero-filled: V6" in out


def test_explain_writes_a_png_per_record(tiny_run, files, tmp_path):
    result = CliRunner().invoke(app, ["predict", str(files["wfdb"]), str(files["cpsc_mat"]), "--model", str(tiny_run),
                                      "--explain", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    for name in ("w1.png", "A0001.png"):
        png = tmp_path / "png" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_explain_refuses_onnx_models(tiny_run, files, tmp_path):
    CliRunner().invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "m.onnx")])
    result = CliRunner().invoke(app, ["predict", str(files["wfdb"]), "--model", str(tmp_path / "m.onnx"),
                                      "--explain", str(tmp_path / "png")])
    assert result.exit_code == 2 and "--explain needs gradients" in result.output


def test_grad_cam_highlights_the_informative_stretch():
    """Saliency sits where the activations that raise the class's logit are (a bump at 200-300)."""
    import torch
    from torch import nn

    from pocketecg.explain import grad_cam

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.stages = nn.Sequential(nn.Conv1d(12, 4, 1))
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(torch.relu(self.stages(x)).mean(dim=-1))

    probe = Probe()
    with torch.no_grad():
        probe.stages[0].weight.fill_(0.1)
        probe.stages[0].bias.fill_(0.0)
        probe.head.weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, -1.0, -1.0]]))
    x = np.zeros((1, 12, 1000), np.float32)
    x[:, :, 200:300] = 1.0
    cam = grad_cam(probe, x, 0)
    assert cam.shape == (1, 1000) and cam[0, 210:290].min() > 0.9
    assert cam[0, :190].max() < 0.05 and cam[0, 310:].max() < 0.05
    assert grad_cam(probe, x, 1).max() == 0  # the other class is lowered by the bump: nothing to show


def test_demo_end_to_end(tiny_run, tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "These examples are synthetic" in page and "not a medical device" in page
    for finding in ("snr", "af", "iavb", "lbbb", "rbbb", "std"):
        assert f"synthetic_{finding}.hea" in page
        assert (tmp_path / "demo" / "explanations" / f"synthetic_{finding}.png").stat().st_size > 20_000
    assert "report:" in result.output


def test_demo_with_real_records(tiny_run, tmp_path, synthetic_corpus):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--model", str(tiny_run),
                                      "--data", str(synthetic_corpus / "cinc")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "These examples are synthetic" not in page and "E00000.hea" in page and "(cinc_georgia)" in page


def test_text_output_says_normal_ecg_and_what_is_not_assessed(tiny_run, files):
    result = CliRunner().invoke(app, ["predict", str(files["wfdb"]), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "Not assessed by this model:" in result.output and "ST-segment elevation (STE)" in result.output
    assert "sinus rhythm" not in result.output
    first = result.output.splitlines()[0]
    from pocketecg import labels as L
    assert ("not a normal-ECG result" in first
            or any(f"{c} ({L.CLASS_DESCRIPTIONS[c]})" in first for c in L.PRESETS["six"])), first


def test_one_inference_path():
    """sigmoid, the window mean and the threshold rule are written once, in pocketecg.inference."""
    import re
    from pathlib import Path

    import numpy as np

    from pocketecg import inference

    assert np.allclose(inference.sigmoid([-800.0, 0.0, 800.0]), [0.0, 0.5, 1.0])
    assert inference.aggregate(np.array([[0.2, 0.4], [0.4, 0.8]])).tolist() == pytest.approx([0.3, 0.6])
    assert inference.decide(np.array([0.5, 0.49]), np.array([0.5, 0.5])).tolist() == [True, False]
    src = Path(inference.__file__).parent
    for path in src.rglob("*.py"):
        if path.name in ("inference.py", "train.py", "distill.py", "layers.py", "synth.py"):  # losses, SE gates: not inference
            continue
        text = path.read_text()
        assert not re.search(r"1 / \(1 \+ np\.exp|torch\.sigmoid|>= thresholds|>= self\.thresholds", text), path


REAL_RECORDS = ("cpsc2018/original/A1980.mat", "cpsc2018/original/A1985.mat", "cinc/E00002.hea")


@pytest.mark.parametrize("offset_mv", [5.0, 20.0, 300.0])
def test_a_constant_offset_does_not_change_the_prediction(shared_data, offset_mv):
    """Real-data test: adding an offset to every lead (a DC-coupled export) changes nothing (1e-4)."""
    predictor = Predictor.shipped()
    for name in REAL_RECORDS:
        record = read_record(shared_data / name)
        reference = predictor.predict_record(record).probabilities
        record.signal = record.signal + np.float32(offset_mv)
        shifted = predictor.predict_record(record).probabilities
        assert shifted == pytest.approx(reference, abs=1e-4), name


def test_eight_stored_leads_give_the_twelve_lead_prediction(shared_data, tmp_path):
    """Real-data test: write I, II, V1-V6 of real 12-lead records; the derived record predicts the same."""
    from pocketecg.data.record import INDEPENDENT_LEADS, STANDARD_LEADS

    predictor = Predictor.shipped()
    keep = [STANDARD_LEADS.index(lead) for lead in INDEPENDENT_LEADS]
    for name in REAL_RECORDS:
        record = read_record(shared_data / name)
        header = F.write_wfdb(tmp_path, record.record_id, record.signal[keep].astype(np.float64),
                              lead_names=list(INDEPENDENT_LEADS), dx=None)
        derived = read_record(header)
        assert derived.derived_leads == ("III", "aVR", "aVL", "aVF")
        assert np.abs(derived.signal - record.signal).max() < 0.01  # stored limb leads are rounded to 1-5 µV
        full = predictor.predict_record(record).probabilities
        assert predictor.predict_record(derived).probabilities == pytest.approx(full, abs=5e-3), name


def test_predict_takes_folders_and_globs_and_reads_each_record_once(tiny_run, tmp_path):
    folder = tmp_path / "ecgs"
    F.write_wfdb(folder, "r1", F.signal("AF"))  # r1.hea + r1.dat: one record
    F.write_wfdb(folder / "sub", "r2", F.signal("SNR"))
    F.write_csv(folder / "sub" / "r3.csv", F.signal("RBBB"), fs=500)
    (folder / "notes.csv").write_text("patient,comment\n1,fine\n")  # not an ECG table: not a record
    table = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["predict", str(folder), "--model", str(tiny_run), "--json", "--csv", str(table)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line)["record"] for line in result.stdout.strip().splitlines()]
    assert sorted(Path(r).name for r in records) == ["r1.hea", "r2.hea", "r3.csv"]
    assert "3 record(s) classified" in result.stderr and "0 failed" in result.stderr
    rows = table.read_text().strip().splitlines()
    assert rows[0].startswith("record,findings,p_SNR") and len(rows) == 4
    # a shell glob gives r1.dat and r1.hea: still one record; a quoted glob is expanded by predict itself
    result = CliRunner().invoke(app, ["predict", str(folder / "r1.dat"), str(folder / "r1.hea"), str(folder / "**/r*.csv"),
                                      "--model", str(tiny_run), "--json"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 2


def test_predict_reports_missing_paths_and_goes_on(tiny_run, tmp_path):
    good = F.write_csv(tmp_path / "good.csv", F.signal(), fs=500)
    broken = tmp_path / "broken.csv"
    broken.write_text("I,II\n1,2\n")
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "nothere.hea"), str(tmp_path / "*.xml"), str(broken),
                                      str(good), "--model", str(tiny_run)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'nothere.hea'}: no such file or folder" in result.output
    assert "no file matches this pattern" in result.output and "broken.csv:" in result.output
    assert "good.csv" in result.stdout and "1 record(s) classified" in result.output and "3 failed" in result.output
    assert "Traceback" not in result.output
