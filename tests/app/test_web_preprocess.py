"""The browser's preprocessing (app/web/preprocess.js, run here in node) equals Python's."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ecg_files as F
from pocketecg.data import read_record
from pocketecg.preprocess import PreprocessSettings, apply, bandpass_sos

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the browser's JS)")
HARNESS = Path(__file__).with_name("preprocess_parity.mjs")


def run_js(record, settings, tmp_path):
    payload = {"leads": record.signal.astype(np.float64).tolist(), "fs": record.fs, "settings": settings.to_dict(),
               "sos": bandpass_sos(settings.fs, settings.band_hz, settings.filter_order).tolist()}
    path = tmp_path / "in.json"
    path.write_text(json.dumps(payload))
    proc = subprocess.run([NODE, str(HARNESS), str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    return np.array(out["windows"], np.float32).reshape(out["nWindows"], 12, -1), out["starts"]


@pytest.mark.parametrize("fs_in,seconds", [(500, 23.0), (1000, 12.0), (250, 6.0), (257, 11.0), (360, 10.0)])
def test_js_windows_equal_python(tmp_path, fs_in, seconds):
    settings = PreprocessSettings()
    header = F.write_wfdb(tmp_path, "r", F.signal("AF", seconds=seconds, fs=fs_in), fs=fs_in)
    record = read_record(header)
    expected, starts = apply(record, settings)
    got, js_starts = run_js(record, settings, tmp_path)
    assert js_starts == starts and got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4


def test_js_handles_flat_leads_and_500_hz_settings(tmp_path):
    settings = PreprocessSettings(fs=500, window_seconds=5, stride_seconds=2.5)
    x = F.signal("LBBB", seconds=9)
    x[3] = 0.2
    record = read_record(F.write_wfdb(tmp_path, "flat", x))
    expected, starts = apply(record, settings)
    got, js_starts = run_js(record, settings, tmp_path)
    assert js_starts == starts and np.abs(got - expected).max() < 1e-4 and not got[:, 3].any()
