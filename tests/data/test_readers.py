import numpy as np
import pytest

import ecg_files as F
from pocketecg.data import STANDARD_LEADS, ReadOptions, RecordError, read_record


def test_wfdb_dat_roundtrip_and_lead_names_in_any_case(tmp_path):
    x = F.signal("SNR")
    names = ["i", "II", "iii", "AVR", "avl", "aVF", "v1", "V2", "v3", "V4", "v5", "V6"]
    order = np.random.default_rng(0).permutation(12)  # leads stored out of order
    header = F.write_wfdb(tmp_path, "rec1", x[order], lead_names=[names[i] for i in order], dx="164889003,59118001")
    rec = read_record(header)
    assert rec.leads == STANDARD_LEADS and rec.signal.shape == (12, 5000) and rec.signal.dtype == np.float32
    assert np.abs(rec.signal - x).max() < 1e-3  # int16 at 1000/mV
    assert rec.labels == {"AF", "RBBB"} and rec.fs == 500 and rec.units == "mV"
    assert read_record(tmp_path / "rec1.dat").record_id == "rec1"  # the signal file finds its header


def test_wfdb_flac_516(tmp_path):
    x = F.signal("RBBB")
    header = F.write_wfdb(tmp_path, "flac", x, fmt="516", dx="59118001")
    rec = read_record(header)
    assert np.abs(rec.signal - x).max() < 1e-3 and rec.labels == {"RBBB"}


def test_wfdb_microvolts_are_scaled_to_millivolts(tmp_path):
    x = F.signal("SNR")
    header = F.write_wfdb(tmp_path, "uv", x * 1000, units="uV", dx="426783006")
    rec = read_record(header)
    assert rec.units == "mV" and np.abs(rec.signal - x).max() < 2e-3


def test_cinc_mat_with_header_and_text_labels(tmp_path):
    x = F.signal("IAVB")
    header = F.write_cinc_mat(tmp_path, "A0001", x, dx="I-AVB")
    rec = read_record(header)
    assert rec.labels == {"IAVB"} and rec.source == "cpsc2018_wfdb" and rec.meta["sex"] == "Female"
    assert np.abs(rec.signal - x).max() < 1e-3
    assert read_record(tmp_path / "A0001.mat").record_id == "A0001"


def test_cinc_mat_in_matlab_v5_form_is_read_from_its_content(tmp_path):
    # wfdb alone would decode a v5 file at the v4 byte offset into plausible garbage
    x = F.signal("SNR")
    rec = read_record(F.write_cinc_mat(tmp_path, "E00001", x, dx="426783006", mat_format="5"))
    assert np.abs(rec.signal - x).max() < 1e-3 and rec.source == "cinc_georgia"


def test_cpsc_original_mat_with_reference(tmp_path):
    x = F.signal("AF", seconds=23)
    path = F.write_cpsc_original(tmp_path, "A1980", x, codes=(2, 5))
    rec = read_record(path)
    assert rec.source == "cpsc2018_original" and rec.labels == {"AF", "RBBB"}
    assert rec.signal.shape == (12, 23 * 500) and np.allclose(rec.signal, x, atol=1e-6)
    assert rec.meta == {"sex": "Male", "age": 52}


def test_cpsc_original_without_reference_has_unknown_labels(tmp_path):
    path = F.write_cpsc_original(tmp_path, "A0002", F.signal())
    (tmp_path / "REFERENCE.csv").unlink()
    assert read_record(path).labels is None


def test_ptbxl_labels_patient_and_fold(tmp_path):
    header = F.write_ptbxl(tmp_path, 17, F.signal("SNR"), {"NORM": 100.0, "SR": 0.0}, strat_fold=9, patient_id=4242)
    rec = read_record(header)
    assert rec.source == "ptbxl_records500" and rec.labels == {"SNR"}
    assert rec.meta == {"ecg_id": 17, "patient_id": 4242, "strat_fold": 9}


def test_csv_with_time_column_and_with_fs_option(tmp_path):
    x = F.signal("SNR", fs=250)
    rec = read_record(F.write_csv(tmp_path / "a.csv", x, fs=250))
    assert rec.fs == 250 and np.abs(rec.signal - x).max() < 1e-5 and rec.labels is None
    path = F.write_csv(tmp_path / "b.csv", x, time_column=False)
    with pytest.raises(RecordError, match="sampling rate unknown"):
        read_record(path)
    assert read_record(path, ReadOptions(fs=250)).fs == 250


def test_npy_either_orientation(tmp_path):
    x = F.signal("SNR").astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "b.npy", x.T)
    for name in ("a.npy", "b.npy"):
        rec = read_record(tmp_path / name, ReadOptions(fs=500))
        assert np.array_equal(rec.signal, x)


def test_missing_lead_is_an_error_unless_allowed(tmp_path):
    x = F.signal("SNR")[:11]
    header = F.write_wfdb(tmp_path, "eleven", x, lead_names=list(STANDARD_LEADS[:11]))
    with pytest.raises(RecordError, match="missing lead.*V6"):
        read_record(header)
    rec = read_record(header, ReadOptions(allow_missing_leads=True))
    assert rec.missing_leads == ("V6",) and not rec.signal[11].any()
    assert any("missing lead" in w for w in rec.warnings)
