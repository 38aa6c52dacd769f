import numpy as np
import pytest

import ecg_files as F
from pocketecg.data import read_record
from pocketecg.preprocess import PreprocessSettings, apply, preprocess_signal, window_starts


def test_window_rule_covers_the_whole_record():
    s = PreprocessSettings(fs=250, window_seconds=10, stride_seconds=10)
    assert window_starts(2500, s) == [0]
    assert window_starts(1000, s) == [0]
    assert window_starts(5000, s) == [0, 2500]
    assert window_starts(6000, s) == [0, 2500, 3500]  # last window ends at the record's end
    s5 = PreprocessSettings(fs=250, window_seconds=10, stride_seconds=5)
    assert window_starts(5000, s5) == [0, 1250, 2500]


def test_short_records_are_padded_long_ones_keep_all_windows(tmp_path):
    s = PreprocessSettings()
    short = read_record(F.write_wfdb(tmp_path, "short", F.signal(seconds=6)))
    w, starts = apply(short, s)
    assert w.shape == (1, 12, 2500) and starts == [0] and w.dtype == np.float32
    assert np.all(w[0, :, 1500:] == 0)  # padding after normalisation: zeros = each lead's mean
    long = read_record(F.write_wfdb(tmp_path, "long", F.signal(seconds=34)))
    w, starts = apply(long, s)
    assert w.shape == (4, 12, 2500) and starts == [0, 2500, 5000, 6000]


def test_resampling_band_pass_and_normalisation():
    s = PreprocessSettings(fs=250)
    fs_in = 1000
    t = np.arange(10 * fs_in) / fs_in
    x = np.tile(np.sin(2 * np.pi * 10 * t) + 3.0 + np.sin(2 * np.pi * 100 * t), (12, 1))  # DC and 100 Hz go
    y = preprocess_signal(x, fs_in, s)
    assert y.shape == (12, 2500)
    assert np.allclose(y.mean(axis=1), 0, atol=1e-6) and np.allclose(y.std(axis=1), 1, atol=1e-6)
    reference = np.sin(2 * np.pi * 10 * np.arange(2500) / 250)
    core = slice(250, -250)  # away from the filter's edges
    assert np.corrcoef(y[0, core], reference[core])[0, 1] > 0.999


def test_flat_and_missing_leads_stay_zero():
    x = F.signal()
    x[5] = 0.0
    y = preprocess_signal(x, 500, PreprocessSettings())
    assert np.all(y[5] == 0) and np.isfinite(y).all()


def test_settings_roundtrip_and_validation():
    s = PreprocessSettings(fs=500, window_seconds=5, stride_seconds=2.5)
    assert PreprocessSettings.from_dict(s.to_dict()) == s and s.window_samples == 2500
    with pytest.raises(ValueError):
        PreprocessSettings(fs=333)
    with pytest.raises(ValueError):
        PreprocessSettings(fs=100, band_hz=(0.5, 60.0))
