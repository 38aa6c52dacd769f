"""Distillation: a cross-fitted teacher's logits as soft targets, each fold's from the teacher that never saw it."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pocketecg import labels as L
from pocketecg.cache import PreparedCache
from pocketecg.cli import app
from pocketecg.crossfit import CROSSFIT_SUMMARY, OOF_FILE, POOL
from pocketecg.distill import TEACHER_LOGITS, TeacherLogits, distillation_loss
from pocketecg.inference import load_run, window_probabilities
from pocketecg.train import Selection, TrainConfig, _saved_config_matches, train

from conftest import TINY_MODEL

FAST = ["--epochs", "1", "--batch-size", "8", "--augment", "none", "--model-kwargs", json.dumps(TINY_MODEL)]


@pytest.fixture(scope="module")
def teacher_run(tiny_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("distill") / "teacher"
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out), "--crossfit", "3",
                                      "--no-final", *FAST])
    assert result.exit_code == 0, result.output
    return out


def test_no_final_stops_at_out_of_fold_predictions(teacher_run):
    assert (teacher_run / OOF_FILE).is_file() and not (teacher_run / "model.pt").exists()
    summary = json.loads((teacher_run / CROSSFIT_SUMMARY).read_text())
    assert summary["crossfit"]["k"] == 3 and len(summary["crossfit"]["folds"]) == 3
    assert all((teacher_run / "folds" / f"fold-{i}" / "model.pt").is_file() for i in range(3))


def test_student_learns_from_the_fold_teacher_that_never_saw_its_held_out_records(teacher_run, tiny_cache, tmp_path):
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out), "--crossfit", "3",
                                      "--teacher", str(teacher_run), "--distill-alpha", "0.7",
                                      "--distill-temperature", "2", *FAST])
    assert result.exit_code == 0, result.output
    targets = TeacherLogits.load(out / TEACHER_LOGITS)
    cache = PreparedCache(tiny_cache)
    pool_windows = np.sort(cache.rows(POOL)["window"].to_numpy())
    test_windows = cache.rows("test")["window"].to_numpy()
    assert np.isfinite(targets.logits[:, pool_windows]).all() and np.isnan(targets.logits[:, test_windows]).all()
    with np.load(teacher_run / OOF_FILE) as d:
        teacher_folds = dict(zip(d["records"], d["folds"]))
    with np.load(out / OOF_FILE) as d:
        assert dict(zip(d["records"], d["folds"])) == teacher_folds  # the same folds, record by record
    for i in range(3):  # fold i's targets are teacher fold model i's logits, the model trained without fold i
        model, _ = load_run(teacher_run / "folds" / f"fold-{i}")
        p = window_probabilities(model, cache.windows[pool_windows[:5]])
        np.testing.assert_allclose(1 / (1 + np.exp(-targets.for_fold(i)[pool_windows[:5]])), p, atol=1e-5)
    np.testing.assert_allclose(targets.ensemble(), targets.logits.mean(axis=0))
    config = json.loads((out / "config.json").read_text())
    assert config["crossfit"]["distillation"]["alpha"] == 0.7 and config["train_config"]["distill_temperature"] == 2
    assert (out / "model.pt").is_file()


def test_the_soft_term_is_in_the_loss(tiny_cache, tmp_path):
    """Same seed, same records: teacher logits change the weights, and so does the mix alpha."""
    cache = PreparedCache(tiny_cache)
    classes = L.preset_classes("six")
    logits = np.random.default_rng(0).normal(0, 3, (len(cache.windows), len(classes))).astype(np.float32)
    thresholds = dict.fromkeys(classes, 0.5)
    weights = {}
    for name, soft, alpha in [("plain", None, 0.5), ("distilled", logits, 0.5), ("teacher-only", logits, 1.0)]:
        config = TrainConfig(cache=str(tiny_cache), out=str(tmp_path / name), epochs=1, batch_size=8, augment=(),
                             model_kwargs=TINY_MODEL, distill_alpha=alpha)
        train(config, log=lambda *_: None, selection=Selection(POOL, POOL, fixed_epochs=1), thresholds=thresholds,
              soft_targets=soft)
        weights[name] = torch.load(tmp_path / name / "model.pt", weights_only=True)
    assert any(not torch.equal(weights["plain"][k], weights["distilled"][k]) for k in weights["plain"])
    assert any(not torch.equal(weights["distilled"][k], weights["teacher-only"][k]) for k in weights["plain"])


@pytest.mark.parametrize("args,message", [
    (["--crossfit", "2"], "K=3"),                 # another K: other folds
    (["--crossfit", "3", "--seed", "1"], "folds differ"),
    ([], "runs through cross-fitting"),           # the plain protocol has no fold-safe teacher
])
def test_teacher_with_other_folds_is_refused(teacher_run, tiny_cache, tmp_path, args, message):
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(tmp_path / "s"),
                                      "--teacher", str(teacher_run), *args, *FAST])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_fold_seed_keeps_the_teachers_folds_under_another_training_seed(teacher_run, tiny_cache, tmp_path):
    """--seed 1 --fold-seed 0: the teacher's folds (so it is accepted and the runs pair record by record),
    but another training run: other weights than the seed-0 student's."""
    weights = {}
    for name, seeds in [("seed0", []), ("seed1", ["--seed", "1", "--fold-seed", "0"])]:
        out = tmp_path / name
        result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out), "--crossfit", "3",
                                          "--no-final", "--teacher", str(teacher_run), *seeds, *FAST])
        assert result.exit_code == 0, result.output
        summary = json.loads((out / CROSSFIT_SUMMARY).read_text())["crossfit"]
        assert summary["fold_seed"] == 0 and summary["seed"] == (1 if seeds else 0)
        with np.load(out / OOF_FILE) as d, np.load(teacher_run / OOF_FILE) as t:
            assert dict(zip(d["records"], d["folds"])) == dict(zip(t["records"], t["folds"]))
        weights[name] = torch.load(out / "folds" / "fold-0" / "model.pt", weights_only=True)
    assert any(not torch.equal(weights["seed0"][k], weights["seed1"][k]) for k in weights["seed0"])


def test_fold_seed_needs_crossfit(tiny_cache, tmp_path):
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(tmp_path / "s"),
                                      "--fold-seed", "0", *FAST])
    assert result.exit_code == 2 and "--fold-seed" in result.output and "needs --crossfit" in result.output, result.output
    assert not (tmp_path / "s").exists()


def test_a_teacher_that_is_not_a_crossfit_run_is_refused(tiny_run, tiny_cache, tmp_path):
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(tmp_path / "s"),
                                      "--crossfit", "3", "--teacher", str(tiny_run), *FAST])
    assert result.exit_code == 2 and "not a finished cross-fitted run" in result.output, result.output


def test_distillation_loss_is_smallest_at_the_teacher_and_scales_with_t_squared():
    teacher = torch.tensor([[2.0, -1.0, 0.5]])
    student = teacher.clone().requires_grad_(True)
    distillation_loss(student, teacher, 2.0).backward()
    assert student.grad.abs().max() < 1e-6  # the soft term's minimum is the teacher's logits
    for t in (1.0, 2.0, 4.0):  # T^2 keeps the gradient's scale comparable across temperatures
        s = torch.zeros(1, 3, requires_grad=True)
        distillation_loss(s, teacher, t).backward()
        assert 0.05 < s.grad.abs().sum() < 1.0


def test_checkpoints_from_before_a_setting_existed_still_resume(tiny_cache):
    config = TrainConfig(cache=str(tiny_cache), out="x")
    saved = asdict(config) | {"augment": list(config.augment), "teachers": []}
    for key in ("teachers", "distill_alpha", "distill_temperature"):
        del saved[key]
    assert _saved_config_matches(saved, config)
    assert not _saved_config_matches(saved | {"lr": 1.0}, config)
    # a run written when distillation took one `teacher` resumes as a one-teacher list
    distilled = TrainConfig(cache=str(tiny_cache), out="x", teachers=("runs/t",))
    assert _saved_config_matches(saved | {"teacher": "runs/t"}, distilled)
    assert _saved_config_matches(saved | {"teacher": None}, config)
    assert not _saved_config_matches(saved | {"teacher": "runs/other"}, distilled)
    with pytest.raises(ValueError, match="twice"):
        TrainConfig(cache=str(tiny_cache), out="x", teachers=("runs/t", "runs/../runs/t"))
    with pytest.raises(ValueError, match="alpha"):
        TrainConfig(cache=str(tiny_cache), out="x", distill_alpha=0)


@pytest.fixture(scope="module")
def second_teacher(tiny_cache, tmp_path_factory):
    """Another teacher on the same folds (training seed 1, fold seed 0), as a second ensemble member."""
    out = tmp_path_factory.mktemp("distill") / "teacher-b"
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out), "--crossfit", "3",
                                      "--no-final", "--seed", "1", "--fold-seed", "0", *FAST])
    assert result.exit_code == 0, result.output
    return out


def test_an_ensemble_of_teachers_gives_each_fold_the_mean_logit_of_their_fold_models(
        teacher_run, second_teacher, tiny_cache, tmp_path):
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(out), "--crossfit", "3",
                                      "--no-final", "--teacher", str(teacher_run), "--teacher", str(second_teacher),
                                      *FAST])
    assert result.exit_code == 0, result.output
    targets = TeacherLogits.load(out / TEACHER_LOGITS)
    assert targets.teachers == (str(teacher_run.resolve()), str(second_teacher.resolve()))
    cache = PreparedCache(tiny_cache)
    windows = np.sort(cache.rows(POOL)["window"].to_numpy())[:6]
    for i in range(3):  # fold i: only the two fold-i models, neither of which saw fold i
        logits = []
        for run in (teacher_run, second_teacher):
            model, _ = load_run(run / "folds" / f"fold-{i}")
            p = np.clip(window_probabilities(model, cache.windows[windows]).astype(np.float64), 1e-6, 1 - 1e-6)
            logits.append(np.log(p / (1 - p)))
        np.testing.assert_allclose(targets.for_fold(i)[windows], np.mean(logits, axis=0), atol=1e-4)
    summary = json.loads((out / CROSSFIT_SUMMARY).read_text())["crossfit"]["distillation"]
    assert summary["teachers"] == [str(teacher_run.resolve()), str(second_teacher.resolve())]


def crossfit_cli(cache, out, *args):
    """`pocketecg train --crossfit 3` on the tiny cache, one fast epoch."""
    return CliRunner().invoke(app, ["train", "--cache", str(cache), "--out", str(out), "--crossfit", "3", *args, *FAST])


def test_an_ensemble_member_with_other_folds_is_refused_before_training(teacher_run, tiny_cache, tmp_path):
    other = tmp_path / "other-folds"
    result = crossfit_cli(tiny_cache, other, "--no-final", "--seed", "5")
    assert result.exit_code == 0, result.output
    out = tmp_path / "student"
    result = crossfit_cli(tiny_cache, out, "--teacher", str(teacher_run), "--teacher", str(other))
    assert result.exit_code != 0 and "folds differ" in result.output and str(other) in result.output
    assert not (out / TEACHER_LOGITS).exists() and not (out / "folds").exists()


def test_teacher_logits_written_before_ensembles_still_load(tmp_path):
    path = tmp_path / TEACHER_LOGITS
    np.savez_compressed(path, logits=np.zeros((3, 4, 2), np.float32), classes=np.array(["SNR", "AF"]), k=3, seed=0,
                        manifest_sha256="abc", teacher="/runs/teacher")
    assert TeacherLogits.load(path).teachers == ("/runs/teacher",)


def test_a_teacher_that_trained_only_some_folds_is_refused(tiny_cache, tmp_path):
    partial = tmp_path / "fold-0-only"
    result = crossfit_cli(tiny_cache, partial, "--no-final", "--folds", "0")
    assert result.exit_code == 0, result.output
    result = crossfit_cli(tiny_cache, tmp_path / "student", "--teacher", str(partial))
    assert result.exit_code != 0 and "trained only folds [0] of 3" in result.output, result.output
