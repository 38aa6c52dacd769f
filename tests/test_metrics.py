import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from pocketecg import labels as L
from pocketecg.metrics import (bootstrap_ci, choose_thresholds, cpsc2018_scores, macro_f1, macro_f1_ci,
                               paired_difference_ci, per_class_scores, seed_mean_macro_f1, single_label)


def test_per_class_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 6)) < 0.3).astype(int)
    p = np.clip(y * 0.4 + rng.random((200, 6)) * 0.6, 0, 1)
    t = np.full(6, 0.5)
    scores = per_class_scores(y, p, t, L.PRESETS["six"])
    for j, c in enumerate(L.PRESETS["six"]):
        assert scores[c]["f1"] == pytest.approx(f1_score(y[:, j], p[:, j] >= 0.5))
        assert scores[c]["auroc"] == pytest.approx(roc_auc_score(y[:, j], p[:, j]))
        assert scores[c]["precision"] == pytest.approx(precision_score(y[:, j], p[:, j] >= 0.5))
        assert scores[c]["recall"] == pytest.approx(recall_score(y[:, j], p[:, j] >= 0.5))
        assert scores[c]["auprc"] == pytest.approx(average_precision_score(y[:, j], p[:, j]))
        s = scores[c]
        assert s["tp"] + s["fp"] + s["fn"] + s["tn"] == 200 and s["positives"] == y[:, j].sum()
        assert s["threshold"] == 0.5
    assert macro_f1(y, p >= t) == pytest.approx(f1_score(y, p >= t, average="macro"))


def test_undefined_scores_are_zero_or_nan_quietly():
    """No predicted positive: precision and F1 are 0 (no warning); one class only: AUROC and AUPRC are NaN;
    a single positive is enough for an AUROC."""
    y = np.array([[1, 0], [0, 0], [0, 0], [0, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.1], [0.1, 0.1], [0.3, 0.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = per_class_scores(y, p, np.array([0.95, 0.5]), ("AF", "STD"))
    assert scores["AF"]["precision"] == 0.0 and scores["AF"]["f1"] == 0.0 and scores["AF"]["auroc"] == 1.0
    assert np.isnan(scores["STD"]["auroc"]) and np.isnan(scores["STD"]["auprc"])


def test_hand_computed_f1():
    y = np.array([[1], [1], [0], [0]])
    pred = np.array([[1], [0], [1], [0]])  # tp 1, fn 1, fp 1 -> F1 = 2/(2+1+1)
    assert macro_f1(y, pred) == pytest.approx(0.5)


def test_thresholds_maximise_each_class_f1_on_the_data_given():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0], [0, 1]])
    p = np.array([[0.9, 0.1], [0.35, 0.2], [0.3, 0.6], [0.1, 0.25], [0.2, 0.7]])
    t = choose_thresholds(y, p)
    assert 0.30 < t[0] <= 0.35  # catches both positives (0.9, 0.35), excludes 0.3
    assert 0.25 < t[1] <= 0.6
    assert choose_thresholds(np.zeros((3, 1)), np.full((3, 1), 0.9))[0] == 0.5  # no positive: keep 0.5


def _idx(*names):
    return [L.CLASSES.index(n) for n in names]


CPSC_HAND_CASE = [  # (labels in REFERENCE.csv order, answer)
    (("AF",), "AF"),           # correct: N[AF, AF]
    (("RBBB", "AF"), "AF"),    # the answer is the second label: still correct, N[AF, AF]
    (("RBBB", "AF"), "STD"),   # wrong: counted against the first label, N[RBBB, STD]
    (("SNR",), "AF"),          # N[SNR, AF]
    (("STD",), "STD"),         # N[STD, STD]
    (("IAVB",), "IAVB"),       # N[IAVB, IAVB]
]


def test_cpsc2018_scores_hand_case():
    ordered = [_idx(*labels) for labels, _ in CPSC_HAND_CASE]
    answers = np.array([_idx(a)[0] for _, a in CPSC_HAND_CASE])
    s = cpsc2018_scores(ordered, answers)
    # rows (reference): SNR 1, AF 2, IAVB 1, RBBB 1, STD 1; columns (answers): AF 3, IAVB 1, STD 2
    f = s["F_per_class"]
    assert f["AF"] == pytest.approx(2 * 2 / (2 + 3)) and f["SNR"] == 0.0 and f["RBBB"] == 0.0
    assert f["IAVB"] == 1.0 and f["STD"] == pytest.approx(2 / 3)
    assert f["LBBB"] is None and f["PAC"] is None and f["STE"] is None  # in no reference and no answer
    assert s["F1"] == pytest.approx((0 + 0.8 + 1 + 0 + 2 / 3) / 5)
    # sub-scores are pooled over their classes, not averaged: Block = 2 (1+0+0) / ((1+0+1) + (1+0+0))
    assert s["F_Block"] == pytest.approx(2 / 3) and s["F_ST"] == pytest.approx(2 / 3)
    assert s["F_AF"] == pytest.approx(0.8) and s["F_PC"] is None
    counts = np.array(s["confusion"]["counts"])
    assert counts.sum() == 6 and counts[_idx("RBBB")[0], _idx("STD")[0]] == 1 and s["records"] == 6


def test_cpsc2018_wrong_answer_goes_to_the_first_label_not_the_lowest_class():
    answer = np.array(_idx("STD"))
    as_listed = cpsc2018_scores([_idx("RBBB", "AF")], answer)
    reordered = cpsc2018_scores([_idx("AF", "RBBB")], answer)
    assert as_listed["F_per_class"]["RBBB"] == 0.0 and as_listed["F_per_class"]["AF"] is None
    assert reordered["F_per_class"]["AF"] == 0.0 and reordered["F_per_class"]["RBBB"] is None


def test_cpsc2018_rule_on_six_classes_skips_unordered_and_mismatched_records():
    from pocketecg.evaluate import cpsc2018_rule

    six = L.preset_classes("six")
    recordings = ["cpsc2018:A0001", "cpsc2018:A0002", "cpsc2018:A0003", "ptbxl:1", "cpsc2018:A0004"]
    y = np.array([[0, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0],
                  [0, 1, 0, 0, 0, 0]])
    p = np.full((5, 6), 0.01)
    p[:, 5] = 0.9  # every record is answered STD
    orders = {"cpsc2018:A0001": ("RBBB", "AF"), "cpsc2018:A0002": ("SNR",), "cpsc2018:A0003": ("PVC",),
              "cpsc2018:A0004": ("RBBB",)}  # A0004's labels here (AF) are not the reference's
    s = cpsc2018_rule(recordings, y, p, np.full(6, 0.5), six, orders)
    assert s["records"] == 2 and s["records_outside_classes"] == 1 and s["records_labels_differ_from_reference"] == 1
    counts = np.array(s["confusion"]["counts"])
    assert counts[six.index("RBBB"), six.index("STD")] == 1 and counts[six.index("SNR"), six.index("STD")] == 1
    assert "F_PC" not in s and s["F_ST"] == 0.0
    assert cpsc2018_rule(["ptbxl:1"], y[3:4], p[3:4], np.full(6, 0.5), six, orders) is None


def test_single_label_is_the_class_furthest_above_its_threshold():
    assert single_label(np.array([[0.6, 0.9]]), np.array([0.3, 0.8])).tolist() == [0]
    assert single_label(np.array([[0.2, 0.7]]), np.array([0.3, 0.8])).tolist() == [0]  # none passes: least below


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(1)
    y = (rng.random((300, 3)) < 0.3).astype(int)
    p = np.clip(y * 0.3 + rng.random((300, 3)) * 0.7, 0, 1)
    t = np.full(3, 0.5)
    ci = bootstrap_ci(y, p, t, n=200)
    lo, hi = ci["macro_f1"]
    assert lo < macro_f1(y, p >= t) < hi and hi - lo < 0.25
    assert all(a < b for a, b in ci["f1"])
    assert ci["resamples"] == 200 and ci["level"] == 0.95 and len(ci["auroc"]) == 3


def _resampled_macro_f1(y, pred_a, pred_b, n, seed=0):
    """The resampling the intervals are defined by, written out: every record can be drawn, seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        a = f1_score(y[idx], pred_a[idx], average="macro", zero_division=0.0)
        out.append(a - (f1_score(y[idx], pred_b[idx], average="macro", zero_division=0.0) if pred_b is not None else 0))
    return np.array(out)


def test_intervals_are_the_percentiles_of_seeded_record_resamples():
    rng = np.random.default_rng(3)
    y = (rng.random((60, 2)) < 0.4).astype(int)
    p = np.clip(y * 0.3 + rng.random((60, 2)) * 0.7, 0, 1)
    t = np.full(2, 0.5)
    pred = p >= t
    other = np.where(rng.random(y.shape) < 0.7, y, 1 - y).astype(bool)
    for level in (0.95, 0.8):
        lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
        ci = bootstrap_ci(y, p, t, n=80, level=level)
        assert ci["macro_f1"] == pytest.approx(list(np.percentile(_resampled_macro_f1(y, pred, None, 80), [lo, hi])))
        d = paired_difference_ci(y, pred, other, n=80, level=level)
        assert d["ci95"] == pytest.approx(list(np.percentile(_resampled_macro_f1(y, pred, other, 80), [lo, hi])))
        assert d["resamples"] == 80
    assert bootstrap_ci(y, p, t, n=30) == bootstrap_ci(y, p, t, n=30)  # seeded: the same call, the same interval
    assert bootstrap_ci(y, p, t, n=30, seed=1) != bootstrap_ci(y, p, t, n=30, seed=2)
    no_positive = bootstrap_ci(np.zeros((10, 1), int), np.full((10, 1), 0.3), np.array([0.5]), n=20)
    assert all(np.isnan(v) for v in no_positive["auroc"][0])


def test_paired_difference_is_zero_for_a_model_against_itself_and_signed():
    rng = np.random.default_rng(1)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    good = np.where(rng.random(y.shape) < 0.9, y, 1 - y).astype(bool)
    bad = np.where(rng.random(y.shape) < 0.6, y, 1 - y).astype(bool)
    same = paired_difference_ci(y, good, good, n=100)
    assert same["difference"] == 0 and same["ci95"] == [0.0, 0.0]
    d = paired_difference_ci(y, good, bad, n=200)
    assert d["difference"] > 0 and 0 < d["ci95"][0] <= d["difference"] <= d["ci95"][1]


def test_seed_stacks_compare_the_seeds_mean_macro_f1_on_shared_resamples():
    """Several seeds of one recipe: point estimate and interval of the seed-mean macro-F1 (each seed scored
    on the same resample); one seed stacked alone gives exactly the single-model numbers."""
    rng = np.random.default_rng(4)
    y = (rng.random((80, 3)) < 0.35).astype(int)
    noisy = lambda keep: np.where(rng.random(y.shape) < keep, y, 1 - y).astype(bool)  # noqa: E731
    a, b = np.stack([noisy(0.85), noisy(0.8)]), np.stack([noisy(0.7), noisy(0.75), noisy(0.7)])
    p = np.clip(y * 0.3 + rng.random(y.shape) * 0.7, 0, 1)
    assert seed_mean_macro_f1(y, a) == pytest.approx(np.mean([macro_f1(y, s) for s in a]))
    assert macro_f1_ci(y, p >= 0.5, n=60) == bootstrap_ci(y, p, np.full(3, 0.5), n=60)["macro_f1"]
    assert paired_difference_ci(y, a[:1], b[:1], n=60) == paired_difference_ci(y, a[0], b[0], n=60)
    d = paired_difference_ci(y, a, b, n=60)
    assert d["difference"] == pytest.approx(seed_mean_macro_f1(y, a) - seed_mean_macro_f1(y, b))
    by_seed = {name: [_resampled_macro_f1(y, s, None, 60) for s in stack] for name, stack in (("a", a), ("b", b))}
    expected = np.mean(by_seed["a"], axis=0) - np.mean(by_seed["b"], axis=0)
    assert d["ci95"] == pytest.approx(list(np.percentile(expected, [2.5, 97.5])))
    assert macro_f1_ci(y, a, n=60) == pytest.approx(list(np.percentile(np.mean(by_seed["a"], axis=0), [2.5, 97.5])))


def test_bootstrap_counts_equal_sklearn_on_each_materialised_resample():
    """The bootstrap scores each resample from record counts; the same resamples built as arrays and scored
    by sklearn give the same F1 and AUROC (ties in the scores, and a class with no positive, included)."""
    from sklearn.metrics import f1_score, roc_auc_score

    from pocketecg.metrics import _resample_weights, _weighted_auroc, _weighted_f1

    rng = np.random.default_rng(3)
    y = (rng.random((80, 4)) < 0.25).astype(int)
    y[:, 3] = 0
    p = np.round(rng.random((80, 4)) * 0.7 + 0.3 * y, 1)  # coarse: many ties
    pred = (p >= 0.5).astype(int)
    weights = _resample_weights(len(y), 40, seed=5)
    f1 = _weighted_f1(weights, y, pred)
    draws = np.random.default_rng(5)
    for r in range(40):
        idx = draws.integers(0, len(y), len(y))
        assert np.array_equal(np.bincount(idx, minlength=len(y)), weights[r])
        np.testing.assert_allclose(f1[r], f1_score(y[idx], pred[idx], average=None, zero_division=0.0), atol=1e-12)
        for j in range(3):
            expected = roc_auc_score(y[idx, j], p[idx, j]) if 0 < y[idx, j].sum() < len(idx) else np.nan
            np.testing.assert_allclose(_weighted_auroc(weights[r:r + 1], y[:, j], p[:, j])[0], expected, atol=1e-12)
        assert np.isnan(_weighted_auroc(weights[r:r + 1], y[:, 3], p[:, 3])[0])


def test_threshold_search_scores_every_grid_point_as_sklearn_does():
    from pocketecg.metrics import _f1_at_thresholds

    rng = np.random.default_rng(4)
    grid = np.round(np.arange(0.02, 0.99, 0.01), 2)
    for y in ((rng.random(120) < 0.3).astype(int), np.zeros(50, int)):
        p = np.round(rng.random(len(y)), 2)  # scores on the grid itself: ties at the threshold
        expected = [f1_score(y, p >= t, zero_division=0.0) for t in grid]
        np.testing.assert_allclose(_f1_at_thresholds(y, p, grid), expected, atol=1e-12)
