import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from pocketecg import labels as L
from pocketecg.metrics import (bootstrap_ci, choose_thresholds, cpsc2018_scores, macro_f1, paired_difference_ci,
                               per_class_scores, single_label)


def test_per_class_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 6)) < 0.3).astype(int)
    p = np.clip(y * 0.4 + rng.random((200, 6)) * 0.6, 0, 1)
    t = np.full(6, 0.5)
    scores = per_class_scores(y, p, t, L.PRESETS["six"])
    for j, c in enumerate(L.PRESETS["six"]):
        assert scores[c]["f1"] == pytest.approx(f1_score(y[:, j], p[:, j] >= 0.5))
        assert scores[c]["auroc"] == pytest.approx(roc_auc_score(y[:, j], p[:, j]))
        s = scores[c]
        assert s["tp"] + s["fp"] + s["fn"] + s["tn"] == 200 and s["positives"] == y[:, j].sum()
    assert macro_f1(y, p >= t) == pytest.approx(f1_score(y, p >= t, average="macro"))


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


def test_cpsc2018_scores_hand_case():
    y = np.zeros((4, 9), int)
    y[0, 1] = 1  # AF, answered AF: correct
    y[1, [1, 4]] = 1  # AF+RBBB, answered RBBB: correct (one of its labels)
    y[2, 0] = 1  # normal, answered AF: counted against normal (row 0, column 1)
    y[3, 7] = 1  # STD, answered STD: correct
    s = cpsc2018_scores(y, np.array([1, 4, 1, 7]))
    # A[1,1]=1, A[4,4]=1, A[0,1]=1, A[7,7]=1
    assert s["F_per_class"]["AF"] == pytest.approx(2 * 1 / (1 + 2))
    assert s["F_per_class"]["SNR"] == 0.0 and s["F_per_class"]["RBBB"] == 1.0 and s["F_per_class"]["STD"] == 1.0
    assert s["F_Block"] == pytest.approx(1 / 3) and s["F_ST"] == pytest.approx(0.5)
    assert s["F1"] == pytest.approx(np.mean(list(s["F_per_class"].values())))
    assert single_label(np.array([[0.6, 0.9]]), np.array([0.3, 0.8])).tolist() == [0]


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(1)
    y = (rng.random((300, 3)) < 0.3).astype(int)
    p = np.clip(y * 0.3 + rng.random((300, 3)) * 0.7, 0, 1)
    t = np.full(3, 0.5)
    ci = bootstrap_ci(y, p, t, n=200)
    lo, hi = ci["macro_f1"]
    assert lo < macro_f1(y, p >= t) < hi and hi - lo < 0.25
    assert all(a < b for a, b in ci["f1"])


def test_paired_difference_is_zero_for_a_model_against_itself_and_signed():
    rng = np.random.default_rng(1)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    good = np.where(rng.random(y.shape) < 0.9, y, 1 - y).astype(bool)
    bad = np.where(rng.random(y.shape) < 0.6, y, 1 - y).astype(bool)
    same = paired_difference_ci(y, good, good, n=100)
    assert same["difference"] == 0 and same["ci95"] == [0.0, 0.0]
    d = paired_difference_ci(y, good, bad, n=200)
    assert d["difference"] > 0 and 0 < d["ci95"][0] <= d["difference"] <= d["ci95"][1]
