"""Clinical ECG exports: GE MUSE XML, HL7 aECG, Philips Sierra XML, SCP-ECG, EDF/EDF+ and DICOM waveforms.

The parsing is ecgdatakit's (Apache-2.0; XML through defusedxml, no entity expansion), except DICOM,
which is read with pydicom directly: ecgdatakit turns every sample equal to the file's
WaveformPaddingValue into NaN, and ECG Toolkit writes that value as 0, so every genuine 0 µV sample
became NaN. Here only trailing rows that are padding in every channel are trimmed (padding fills the
end of shorter channels). The evaluation behind this choice is in docs/formats.md.

Files that store only I, II and V1-V6 get III, aVR, aVL and aVF derived (record.arrange_leads).
Patient identifiers in these files (names, IDs, dates of birth) are never copied into the Record.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pocketecg.data.record import Record, RecordError, arrange_leads, check_sampling_rate, check_size, to_millivolts

XML_SUFFIXES = (".xml",)
CLINICAL_SUFFIXES = (".xml", ".scp", ".dcm", ".dicom", ".edf")
# ecgdatakit's format name -> our source name (what `data check` and evaluate's per-source table show)
SOURCES = {"GE MUSE XML": "ge_muse_xml", "HL7 aECG": "hl7_aecg", "Philips Sierra XML": "philips_sierra_xml",
           "SCP-ECG": "scp_ecg", "EDF/EDF+": "edf", "Mortara ELI (EL250/ELI280)": "mortara_xml",
           "DICOM Waveform": "dicom_ecg"}
DICOM_SOURCE = "dicom_ecg"


def is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def read_clinical(path: str | Path, allow_missing_leads: bool = False) -> Record:
    path = Path(path)
    if path.suffix.lower() in (".dcm", ".dicom") or is_dicom(path):
        return read_dicom(path, allow_missing_leads)
    return read_with_ecgdatakit(path, allow_missing_leads)


def _detect(path: Path) -> dict:
    """ecgdatakit's format detection (name and parser class), once per file; unknown formats are an error."""
    from ecgdatakit import FileParser

    try:
        detected = FileParser.detect_format(path)
    except Exception:
        detected = None
    if detected is None or detected["name"] not in SOURCES:
        kinds = "GE MUSE, HL7 aECG, Philips Sierra or Mortara XML" if path.suffix.lower() == ".xml" else \
            "SCP-ECG, EDF or DICOM"
        raise RecordError(path, f"not an ECG file: {path.suffix or 'the file'} is none of the formats read "
                          f"({kinds})")
    return detected


def read_with_ecgdatakit(path: Path, allow_missing_leads: bool = False) -> Record:
    from ecgdatakit import FileParser

    name = _detect(path)["name"]  # for our messages; FileParser.parse also scales the samples to mV
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parsed = FileParser.parse(path)
    except Exception as exc:  # the library raises its own errors, ParseError, KeyError... on broken files
        raise RecordError(path, f"corrupt or truncated {name} file ({exc.__class__.__name__}: {exc})") from None
    leads = [lead for lead in parsed.leads if len(lead.samples)]
    if not leads:
        raise RecordError(path, f"{name} file holds no waveform samples")
    rates = {float(lead.sampling_rate) for lead in leads}
    if len(rates) != 1:
        raise RecordError(path, f"leads are sampled at different rates: {sorted(rates)} Hz")
    fs = check_sampling_rate(rates.pop(), path, f" (from the {name} file)")
    lengths = {len(lead.samples) for lead in leads}
    check_size(max(lengths), fs, path, leads=len(leads))
    if len(lengths) != 1:
        raise RecordError(path, f"leads have different lengths: {sorted(lengths)} samples")
    if any(getattr(lead, "is_raw", False) for lead in leads):
        raise RecordError(path, f"{name} file: samples are raw ADC counts with no scale to physical units")
    units = {str(lead.units or "mV") for lead in leads}
    if len(units) != 1:
        raise RecordError(path, f"leads use different units: {sorted(units)}")
    signal, unit = to_millivolts(np.stack([np.asarray(lead.samples, np.float64) for lead in leads]), units.pop(), path)
    signal, missing, derived = arrange_leads(signal, [lead.label for lead in leads], path, allow_missing_leads)
    notes = sorted({str(w.message).splitlines()[0][:120] for w in caught})
    return Record(signal=signal, fs=fs, record_id=path.stem, source=SOURCES[name], path=str(path), units=unit,
                  missing_leads=missing, derived_leads=derived, warnings=[f"{name}: {n}" for n in notes])


def _rhythm_group(ds, path: Path) -> int:
    groups = list(getattr(ds, "WaveformSequence", []) or [])
    if not groups:
        raise RecordError(path, "DICOM file has no waveform (WaveformSequence), so it is not an ECG waveform object")
    labels = [str(g.get("MultiplexGroupLabel", "")).upper() for g in groups]
    for i, label in enumerate(labels):
        if "RHYTHM" in label:
            return i
    # no labelled rhythm group: the longest one (median beats are ~1 s)
    return int(np.argmax([int(g.get("NumberOfWaveformSamples", 0)) for g in groups]))


def read_dicom(path: Path, allow_missing_leads: bool = False) -> Record:
    """DICOM 12-lead / general ECG waveform: the rhythm group, scaled by pydicom, padding trimmed."""
    import pydicom
    from pydicom.waveforms.numpy_handler import multiplex_array

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "invalid UID" in ECG Toolkit's files: harmless here
            ds = pydicom.dcmread(path)
            index = _rhythm_group(ds, path)
            group = ds.WaveformSequence[index]
            fs = check_sampling_rate(float(group.SamplingFrequency), path, " (from the DICOM file)")
            n_samples, n_channels = int(group.NumberOfWaveformSamples), int(group.NumberOfWaveformChannels)
            check_size(n_samples, fs, path, leads=n_channels)
            scaled = np.asarray(ds.waveform_array(index), dtype=np.float64)
            padding = group.get("WaveformPaddingValue")
            raw = multiplex_array(ds, index, as_raw=True) if padding is not None else None
    except RecordError:
        raise
    except Exception as exc:  # pydicom raises InvalidDicomError, AttributeError, ValueError... on broken files
        raise RecordError(path, f"corrupt or truncated DICOM file ({exc.__class__.__name__}: {exc})") from None
    channels = group.ChannelDefinitionSequence
    names = [str(ch.ChannelSourceSequence[0].CodeMeaning) if "ChannelSourceSequence" in ch else f"channel {i}"
             for i, ch in enumerate(channels)]
    units = {str(ch.ChannelSensitivityUnitsSequence[0].CodeValue) if "ChannelSensitivityUnitsSequence" in ch else "uV"
             for ch in channels}
    if len(units) != 1:
        raise RecordError(path, f"channels use different units: {sorted(units)}")
    if padding is not None:
        pad = np.frombuffer(bytes(padding)[:raw.dtype.itemsize], dtype=raw.dtype)[0]
        is_pad = (raw == pad).all(axis=1)
        end = len(is_pad) - int(np.argmin(is_pad[::-1])) if not is_pad.all() else 0
        scaled = scaled[:end]  # only the trailing all-padding rows; a genuine 0 inside the signal stays 0
    signal, unit = to_millivolts(scaled.T, units.pop(), path)
    signal, missing, derived = arrange_leads(signal, names, path, allow_missing_leads)
    return Record(signal=signal, fs=fs, record_id=path.stem, source=DICOM_SOURCE, path=str(path), units=unit,
                  missing_leads=missing, derived_leads=derived)
