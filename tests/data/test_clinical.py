"""Clinical exports (GE MUSE, HL7 aECG, Philips Sierra, SCP-ECG, DICOM, EDF): real sample files, read in place.

Amplitudes and rates are checked against a second means: the file's own numbers decoded directly
(base64 / digits x scale, pydicom), the sample README's figures, or the same ECG in another format.
"""

import base64
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from pocketecg.cli import app
from pocketecg.data import RecordError, read_record
from pocketecg.data.record import DERIVED_LEADS, INDEPENDENT_LEADS, STANDARD_LEADS

# file -> (source, fs, seconds, stored leads, README's peak-to-peak range over the stored leads in mV or None)
SAMPLES = {
    "ge_muse_xml/braveheart_example1.xml": ("ge_muse_xml", 500, 10, 8, (1.43, 2.59)),
    "ge_muse_xml/braveheart_example2.xml": ("ge_muse_xml", 500, 10, 8, (1.47, 5.80)),
    "hl7_aecg/Example_aECG.xml": ("hl7_aecg", 500, 10, 12, (0.59, 2.33)),
    "hl7_aecg/hl7aecg-Example2.xml": ("hl7_aecg", 1000, 10, 12, None),
    "hl7_aecg/liryc_hl7aecg_example_synthetic.xml": ("hl7_aecg", 100, 10, 12, None),
    "scp_ecg/ecgtoolkit_Example.scp": ("scp_ecg", 500, 10, 12, (0.59, 2.33)),
    "scp_ecg/welchallyn_ECG_20170504_163507_123456789.SCP": ("scp_ecg", 600, 10, 8, (0.40, 1.74)),
    "dicom_ecg/pydicom_waveform_ecg.dcm": ("dicom_ecg", 1000, 10, 12, None),
    "dicom_ecg/ecgtoolkit_Example.dcm": ("dicom_ecg", 500, 10, 12, (0.59, 2.33)),
    "philips_sierra_xml/129DYPRG.XML": ("philips_sierra_xml", 500, 11, 12, None),
    "philips_sierra_xml/3191723_ZZDEMOPTONLY_1-04_orig.xml": ("philips_sierra_xml", 500, 11, 12, None),
    "philips_sierra_xml/2020-5-18_15-48-11.xml": ("philips_sierra_xml", 500, 11, 12, None),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_reads_with_its_rate_length_and_amplitude(shared_formats, name):
    source, fs, seconds, stored, p2p = SAMPLES[name]
    record = read_record(shared_formats / name)
    assert record.source == source and record.fs == fs and record.seconds == pytest.approx(seconds)
    assert record.signal.shape == (12, fs * seconds) and record.units == "mV"
    assert not record.missing_leads
    assert record.derived_leads == (() if stored == 12 else DERIVED_LEADS)
    if p2p is not None:
        rows = [STANDARD_LEADS.index(lead) for lead in (INDEPENDENT_LEADS if stored == 8 else STANDARD_LEADS)]
        ranges = np.ptp(record.signal[rows], axis=1)
        assert ranges.min() == pytest.approx(p2p[0], abs=0.01) and ranges.max() == pytest.approx(p2p[1], abs=0.01)
    assert "patient" not in record.meta and "name" not in record.meta  # identifiers are not copied


def test_muse_matches_a_direct_base64_decode(shared_formats):
    """GE MUSE stores int16 little-endian samples in base64 with AmplitudeUnitsPerBit (4.88 µV)."""
    path = shared_formats / "ge_muse_xml/braveheart_example1.xml"
    text = path.read_text(errors="replace")
    rhythm = text[text.index("<WaveformType>Rhythm"):]
    lead = re.search(r"<LeadID>V2</LeadID>", rhythm).start()
    block = rhythm[lead:]
    per_bit = float(re.search(r"<LeadAmplitudeUnitsPerBit>([\d.]+)<", block).group(1))
    data = re.search(r"<WaveFormData>([^<]+)<", block).group(1)
    direct = np.frombuffer(base64.b64decode(data), dtype="<i2") * per_bit / 1000.0
    assert np.abs(read_record(path).signal[STANDARD_LEADS.index("V2")] - direct).max() < 1e-6


def test_dicom_matches_pydicom_and_keeps_genuine_zero_samples(shared_formats):
    import pydicom

    for name in ("dicom_ecg/pydicom_waveform_ecg.dcm", "dicom_ecg/ecgtoolkit_Example.dcm"):
        ds = pydicom.dcmread(shared_formats / name)
        reference = ds.waveform_array(0).T / 1000.0  # µV -> mV; the file's lead order is the standard one
        record = read_record(shared_formats / name)
        assert np.abs(record.signal - reference).max() < 1e-6
    # ECG Toolkit's padding value is 0: its 1,269 genuine 0 µV samples must stay 0, not become NaN (ecgdatakit)
    assert int((record.signal == 0).sum()) == int((reference == 0).sum()) == 1269


def test_one_recording_in_three_formats_reads_identically(shared_formats):
    """The ECG Toolkit trio: HL7 aECG, SCP-ECG and DICOM copies of the same ECG."""
    aecg = read_record(shared_formats / "hl7_aecg/Example_aECG.xml")
    scp = read_record(shared_formats / "scp_ecg/ecgtoolkit_Example.scp")
    dcm = read_record(shared_formats / "dicom_ecg/ecgtoolkit_Example.dcm")
    assert aecg.fs == scp.fs == dcm.fs
    assert np.abs(aecg.signal - scp.signal).max() < 1e-6 and np.abs(aecg.signal - dcm.signal).max() < 1e-6


def test_predict_classifies_every_sample(shared_formats):
    result = CliRunner().invoke(app, ["predict", str(shared_formats), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(SAMPLES)
    assert "12 record(s) classified" in result.stderr and "0 failed" in result.stderr


def _broken(shared_formats, tmp_path, name, mutate) -> object:
    src = shared_formats / name
    dst = tmp_path / src.name
    dst.write_bytes(mutate(src.read_bytes()))
    with pytest.raises(RecordError) as info:
        read_record(dst)
    assert src.name in str(info.value)
    return info.value


@pytest.mark.parametrize("name, format_name", [
    ("ge_muse_xml/braveheart_example1.xml", "GE MUSE XML"),
    ("hl7_aecg/Example_aECG.xml", "HL7 aECG"),
    ("philips_sierra_xml/129DYPRG.XML", "Philips Sierra XML"),
    ("scp_ecg/ecgtoolkit_Example.scp", "SCP-ECG"),
    ("dicom_ecg/pydicom_waveform_ecg.dcm", "DICOM"),
])
def test_truncated_clinical_files_name_the_file_and_the_format(shared_formats, tmp_path, name, format_name):
    error = _broken(shared_formats, tmp_path, name, lambda b: b[: len(b) // 2])
    assert "corrupt or truncated" in error.problem or "not an ECG file" in error.problem or "samples" in error.problem
    assert format_name in error.problem or "not an ECG file" in error.problem


def test_corrupt_scp_bytes_are_an_error_not_garbage(shared_formats, tmp_path):
    def scramble(b: bytes) -> bytes:
        b = bytearray(b)
        b[200:2000] = bytes(1800)
        return bytes(b)

    _broken(shared_formats, tmp_path, "scp_ecg/ecgtoolkit_Example.scp", scramble)


def test_muse_with_a_lead_renamed_is_a_wrong_lead_count(shared_formats, tmp_path):
    error = _broken(shared_formats, tmp_path, "ge_muse_xml/braveheart_example1.xml",
                    lambda b: b.replace(b"<LeadID>V6</LeadID>", b"<LeadID>V9</LeadID>"))
    assert "missing lead(s) V6" in error.problem


def test_muse_with_a_lead_twice_is_refused(shared_formats, tmp_path):
    """ecgdatakit keeps one of two same-named leads, so the record lacks the other one: refused, never guessed."""
    error = _broken(shared_formats, tmp_path, "ge_muse_xml/braveheart_example1.xml",
                    lambda b: b.replace(b"<LeadID>V6</LeadID>", b"<LeadID>V5</LeadID>"))
    assert "missing lead(s) V6" in error.problem


def test_xml_entity_expansion_is_refused(tmp_path):
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE RestingECG [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;">]>\n<RestingECG><PatientDemographics>&c;</PatientDemographics>'
            b'</RestingECG>')
    path = tmp_path / "bomb.xml"
    path.write_bytes(bomb)
    with pytest.raises(RecordError, match="bomb.xml") as info:
        read_record(path)
    assert "entit" in info.value.problem.lower() or "not an ECG file" in info.value.problem


def test_an_unrelated_xml_file_is_not_an_ecg(tmp_path):
    path = tmp_path / "pom.xml"
    path.write_text("<project><modelVersion>4.0.0</modelVersion></project>")
    with pytest.raises(RecordError, match="pom.xml: not an ECG file"):
        read_record(path)


def test_edf_written_by_pyedflib_reads_in_millivolts(tmp_path):
    """EDF through ecgdatakit, checked against pyedflib (an independent writer) and the written values."""
    pyedflib = pytest.importorskip("pyedflib")
    import ecg_files as F

    x = F.signal("RBBB", seconds=10, fs=500)  # mV
    path = tmp_path / "rec.edf"
    with pyedflib.EdfWriter(str(path), 12, file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders([{"label": f"ECG {lead}", "dimension": "uV", "sample_frequency": 500,
                                  "physical_max": 5000.0, "physical_min": -5000.0, "digital_max": 32767,
                                  "digital_min": -32768} for lead in STANDARD_LEADS])
        writer.writeSamples([row * 1000.0 for row in x])
    record = read_record(path)
    assert record.source == "edf" and record.fs == 500 and record.signal.shape == (12, 5000)
    assert np.abs(record.signal - x).max() < 0.001  # 16-bit over ±5 mV: 0.15 µV steps


def _edf(tmp_path, leads=STANDARD_LEADS):
    pyedflib = pytest.importorskip("pyedflib")
    import ecg_files as F

    x = F.signal("SNR", seconds=10, fs=500)
    path = tmp_path / "rec.edf"
    with pyedflib.EdfWriter(str(path), len(leads), file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders([{"label": f"ECG {lead}", "dimension": "uV", "sample_frequency": 500,
                                  "physical_max": 5000.0, "physical_min": -5000.0, "digital_max": 32767,
                                  "digital_min": -32768} for lead in leads])
        writer.writeSamples([x[STANDARD_LEADS.index(lead)] * 1000.0 for lead in leads])
    return path


def test_truncated_edf_and_edf_missing_leads_are_named(tmp_path):
    path = _edf(tmp_path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(RecordError, match="rec.edf") as info:
        read_record(path)
    assert "EDF" in info.value.problem or "samples" in info.value.problem
    (tmp_path / "six").mkdir()
    six = _edf(tmp_path / "six", leads=("I", "II", "V1", "V2", "V3", "V4"))
    with pytest.raises(RecordError, match=r"missing lead\(s\) V5, V6"):
        read_record(six)


def test_dicom_without_some_channels_is_a_wrong_lead_count(shared_formats, tmp_path):
    import pydicom

    ds = pydicom.dcmread(shared_formats / "dicom_ecg/pydicom_waveform_ecg.dcm")
    ds.WaveformSequence[0].ChannelDefinitionSequence[11].ChannelSourceSequence[0].CodeMeaning = "Pleth"
    path = tmp_path / "eleven.dcm"
    ds.save_as(path)
    with pytest.raises(RecordError, match=r"eleven.dcm: wrong lead count: missing lead\(s\) V6"):
        read_record(path)
