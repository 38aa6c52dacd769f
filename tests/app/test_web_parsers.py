"""The browser's ECG readers (app/web/ecg-parsers.js, run in node) read what Python reads, and fail alike."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import ecg_files as F
from pocketecg.data import ReadOptions, RecordError, read_record

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the browser's JS)")
HARNESS = Path(__file__).with_name("parse_files.mjs")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def parse_js(*paths, allow_missing=False):
    env = {"ALLOW_MISSING": "1" if allow_missing else "0", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([NODE, str(HARNESS), *map(str, paths)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_same(js, path, options=ReadOptions()):
    rec = read_record(path, options)
    assert js["ok"], js.get("error")
    assert js["fs"] == rec.fs and js["missing"] == list(rec.missing_leads) and js["warnings"] == rec.warnings
    assert np.abs(np.array(js["leads"]) - rec.signal).max() < 1e-5


def test_wfdb_format_16_any_lead_case_and_order(tmp_path):
    x = F.signal("AF", seconds=12)
    names = ["v6", "V5", "v4", "V3", "v2", "V1", "avf", "AVL", "aVR", "iii", "II", "i"]
    header = F.write_wfdb(tmp_path, "r", x[::-1].copy(), lead_names=names)
    assert_same(parse_js(header, tmp_path / "r.dat"), header)


def test_wfdb_format_212(tmp_path):
    header = F.write_wfdb(tmp_path, "r212", F.signal("SNR"), fmt="212")
    assert_same(parse_js(header, tmp_path / "r212.dat"), header)


@pytest.mark.parametrize("bits, gain", [(16, 1000.0), (24, 100000.0), (8, 20.0)])
def test_wfdb_flac_reads_as_in_python(tmp_path, bits, gain):
    """WFDB FLAC (formats 516, 524, 508), 12 leads in two FLAC files, decoded by libFLAC's WASM build."""
    x = F.signal("AF", seconds=12) * (0.1 if bits == 8 else 1)  # 8 bits: keep the leads within +-127 steps
    header = F.write_wfdb_flac(tmp_path, "flac", x, bits=bits, gain=gain)
    assert_same(parse_js(header, tmp_path / "flac_1.dat", tmp_path / "flac_2.dat"), header)


@pytest.mark.parametrize("damage, match", [("truncate", "truncated signal|corrupt FLAC signal file"),
                                           ("corrupt", "corrupt FLAC signal file"),
                                           ("missing", "signal file flac_2.dat not found")])
def test_broken_flac_files_are_named_and_explained(tmp_path, damage, match):
    header = F.write_wfdb_flac(tmp_path, "flac", F.signal("SNR", seconds=12))
    second = tmp_path / "flac_2.dat"
    data = bytearray(second.read_bytes())
    if damage == "truncate":
        second.write_bytes(data[: len(data) // 2])
    elif damage == "corrupt":
        data[3000:3400] = bytes(b ^ 0x5A for b in data[3000:3400])
        second.write_bytes(data)
    elif damage == "missing":
        second.unlink()
    js = parse_js(header, *sorted(tmp_path.glob("flac_*.dat")))
    assert not js["ok"] and re.search(match, js["error"]), js
    assert js["error"].startswith("flac_2.dat" if damage != "missing" else "flac.hea"), js["error"]
    with pytest.raises(RecordError):  # Python refuses the same file
        read_record(header)


def test_cinc_mat_v4(tmp_path):
    header = F.write_cinc_mat(tmp_path, "E00001", F.signal("RBBB"))
    assert_same(parse_js(header, tmp_path / "E00001.mat"), header)


def test_csv_with_time_column(tmp_path):
    path = F.write_csv(tmp_path / "mine.csv", F.signal("SNR", fs=250), fs=250)
    assert_same(parse_js(path), path)


def test_missing_lead_is_refused_or_zero_filled(tmp_path):
    header = F.write_wfdb(tmp_path, "eleven", F.signal()[:11], lead_names=list(F.STANDARD_LEADS[:11]))
    js = parse_js(header, tmp_path / "eleven.dat")
    assert not js["ok"] and "missing lead(s) V6" in js["error"] and "eleven.hea" in js["error"]
    assert_same(parse_js(header, tmp_path / "eleven.dat", allow_missing=True), header,
                ReadOptions(allow_missing_leads=True))


@pytest.mark.parametrize("damage,match", [
    ("truncate_dat", "truncated"),
    ("no_dat", "not found"),
    ("short", "too short"),
    ("flat", "all leads are flat"),
    ("microvolts", "µV stored as mV"),
])
def test_broken_files_give_the_same_kind_of_error(tmp_path, damage, match):
    x = F.signal("SNR", seconds=1.5 if damage == "short" else 10)
    if damage == "flat":
        x[:] = 0.0
    header = F.write_wfdb(tmp_path, "bad", x)
    if damage == "microvolts":  # the values are µV but the header says mV
        header = F.write_wfdb(tmp_path, "bad", x * 1000, units="mV", gain=1)
    dat = tmp_path / "bad.dat"
    if damage == "truncate_dat":
        dat.write_bytes(dat.read_bytes()[:500])
    files = [header] if damage == "no_dat" else [header, dat]
    js = parse_js(*files)
    assert not js["ok"] and js["error"].split(":")[0] in ("bad.hea", "bad.dat")
    assert match in js["error"]
    if damage != "no_dat":
        with pytest.raises(RecordError):
            read_record(header)


@pytest.mark.parametrize("compressed", [False, True])
def test_cpsc_original_mat_v5(tmp_path, compressed):
    x = F.signal("LBBB", seconds=14)
    path = F.write_cpsc_original(tmp_path, "A0042", x)
    if compressed:  # the challenge files are zlib-compressed MATLAB v5
        scipy.io.savemat(path, {"ECG": {"sex": "Female", "age": 61, "data": x}}, do_compression=True)
    assert_same(parse_js(path), path)


def test_cpsc_original_leads_as_columns(tmp_path):
    path = tmp_path / "A0007.mat"
    scipy.io.savemat(path, {"ECG": {"sex": "Male", "age": 40, "data": F.signal("AF").T}}, do_compression=True)
    assert_same(parse_js(path), path)


@pytest.mark.parametrize("case, match", [
    ("truncated", "corrupt or truncated .mat file"),
    ("eleven_leads", "wrong lead count"),
    ("no_ecg_struct", "no 'ECG' struct"),
    ("lone_cinc_mat", "without its .hea header"),
    ("lone_dat", "without its .hea header"),
    ("two_records", "one record at a time"),
    ("unsupported", "unsupported file type"),
    ("empty", "empty file"),
])
def test_bad_files_are_named_and_explained(tmp_path, case, match):
    x = F.signal("SNR")
    if case == "truncated":
        path = tmp_path / "A1.mat"
        scipy.io.savemat(path, {"ECG": {"sex": "Male", "age": 40, "data": x}}, do_compression=True)
        path.write_bytes(path.read_bytes()[:3000])
        files = [path]
    elif case == "eleven_leads":
        files = [tmp_path / "A1.mat"]
        scipy.io.savemat(files[0], {"ECG": {"sex": "Male", "age": 40, "data": x[:11]}}, do_compression=True)
    elif case == "no_ecg_struct":
        files = [tmp_path / "A1.mat"]
        scipy.io.savemat(files[0], {"signal": x})
    elif case == "lone_cinc_mat":
        F.write_cinc_mat(tmp_path, "A1", x)
        files = [tmp_path / "A1.mat"]
    elif case == "lone_dat":
        F.write_wfdb(tmp_path, "A1", x)
        files = [tmp_path / "A1.dat"]
    elif case == "two_records":
        files = [F.write_csv(tmp_path / "A1.csv", x, fs=500), F.write_csv(tmp_path / "A2.csv", x, fs=500)]
    elif case == "unsupported":
        files = [tmp_path / "A1.pdf"]
        files[0].write_bytes(b"0       ")
    else:
        files = [tmp_path / "A1.csv"]
        files[0].write_bytes(b"")
    js = parse_js(*files)
    assert not js["ok"] and match in js["error"], js
    if case not in ("two_records",):
        assert js["error"].startswith("A1."), js["error"]  # names the file


@pytest.mark.shared_data
def test_real_records(tmp_path):
    if not SHARED.is_dir():
        pytest.skip(f"real-data test: {SHARED} is absent")
    for name, signal_file in [("cpsc2018/wfdb/A0001", ".mat"), ("cinc/E00001", ".mat"), ("cinc/S0001", ".mat"),
                              ("ptbxl/records500/00000/00001_hr", ".dat")]:
        header = SHARED / f"{name}.hea"
        assert_same(parse_js(header, SHARED / f"{name}{signal_file}"), header)
    for header in sorted((SHARED / "ptbxl" / "processed500" / "test").glob("*.hea"))[:3]:  # FLAC, z-scored (NU)
        assert_same(parse_js(header, *sorted(header.parent.glob(f"{header.stem}_*.dat"))), header)
    for mat in sorted((SHARED / "cpsc2018" / "original").glob("*.mat"))[:3]:  # the challenge's own files
        assert_same(parse_js(mat), mat)


def test_huge_file_is_refused_before_it_is_read():
    proc = subprocess.run([NODE, str(HARNESS.with_name("check_sizes.mjs")), "holter.csv", str(300 * 2**20)],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout) == {"ok": False, "error": "holter.csv: file too large for one ECG (300 MiB)"}
    proc = subprocess.run([NODE, str(HARNESS.with_name("check_sizes.mjs")), "A0001.mat", "600000"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout) == {"ok": True}


XML_SAMPLES = ["ge_muse_xml/braveheart_example1.xml", "ge_muse_xml/braveheart_example2.xml",
               "hl7_aecg/Example_aECG.xml", "hl7_aecg/hl7aecg-Example2.xml",
               "hl7_aecg/liryc_hl7aecg_example_synthetic.xml"]


@pytest.mark.parametrize("name", XML_SAMPLES)
def test_clinical_xml_reads_as_in_python(shared_formats, name):
    """Real-data test: the page's GE MUSE / HL7 aECG readers give Python's (ecgdatakit's) samples."""
    js = parse_js(shared_formats / name)
    rec = read_record(shared_formats / name)
    assert js["ok"], js.get("error")
    assert js["fs"] == rec.fs and np.abs(np.array(js["leads"]) - rec.signal).max() < 1e-5
    assert [w for w in js["warnings"] if "derived" in w] == [w for w in rec.warnings if "derived" in w]


DICOM_SAMPLES = ["dicom_ecg/pydicom_waveform_ecg.dcm", "dicom_ecg/ecgtoolkit_Example.dcm"]


@pytest.mark.parametrize("name", DICOM_SAMPLES)
def test_dicom_reads_as_in_python(shared_formats, name):
    """Real-data test: the page's DICOM reader (dicom-parser) gives pydicom's samples, padding trimmed alike."""
    js = parse_js(shared_formats / name)
    rec = read_record(shared_formats / name)
    assert js["ok"], js.get("error")
    assert js["fs"] == rec.fs and np.array(js["leads"]).shape == rec.signal.shape
    assert np.abs(np.array(js["leads"]) - rec.signal).max() < 1e-5


def test_broken_dicom_files_are_named_and_explained(shared_formats, tmp_path):
    data = (shared_formats / DICOM_SAMPLES[0]).read_bytes()
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(data[: len(data) // 2])
    js = parse_js(truncated)
    assert not js["ok"] and js["error"].startswith("cut.dcm: corrupt or truncated DICOM file")
    assert read_record_error(truncated).startswith("corrupt or truncated DICOM file")
    not_dicom = tmp_path / "noise.dcm"
    not_dicom.write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 4)
    js = parse_js(not_dicom)
    assert not js["ok"] and js["error"].startswith("noise.dcm: ")


def read_record_error(path) -> str:
    with pytest.raises(RecordError) as exc:
        read_record(path)
    return exc.value.problem


def test_dicom_without_a_waveform_is_refused_like_python(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = pydicom.Dataset()
    ds.PatientName = "Test^Image"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.9.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    path = tmp_path / "image.dcm"
    ds.save_as(path, enforce_file_format=True)
    js = parse_js(path)
    assert not js["ok"] and "image.dcm: DICOM file has no waveform (WaveformSequence)" in js["error"]
    assert "no waveform (WaveformSequence)" in read_record_error(path)


def test_formats_the_page_leaves_to_python_say_so(shared_formats):
    for name in ("philips_sierra_xml/129DYPRG.XML", "scp_ecg/ecgtoolkit_Example.scp"):
        js = parse_js(shared_formats / name)
        assert not js["ok"] and "read by pocketecg in Python" in js["error"]


def test_xml_entities_are_refused_in_the_page(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE RestingECG [<!ENTITY a "aaaa">]><RestingECG>&a;</RestingECG>')
    js = parse_js(path)
    assert not js["ok"] and "bomb.xml: XML entity declarations are not allowed" in js["error"]


def test_eight_leads_derived_like_python(tmp_path):
    from pocketecg.data.record import INDEPENDENT_LEADS, STANDARD_LEADS

    x = F.signal("RBBB")
    keep = [STANDARD_LEADS.index(lead) for lead in INDEPENDENT_LEADS]
    header = F.write_wfdb(tmp_path, "eight", x[keep], lead_names=list(INDEPENDENT_LEADS))
    assert_same(parse_js(header, tmp_path / "eight.dat"), header)


@pytest.mark.parametrize("sep, decimal, time", [(";", ",", "time"), ("\t", ",", "time_ms"), (",", ".", "t")])
def test_csv_dialects_like_python(tmp_path, sep, decimal, time):
    x = F.signal("AF", seconds=4)
    scale = 1000.0 if time == "time_ms" else 1.0
    t = np.arange(x.shape[1]) / 500 * scale
    names = [time, *[f"Lead {lead}" for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")]]
    rows = [sep.join(f"{v:.6f}".replace(".", decimal) for v in row) for row in np.column_stack([t, x.T])]
    path = tmp_path / "export.csv"
    path.write_text(sep.join(names) + "\n" + "\n".join(rows) + "\n")
    assert_same(parse_js(path), path)


@pytest.mark.parametrize("case, match", [("slow", "implausible sampling rate"), ("dup", "duplicate lead name(s): V5")])
def test_plausibility_checks_like_python(tmp_path, case, match):
    names = list(F.STANDARD_LEADS)
    if case == "dup":
        names[11] = "v5"
        header = F.write_wfdb(tmp_path, "r", F.signal(), lead_names=names)
    else:
        header = F.write_wfdb(tmp_path, "r", F.signal(seconds=60, fs=500), fs=10)  # 3,000 s at "10 Hz"
    js = parse_js(header, tmp_path / "r.dat")
    assert not js["ok"] and match in js["error"]
    with pytest.raises(RecordError, match=match.replace("(", r"\(").replace(")", r"\)")):
        read_record(header)


def test_dicom_trailing_padding_is_trimmed_like_python_and_a_renamed_lead_refused(shared_formats, tmp_path):
    import pydicom

    ds = pydicom.dcmread(shared_formats / "dicom_ecg/ecgtoolkit_Example.dcm")
    group = ds.WaveformSequence[0]
    raw = np.frombuffer(group.WaveformData, dtype="<i2").reshape(-1, group.NumberOfWaveformChannels).copy()
    pad = int(np.frombuffer(bytes(group.WaveformPaddingValue)[:2], dtype="<i2")[0])
    raw[-300:] = pad  # the last 300 rows are padding; the genuine pad-valued samples inside stay
    group.WaveformData = raw.tobytes()
    padded = tmp_path / "padded.dcm"
    ds.save_as(padded)
    js, rec = parse_js(padded), read_record(padded)
    assert js["ok"], js.get("error")
    assert np.array(js["leads"]).shape == rec.signal.shape == (12, raw.shape[0] - 300)
    assert np.abs(np.array(js["leads"]) - rec.signal).max() < 1e-5
    group.ChannelDefinitionSequence[11].ChannelSourceSequence[0].CodeMeaning = "Pleth"
    renamed = tmp_path / "eleven.dcm"
    ds.save_as(renamed)
    js = parse_js(renamed)
    assert not js["ok"] and "eleven.dcm: wrong lead count: missing lead(s) V6" in js["error"]
