"""One label space: the nine CPSC 2018 classes, their mappings, and the "normal" rule.

Every reader turns its source's codes into a set of class names from `CLASSES` through the
functions here, so the mapping lives in one place (documented in docs/labels.md).

SNR means what CPSC 2018 means by "Normal": a normal ECG. Sources say it differently:
CPSC writes "Normal"; PTB-XL has the diagnostic statement NORM; CinC headers only carry the
rhythm code 426783006 "sinus rhythm", which also appears on abnormal ECGs. `finalise` applies
one rule to all of them: SNR is set when the source gives normal evidence *and* none of the
other eight classes is present. (A CinC "sinus rhythm + RBBB" record is RBBB, not SNR+RBBB.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

CLASSES: tuple[str, ...] = ("SNR", "AF", "IAVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")
CLASS_DESCRIPTIONS: dict[str, str] = {
    "SNR": "normal ECG (sinus rhythm, no other finding)",
    "AF": "atrial fibrillation",
    "IAVB": "first-degree atrioventricular block",
    "LBBB": "left bundle branch block",
    "RBBB": "right bundle branch block",
    "PAC": "premature atrial contraction",
    "PVC": "premature ventricular contraction",
    "STD": "ST-segment depression",
    "STE": "ST-segment elevation",
}

PRESETS: dict[str, tuple[str, ...]] = {
    # The reference work's six classes.
    "six": ("SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"),
    "cpsc9": CLASSES,
}

# CPSC 2018 REFERENCE.csv codes (First/Second/Third_label).
CPSC_CODES: dict[int, str] = {i + 1: name for i, name in enumerate(CLASSES)}
# CPSC text names, as in the `#Dx:` line of the CinC 2020 copies of the CPSC records.
CPSC_NAMES: dict[str, str] = {
    "normal": "SNR", "af": "AF", "i-avb": "IAVB", "lbbb": "LBBB", "rbbb": "RBBB",
    "pac": "PAC", "pvc": "PVC", "std": "STD", "ste": "STE",
}

# SNOMED-CT codes in CinC 2020/2021 `#Dx` lines. Pairs the Challenge scores as the same
# diagnosis (733534002/164909002, 713427006/59118001, 63593006/284470004, 17338001/427172004)
# map to the same class; 164884008 "ventricular ectopics" is what CinC gave CPSC's own PVCs.
SNOMED_SINUS_RHYTHM = "426783006"
SNOMED_CODES: dict[str, str] = {
    "164889003": "AF",
    "270492004": "IAVB",
    "164909002": "LBBB", "733534002": "LBBB",
    "59118001": "RBBB", "713427006": "RBBB",
    "284470004": "PAC", "63593006": "PAC",
    "427172004": "PVC", "17338001": "PVC", "164884008": "PVC",
    "429622005": "STD",
    "164931005": "STE",
}

# PTB-XL scp_codes. PTB-XL fills likelihoods in only for diagnostic statements; rhythm and form
# statements (AFIB, PAC, PVC, STD_, STE_) almost always carry 0.0, which PTB-XL documents as
# "unknown", not "absent". So diagnostic statements count when their likelihood is > 0 and the
# others count when present; `strict_likelihood=True` applies "> 0" to all (it deletes nearly
# every PTB-XL AF label: 1,466 of 1,514 AFIB rows have 0.0).
PTBXL_NORMAL = "NORM"
PTBXL_DIAGNOSTIC: dict[str, str] = {"1AVB": "IAVB", "CLBBB": "LBBB", "CRBBB": "RBBB"}
PTBXL_RHYTHM_FORM: dict[str, str] = {"AFIB": "AF", "PAC": "PAC", "PVC": "PVC", "STD_": "STD", "STE_": "STE"}


def finalise(findings: Iterable[str], normal_evidence: bool) -> frozenset[str]:
    """The one rule for SNR: normal evidence and none of the other eight classes."""
    abnormal = frozenset(f for f in findings if f != "SNR")
    unknown = abnormal - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown class names: {sorted(unknown)}")
    if normal_evidence and not abnormal:
        return frozenset({"SNR"})
    return abnormal


def from_cpsc_codes(codes: Iterable[int]) -> frozenset[str]:
    names = [CPSC_CODES[int(c)] for c in codes]
    return finalise(names, normal_evidence="SNR" in names)


def from_dx(tokens: Iterable[str]) -> frozenset[str]:
    """A CinC `#Dx` line: SNOMED-CT codes or CPSC text names; other codes are ignored."""
    findings: list[str] = []
    normal = False
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        if token == SNOMED_SINUS_RHYTHM or token.lower() == "normal":
            normal = True
        elif token in SNOMED_CODES:
            findings.append(SNOMED_CODES[token])
        elif token.lower() in CPSC_NAMES:
            findings.append(CPSC_NAMES[token.lower()])
    return finalise(findings, normal)


def from_ptbxl(scp_codes: Mapping[str, float], strict_likelihood: bool = False) -> frozenset[str]:
    findings = [cls for code, cls in PTBXL_DIAGNOSTIC.items() if scp_codes.get(code, 0.0) > 0]
    for code, cls in PTBXL_RHYTHM_FORM.items():
        if code in scp_codes and (not strict_likelihood or scp_codes[code] > 0):
            findings.append(cls)
    return finalise(findings, normal_evidence=scp_codes.get(PTBXL_NORMAL, 0.0) > 0)


def preset_classes(preset: str) -> tuple[str, ...]:
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown label preset {preset!r}; choose one of {sorted(PRESETS)}") from None


def to_vector(labels: Iterable[str], classes: Iterable[str] = CLASSES) -> np.ndarray:
    """Multi-hot float32 vector over `classes`."""
    present = set(labels)
    return np.array([1.0 if c in present else 0.0 for c in classes], dtype=np.float32)
