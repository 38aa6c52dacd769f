"""Plausibility before work: sampling rate, size, lead names and file kinds are checked before samples are read."""

import tracemalloc

import numpy as np
import pytest

import ecg_files as F
from pocketecg.data import ReadOptions, RecordError, read_record
from pocketecg.data.record import STANDARD_LEADS


def error_of(path, options=ReadOptions()) -> RecordError:
    with pytest.raises(RecordError) as info:
        read_record(path, options)
    assert path.name in str(info.value)
    return info.value


@pytest.mark.parametrize("fs", [0.02, 10, 49.9, 20_001, 1e9])
def test_implausible_rate_from_fs_option(tmp_path, fs):
    path = F.write_csv(tmp_path / "r.csv", F.signal(), time_column=False)
    assert "implausible sampling rate" in error_of(path, ReadOptions(fs=fs)).problem
    np.save(tmp_path / "r.npy", F.signal())
    assert "(from --fs)" in error_of(tmp_path / "r.npy", ReadOptions(fs=fs)).problem


def test_implausible_rate_from_a_wfdb_header_is_refused_before_reading(tmp_path):
    header = F.write_wfdb(tmp_path, "r", F.signal())
    text = header.read_text().splitlines()
    first = text[0].split()
    first[2] = "30000"
    header.write_text("\n".join([" ".join(first), *text[1:]]) + "\n")
    assert "implausible sampling rate 30000 Hz (from the header)" in error_of(header).problem


def test_implausible_rate_from_a_time_column(tmp_path):
    x = F.signal(seconds=3)
    path = tmp_path / "slow.csv"
    t = np.arange(x.shape[1]) * 50.0  # 50 s per sample
    np.savetxt(path, np.column_stack([t, x.T]), delimiter=",", header="time_s," + ",".join(STANDARD_LEADS),
               comments="")
    assert "(from the time column 'time_s')" in error_of(path).problem


def test_npy_claiming_87_tib_is_refused_without_allocating(tmp_path):
    path = tmp_path / "huge.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((12, 1), np.float32))
    header["shape"] = (12, 2_000_000_000_000)  # 12 x 2e12 float32 = 87 TiB
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(b"\0" * 4096)
    tracemalloc.start()
    problem = error_of(path, ReadOptions(fs=500)).problem
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "record too long" in problem and peak < 5 * 2**20


def test_wfdb_header_claiming_a_day_is_refused_before_reading(tmp_path):
    header = F.write_wfdb(tmp_path, "day", F.signal())
    text = header.read_text().splitlines()
    first = text[0].split()
    first[3] = str(500 * 86400)
    header.write_text("\n".join([" ".join(first), *text[1:]]) + "\n")
    assert "record too long" in error_of(header).problem


def test_oversized_dat_is_refused(tmp_path):
    header = F.write_wfdb(tmp_path, "big", F.signal())
    with open(tmp_path / "big.dat", "r+b") as fh:
        fh.truncate(201 * 2**20)  # sparse: no disk used
    with pytest.raises(RecordError, match=r"big.dat: file too large for one ECG \(201 MiB\)"):
        read_record(header)


def test_npz_and_pickled_npy_are_refused(tmp_path):
    np.savez(tmp_path / "r.npz", ecg=F.signal())
    assert "npz archive" in error_of(tmp_path / "r.npz", ReadOptions(fs=500)).problem
    (tmp_path / "renamed.npy").write_bytes((tmp_path / "r.npz").read_bytes())
    assert "npz archive" in error_of(tmp_path / "renamed.npy", ReadOptions(fs=500)).problem
    np.save(tmp_path / "obj.npy", np.array([F.signal()[0], "x"], dtype=object), allow_pickle=True)
    assert "pickled" in error_of(tmp_path / "obj.npy", ReadOptions(fs=500)).problem


def test_duplicate_lead_names_are_refused(tmp_path):
    names = list(STANDARD_LEADS)
    names[11] = "V5"
    path = F.write_csv(tmp_path / "dup.csv", F.signal(), fs=500, lead_names=names)
    assert "duplicate lead name(s): V5" in error_of(path).problem
    names[11] = "v5"  # wfdb itself refuses to write identical names; a cart's export is not so careful
    header = F.write_wfdb(tmp_path, "dup", F.signal(), lead_names=names)
    assert "duplicate lead name(s): V5" in error_of(header).problem


def test_a_folder_where_a_file_is_expected(tmp_path):
    (tmp_path / "rec.csv").mkdir()
    assert "a folder, not an ECG file" in error_of(tmp_path / "rec.csv").problem


def test_eight_lead_record_gets_the_limb_leads_derived_exactly(tmp_path):
    x = F.signal("LBBB")
    keep = [STANDARD_LEADS.index(lead) for lead in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    header = F.write_wfdb(tmp_path, "eight", x[keep], lead_names=[STANDARD_LEADS[i] for i in keep])
    record = read_record(header)
    assert record.derived_leads == ("III", "aVR", "aVL", "aVF") and not record.missing_leads
    assert any("derived from I and II" in w for w in record.warnings)
    lead_i, lead_ii = record.signal[0].astype(float), record.signal[1].astype(float)
    assert np.allclose(record.signal[2], lead_ii - lead_i, atol=1e-6)
    assert np.allclose(record.signal[3], -(lead_i + lead_ii) / 2, atol=1e-6)
    assert np.allclose(record.signal[4], lead_i - lead_ii / 2, atol=1e-6)
    assert np.allclose(record.signal[5], lead_ii - lead_i / 2, atol=1e-6)
    # without lead II nothing can be derived: the error names what is missing
    only = [STANDARD_LEADS.index(lead) for lead in ("I", "V1", "V2", "V3", "V4", "V5", "V6")]
    header = F.write_wfdb(tmp_path, "seven", x[only], lead_names=[STANDARD_LEADS[i] for i in only])
    assert "missing lead(s) II, III, aVR, aVL, aVF" in error_of(header).problem


# CSV as people export it
def _csv_text(x, fs, sep=",", decimal=".", header=None, time=None):
    names = header or list(STANDARD_LEADS)
    cols = [x[i] for i in range(12)]
    if time is not None:
        names = [time[0], *names]
        cols = [np.arange(x.shape[1]) / fs * time[1], *cols]
    rows = [sep.join(f"{v:.6f}".replace(".", decimal) for v in row) for row in np.stack(cols, axis=1)]
    return sep.join(names) + "\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("sep, decimal", [(",", "."), (";", ","), ("\t", ","), ("\t", "."), (";", ".")])
def test_csv_separators_and_decimal_commas(tmp_path, sep, decimal):
    x = F.signal("AF", seconds=4)
    path = tmp_path / "export.csv"
    path.write_text(_csv_text(x, 500, sep, decimal, time=("time", 1.0)))
    record = read_record(path)
    assert record.fs == 500 and np.abs(record.signal - x).max() < 1e-5


@pytest.mark.parametrize("spelling", [
    ["Lead I", "Lead II", "Lead III", "Lead aVR", "Lead aVL", "Lead aVF", *[f"Lead V{i}" for i in range(1, 7)]],
    [lead.lower() for lead in STANDARD_LEADS],
    [f"{lead} (mV)" for lead in STANDARD_LEADS],
])
def test_csv_lead_spellings(tmp_path, spelling):
    x = F.signal(seconds=3)
    path = tmp_path / "spelt.csv"
    path.write_text(_csv_text(x, 500, header=spelling))
    assert np.abs(read_record(path, ReadOptions(fs=500)).signal - x).max() < 1e-5


def test_csv_time_in_milliseconds(tmp_path):
    x = F.signal(seconds=3)
    (tmp_path / "ms.csv").write_text(_csv_text(x, 500, time=("time_ms", 1000.0)))
    assert read_record(tmp_path / "ms.csv").fs == 500
    (tmp_path / "bare.csv").write_text(_csv_text(x, 500, time=("time", 1000.0)))  # "time" but in ms
    record = read_record(tmp_path / "bare.csv")
    assert record.fs == 500 and any("read as milliseconds" in w for w in record.warnings)


@pytest.mark.parametrize("units, scale", [("uV", 1000.0), ("mV", 1.0), ("V", 0.001)])
def test_csv_units(tmp_path, units, scale):
    x = F.signal(seconds=3)
    (tmp_path / "u.csv").write_text(_csv_text(x * scale, 500))
    record = read_record(tmp_path / "u.csv", ReadOptions(fs=500, units=units))
    assert np.abs(record.signal - x).max() < 1e-3
    if units != "mV":  # the same numbers taken as mV are refused by the amplitude check, naming the likely cause
        assert "wrong units" in error_of(tmp_path / "u.csv", ReadOptions(fs=500)).problem


def test_csv_problems_have_precise_messages(tmp_path):
    x = F.signal(seconds=3)
    (tmp_path / "nofs.csv").write_text(_csv_text(x, 500))
    assert "sampling rate unknown: give --fs" in error_of(tmp_path / "nofs.csv").problem
    (tmp_path / "empty.csv").write_text("I,II,III\n")
    assert "no sample rows" in error_of(tmp_path / "empty.csv", ReadOptions(fs=500)).problem
    (tmp_path / "text.csv").write_text("I;II\n1,0;abc\n")
    assert "semicolon-separated" in error_of(tmp_path / "text.csv", ReadOptions(fs=500)).problem
