"""Writers for small synthetic ECG files in every supported format (the tests make their own data)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import scipy.io
import wfdb

from pocketecg.data.record import STANDARD_LEADS
from pocketecg.synth import synth_ecg

LOWER_LEADS = [lead.lower() for lead in STANDARD_LEADS]


def signal(finding="SNR", seconds=10.0, fs=500.0, seed=0) -> np.ndarray:
    return synth_ecg(finding, seconds=seconds, fs=fs, seed=seed).astype(np.float64)


def write_wfdb(folder: Path, name: str, x: np.ndarray, fs=500, dx: str | None = "426783006", fmt="16",
               lead_names=None, units="mV", comments=None, gain=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    comments = list(comments or [])
    if dx is not None:
        comments.append(f"Dx: {dx}")
    gain = gain or (1000 if units == "mV" else 1)
    wfdb.wrsamp(name, fs=fs, units=[units] * len(x), sig_name=lead_names or list(STANDARD_LEADS),
                p_signal=x.T, fmt=[fmt] * len(x), adc_gain=[gain] * len(x), baseline=[0] * len(x),
                comments=comments, write_dir=str(folder))
    return folder / f"{name}.hea"


def write_wfdb_flac(folder: Path, name: str, x: np.ndarray, fs=500, bits=16, gain=1000.0) -> Path:
    """WFDB FLAC (format 508/516/524 for 8/16/24 bits), written by wfdb-python: a FLAC stream holds at most
    8 signals, so 12 leads take two signal files, NAME_1.dat (I-V2) and NAME_2.dat (V3-V6)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(x)
    files = [f"{name}_1.dat"] * min(n, 8) + [f"{name}_2.dat"] * max(0, n - 8)
    record = wfdb.Record(record_name=name, n_sig=n, fs=fs, sig_len=x.shape[1], p_signal=x.T,
                         fmt=[{8: "508", 16: "516", 24: "524"}[bits]] * n, adc_gain=[gain] * n, baseline=[0] * n,
                         units=["mV"] * n, sig_name=list(STANDARD_LEADS[:n]), file_name=files, adc_res=[bits] * n,
                         adc_zero=[0] * n, comments=["Dx: 426783006"])
    record.set_d_features(do_adc=True)
    record.set_defaults()
    record.wrsamp(write_dir=str(folder))
    return folder / f"{name}.hea"


def write_cinc_mat(folder: Path, name: str, x: np.ndarray, fs=500, dx="164889003", lead_names=None,
                   mat_format="4") -> Path:
    """The CinC 2020 form: `val` int16 array in a MATLAB v4 .mat, described by a `16+24` .hea."""
    folder.mkdir(parents=True, exist_ok=True)
    val = np.round(x * 1000).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format=mat_format)
    names = lead_names or LOWER_LEADS
    lines = [f"{name} {len(x)} {fs} {x.shape[1]}"]
    lines += [f"{name}.mat 16+24 1000/mV 16 0 {int(v[0])} 0 0 {lead}" for v, lead in zip(val, names)]
    lines += ["#Age: 60", "#Sex: Female", f"#Dx: {dx}"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / f"{name}.hea"


def write_cpsc_original(folder: Path, name: str, x: np.ndarray, codes=(1,)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ecg = {"sex": "Male", "age": 52, "data": x}
    scipy.io.savemat(folder / f"{name}.mat", {"ECG": ecg})
    ref = folder / "REFERENCE.csv"
    rows = list(csv.reader(open(ref))) if ref.exists() else [["Recording", "First_label", "Second_label", "Third_label"]]
    rows.append([name, *[str(c) for c in codes], *[""] * (3 - len(codes))])
    with open(ref, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return folder / f"{name}.mat"


def write_ptbxl(folder: Path, ecg_id: int, x: np.ndarray, scp_codes: dict, strat_fold: int, patient_id: int) -> Path:
    """PTB-XL layout: records500/00000/00001_hr.{hea,dat} + ptbxl_database.csv at the top."""
    sub = folder / "records500" / f"{ecg_id // 1000 * 1000:05d}"
    header = write_wfdb(sub, f"{ecg_id:05d}_hr", x, dx=None, lead_names=[n.upper() for n in LOWER_LEADS])
    db = folder / "ptbxl_database.csv"
    new = not db.exists()
    with open(db, "a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold", "filename_hr"])
        w.writerow([ecg_id, f"{patient_id}.0", "56.0", 1, repr(scp_codes), strat_fold,
                    f"records500/{ecg_id // 1000 * 1000:05d}/{ecg_id:05d}_hr"])
    return header


def write_csv(path: Path, x: np.ndarray, fs=None, time_column=True, lead_names=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(lead_names or STANDARD_LEADS)
    cols = [x[i] for i in range(len(names))]
    if time_column:
        names = ["time", *names]
        cols = [np.arange(x.shape[1]) / fs, *cols]
    np.savetxt(path, np.stack(cols, axis=1), delimiter=",", header=",".join(names), comments="", fmt="%.6f")
    return path
