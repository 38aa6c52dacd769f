import numpy as np
import pytest

from pocketecg import labels as L


def test_presets():
    assert L.PRESETS["six"] == ("SNR", "AF", "IAVB", "LBBB", "RBBB", "STD")
    assert L.PRESETS["cpsc9"] == L.CLASSES and len(L.CLASSES) == 9
    with pytest.raises(ValueError, match="unknown label preset"):
        L.preset_classes("seven")


def test_normal_rule_is_exclusive():
    assert L.finalise([], normal_evidence=True) == {"SNR"}
    assert L.finalise(["RBBB"], normal_evidence=True) == {"RBBB"}
    assert L.finalise(["PVC"], normal_evidence=True) == {"PVC"}  # also outside `six`: not a normal ECG
    assert L.finalise([], normal_evidence=False) == frozenset()


def test_cpsc_codes():
    assert L.from_cpsc_codes([1]) == {"SNR"}
    assert L.from_cpsc_codes([2, 5]) == {"AF", "RBBB"}
    assert L.from_cpsc_codes([6, 6]) == {"PAC"}  # A0953 lists PAC twice


def test_cinc_sinus_rhythm_counts_as_normal_only_alone():
    assert L.from_dx(["426783006"]) == {"SNR"}
    assert L.from_dx(["426783006", "59118001"]) == {"RBBB"}
    assert L.from_dx(["426783006", "427393009"]) == {"SNR"}  # sinus arrhythmia is a normal variant


@pytest.mark.parametrize("other", ["39732003", "164865005", "164873001", "164934002", "426177001", "999999999"])
def test_sinus_rhythm_plus_any_other_code_is_not_normal(other):
    # left axis deviation, MI, LVH, T-wave abnormal, sinus bradycardia, and a code nobody knows
    assert L.from_dx(["426783006", other]) == frozenset()
    assert L.from_dx([other, "426783006", "427393009"]) == frozenset()
    assert L.from_dx(["426783006", other, "164889003"]) == {"AF"}  # the other classes are kept


def test_prolonged_pr_is_first_degree_av_block():
    assert L.from_dx(["426783006", "164947007"]) == {"IAVB"}
    # cinc/HR00599: MI + prolonged PR + sinus rhythm was a training positive for "normal"
    assert L.from_dx(["164865005", "164947007", "426783006"]) == {"IAVB"}
    assert L.from_ptbxl({"NORM": 100.0, "LPR": 0.0}) == {"IAVB"}  # a form statement: counts when present
    assert L.from_ptbxl({"LPR": 100.0, "SR": 0.0}) == {"IAVB"}


def test_not_assessed_lists_everything_outside_the_classes():
    six = L.not_assessed(L.PRESETS["six"])
    assert any("PVC" in s for s in six) and any("STE" in s for s in six) and any("infarction" in s for s in six)
    assert not any("(AF)" in s for s in six)
    assert "normal sinus rhythm" not in L.not_assessed_sentence(L.PRESETS["six"])
    assert L.CLASS_DESCRIPTIONS["SNR"] == "normal ECG"
    assert L.from_dx(["713427006"]) == {"RBBB"} and L.from_dx(["733534002"]) == {"LBBB"}
    assert L.from_dx(["164884008"]) == {"PVC"}
    assert L.from_dx(["Normal"]) == {"SNR"} and L.from_dx(["I-AVB", "STD"]) == {"IAVB", "STD"}


def test_ptbxl_likelihood_rules():
    assert L.from_ptbxl({"NORM": 100.0, "SR": 0.0}) == {"SNR"}
    assert L.from_ptbxl({"SR": 0.0}) == frozenset()  # sinus rhythm alone is not "normal ECG"
    assert L.from_ptbxl({"NORM": 0.0}) == frozenset()  # diagnostic statements need likelihood > 0
    assert L.from_ptbxl({"AFIB": 0.0, "CRBBB": 100.0}) == {"AF", "RBBB"}  # rhythm/form count when present
    assert L.from_ptbxl({"AFIB": 0.0}, strict_likelihood=True) == frozenset()
    assert L.from_ptbxl({"NORM": 80.0, "1AVB": 50.0}) == {"IAVB"}


def test_to_vector():
    v = L.to_vector({"AF", "STD"}, L.PRESETS["six"])
    assert v.dtype == np.float32 and v.tolist() == [0, 1, 0, 0, 0, 1]


def test_cpsc_codes_keep_the_reference_order():
    assert L.ordered_from_cpsc_codes([5, 2]) == ("RBBB", "AF")
    assert L.ordered_from_cpsc_codes([2, 5, 2]) == ("AF", "RBBB")  # a repeated code counts once
    assert L.from_cpsc_codes([5, 2]) == frozenset({"AF", "RBBB"})


def test_cpsc_original_record_carries_its_label_order(tmp_path):
    import ecg_files as F
    from pocketecg.data import read_record

    path = F.write_cpsc_original(tmp_path, "A0043", F.signal(), codes=(5, 2))
    record = read_record(path)
    assert record.label_order == ("RBBB", "AF") and record.labels == frozenset({"AF", "RBBB"})


def test_ptbxl_likelihoods_between_0_and_100_count():
    """PTB-XL likelihoods run 0-100: a diagnostic statement counts from any likelihood above 0."""
    assert L.from_ptbxl({"CRBBB": 0.5}) == frozenset({"RBBB"})
    assert L.from_ptbxl({"CRBBB": 0.0, "NORM": 0.0}) == frozenset()
    assert L.from_ptbxl({"AFIB": 0.5}, strict_likelihood=True) == frozenset({"AF"})
    assert L.from_ptbxl({"AFIB": 0.0}, strict_likelihood=True) == frozenset()
    assert L.from_ptbxl({"NORM": 0.5}) == frozenset({"SNR"})


def test_the_page_lists_the_same_not_assessed_conditions_as_python():
    """app.js keeps its own copy (the page runs without Python): it must not drift from labels.py."""
    from pathlib import Path

    import pocketecg.app

    app_js = (Path(pocketecg.app.__file__).parent / "web" / "app.js").read_text()
    listed = app_js.split("const NOT_ASSESSED_EXAMPLES = [", 1)[1].split("];", 1)[0]
    in_page = [s.strip().strip('"') for s in listed.replace("\n", " ").split('",') if s.strip()]
    assert in_page == list(L.NOT_ASSESSED_EXAMPLES)
