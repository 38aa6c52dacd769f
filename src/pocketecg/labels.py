"""One label space: the nine CPSC 2018 classes, their mappings, and the "normal" rule.

Every reader turns its source's codes into a set of class names from `CLASSES` through the
functions here, so the mapping lives in one place (documented in docs/labels.md).

SNR means what CPSC 2018 means by "Normal": a normal ECG, not merely "sinus rhythm". Sources
say it differently, and each reader's evidence for "normal" is strict:
- CPSC 2018 writes "Normal".
- PTB-XL has the diagnostic statement NORM (likelihood > 0).
- CinC `#Dx` lines carry SNOMED-CT codes, where 426783006 is only "sinus rhythm" and sits on
  abnormal ECGs too (MI, hypertrophy, T-wave changes, axis deviation...). A line is normal only
  when it has sinus rhythm and every other code is in `SNOMED_NORMAL_VARIANTS`; any other code,
  known or unknown, means "not normal".
`finalise` then applies one rule to all of them: SNR is set when the source gives normal evidence
*and* none of the other eight classes is present. (A "sinus rhythm + RBBB" record is RBBB.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

CLASSES: tuple[str, ...] = ("SNR", "AF", "IAVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")
CLASS_DESCRIPTIONS: dict[str, str] = {
    "SNR": "normal ECG",
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
# Codes that still leave an ECG "normal" next to sinus rhythm. Kept short on purpose: sinus
# arrhythmia (respiratory variation of the rate) is a normal finding. Sinus bradycardia and
# tachycardia are not on the list: CPSC's "Normal" records are normal in rate as well.
SNOMED_NORMAL_VARIANTS: dict[str, str] = {
    "427393009": "sinus arrhythmia",
}
SNOMED_CODES: dict[str, str] = {
    "164889003": "AF",
    "270492004": "IAVB", "164947007": "IAVB",  # 164947007 prolonged PR interval: PR > 200 ms is IAVB
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
# LPR (prolonged PR interval) is a form statement: PR > 200 ms is first-degree AV block.
PTBXL_RHYTHM_FORM: dict[str, str] = {"AFIB": "AF", "LPR": "IAVB", "PAC": "PAC", "PVC": "PVC", "STD_": "STD",
                                     "STE_": "STE"}


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
    return frozenset(ordered_from_cpsc_codes(codes))


def ordered_from_cpsc_codes(codes: Iterable[int]) -> tuple[str, ...]:
    """REFERENCE.csv codes (First, Second, Third_label) -> class names in that order, after `finalise`."""
    names = [CPSC_CODES[int(c)] for c in codes]
    kept = finalise(names, normal_evidence="SNR" in names)
    return tuple(dict.fromkeys(n for n in names if n in kept))


def from_dx(tokens: Iterable[str]) -> frozenset[str]:
    """A CinC `#Dx` line: SNOMED-CT codes or CPSC text names.

    Codes outside the nine classes add no class, but they do rule out "normal": sinus rhythm is
    normal evidence only when every other code on the line is a normal variant.
    """
    findings: list[str] = []
    sinus = other = False
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        if token == SNOMED_SINUS_RHYTHM or token.lower() == "normal":
            sinus = True
        elif token in SNOMED_NORMAL_VARIANTS:
            pass
        elif token in SNOMED_CODES:
            findings.append(SNOMED_CODES[token])
        elif token.lower() in CPSC_NAMES:
            findings.append(CPSC_NAMES[token.lower()])
        else:
            other = True  # any other finding, known or unknown: not a normal ECG
    return finalise(findings, normal_evidence=sinus and not other)


def from_ptbxl(scp_codes: Mapping[str, float], strict_likelihood: bool = False) -> frozenset[str]:
    findings = [cls for code, cls in PTBXL_DIAGNOSTIC.items() if scp_codes.get(code, 0.0) > 0]
    for code, cls in PTBXL_RHYTHM_FORM.items():
        if code in scp_codes and (not strict_likelihood or scp_codes[code] > 0):
            findings.append(cls)
    return finalise(findings, normal_evidence=scp_codes.get(PTBXL_NORMAL, 0.0) > 0)


# What the model does not look at: everything outside its classes. Shown next to every list of
# findings, so "no finding" is never read as "normal".
NOT_ASSESSED_EXAMPLES: tuple[str, ...] = (
    "myocardial infarction or ischaemia", "ventricular hypertrophy", "axis deviation", "T-wave changes",
    "QT prolongation", "second- and third-degree AV block", "other arrhythmias (flutter, tachycardias, pauses)",
    "pacemaker rhythm", "incomplete right bundle branch block",
)


def not_assessed(classes: Iterable[str]) -> list[str]:
    """Conditions a model with these classes does not assess: the other CPSC classes, then the rest."""
    chosen = set(classes)
    return [f"{CLASS_DESCRIPTIONS[c]} ({c})" for c in CLASSES if c not in chosen] + list(NOT_ASSESSED_EXAMPLES)


def not_assessed_sentence(classes: Iterable[str]) -> str:
    return "Not assessed by this model: " + ", ".join(not_assessed(classes)) + "."


def preset_classes(preset: str) -> tuple[str, ...]:
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown label preset {preset!r}; choose one of {sorted(PRESETS)}") from None


def to_vector(labels: Iterable[str], classes: Iterable[str] = CLASSES) -> np.ndarray:
    """Multi-hot float32 vector over `classes`."""
    present = set(labels)
    return np.array([1.0 if c in present else 0.0 for c in classes], dtype=np.float32)
