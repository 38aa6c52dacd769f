"""Every broken file gives one error that names the file and the problem."""

import numpy as np
import pytest
import scipy.io

import ecg_files as F
from pocketecg.data import ReadOptions, RecordError, read_record


def expect_error(path, match, options=ReadOptions()):
    with pytest.raises(RecordError, match=match) as info:
        read_record(path, options)
    assert str(path.name if hasattr(path, "name") else path).split(".")[0] in str(info.value)
    return info.value


def test_truncated_cinc_mat(tmp_path):
    header = F.write_cinc_mat(tmp_path, "E1", F.signal())
    mat = tmp_path / "E1.mat"
    mat.write_bytes(mat.read_bytes()[: mat.stat().st_size // 2])
    expect_error(header, "corrupt or truncated")


def test_corrupt_cpsc_mat(tmp_path):
    path = tmp_path / "A0001.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 3)
    expect_error(path, "corrupt or truncated .mat")


def test_truncated_dat(tmp_path):
    header = F.write_wfdb(tmp_path, "r1", F.signal())
    dat = tmp_path / "r1.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    expect_error(header, "truncated|corrupt")


def test_corrupt_header(tmp_path):
    F.write_wfdb(tmp_path, "r2", F.signal())
    (tmp_path / "r2.hea").write_text("r2 twelve leads at some rate\n\x00\x01garbage\n")
    expect_error(tmp_path / "r2.hea", "WFDB")


def test_dat_without_header(tmp_path):
    F.write_wfdb(tmp_path, "r3", F.signal())
    (tmp_path / "r3.hea").unlink()
    expect_error(tmp_path / "r3.dat", "without its .hea header")


def test_wrong_lead_count_cpsc(tmp_path):
    path = F.write_cpsc_original(tmp_path, "A0003", F.signal()[:8])
    expect_error(path, "wrong lead count")


def test_wrong_lead_count_npy(tmp_path):
    np.save(tmp_path / "x.npy", F.signal()[:3])
    expect_error(tmp_path / "x.npy", "wrong lead count", ReadOptions(fs=500))


def test_nan_and_inf(tmp_path):
    x = F.signal()
    x[3, 100:110] = np.nan
    x[7, 5] = np.inf
    np.save(tmp_path / "nan.npy", x)
    err = expect_error(tmp_path / "nan.npy", "NaN or infinite", ReadOptions(fs=500))
    assert "aVR" in str(err) and "V2" in str(err)


def test_all_leads_flat_is_an_error_one_flat_lead_a_warning(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((12, 5000)))
    expect_error(tmp_path / "flat.npy", "all leads are flat", ReadOptions(fs=500))
    x = F.signal()
    x[4] = 0.3
    np.save(tmp_path / "oneflat.npy", x)
    rec = read_record(tmp_path / "oneflat.npy", ReadOptions(fs=500))
    assert rec.warnings == ["flat lead(s): aVL"]


def test_too_short(tmp_path):
    header = F.write_wfdb(tmp_path, "short", F.signal(seconds=1.5))
    expect_error(header, r"too short: 1.50 s")


@pytest.mark.parametrize("scale,hint", [(1000.0, "µV stored as mV"), (0.001, "volts stored as mV")])
def test_implausible_amplitude_wrong_units(tmp_path, scale, hint):
    x = F.signal() * scale
    scipy.io.savemat(tmp_path / "A0009.mat", {"ECG": {"sex": "Male", "age": 40, "data": x}})
    expect_error(tmp_path / "A0009.mat", hint)


@pytest.mark.parametrize("name,content,match", [
    ("notes.txt", b"hello, this is not an ECG\n1,2,3\n", "names no ECG leads"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100, "unsupported file type"),
    ("table.csv", b"patient,age\n1,50\n", "names no ECG leads"),
    ("random.mat", None, "neither a CPSC 'ECG' struct nor a WFDB 'val'"),
    ("empty.npy", b"", "empty file"),
])
def test_non_ecg_files(tmp_path, name, content, match):
    path = tmp_path / name
    if content is None:
        scipy.io.savemat(path, {"weights": np.ones(5)})
    else:
        path.write_bytes(content)
    expect_error(path, match, ReadOptions(fs=500))


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nothere.mat", "no such file")
