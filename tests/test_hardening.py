"""No traceback where a user can reach: broken runs, models and caches give one line naming the file."""

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import ecg_files as F
from pocketecg.cli import app


class Namespace:  # any class instance makes torch.save write a pickle that weights_only refuses
    pass


def copy_run(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run


def predict_with(model, tmp_path):
    record = F.write_csv(tmp_path / "r.csv", F.signal(), fs=500)
    return CliRunner().invoke(app, ["predict", str(record), "--model", str(model)])


def test_a_pickled_model_file_is_refused_without_advice_to_unpickle(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    torch.save({"opts": Namespace()}, run / "model.pt")
    result = predict_with(run, tmp_path)
    assert result.exit_code == 2 and "model.pt: holds Python objects" in result.output
    assert "weights_only=False" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("config_change, match", [
    (lambda c: c.update(classes="SNR"), "'classes' must be a list"),
    (lambda c: c.update(thresholds={"SNR": "high"}), "'thresholds' must give every class"),
    (lambda c: c.update(preprocessing={"fs": 333}), "'preprocessing' is not valid"),
    (lambda c: c.pop("model"), "'model' must be a model name"),
])
def test_a_config_of_the_wrong_shape_is_named(tiny_run, tmp_path, config_change, match):
    run = copy_run(tiny_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config_change(config)
    (run / "config.json").write_text(json.dumps(config))
    result = predict_with(run, tmp_path)
    assert result.exit_code == 2 and "config.json: not a valid run configuration" in result.output and match in result.output
    (run / "config.json").write_text("[1, 2")
    result = predict_with(run, tmp_path)
    assert result.exit_code == 2 and "config.json: unreadable run configuration" in result.output


def test_weights_of_another_model_are_named(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["model_kwargs"] = {}  # the full-width lite: the tiny weights do not fit
    (run / "config.json").write_text(json.dumps(config))
    result = predict_with(run, tmp_path)
    assert result.exit_code == 2 and "model.pt: the weights do not fit model 'lite'" in result.output


def test_onnx_metadata_of_the_wrong_shape_is_named(tiny_run, tmp_path):
    import onnx

    from pocketecg.export import export_run

    path = tmp_path / "m.onnx"
    export_run(tiny_run, path, "onnx")
    proto = onnx.load(str(path))
    for prop in proto.metadata_props:
        if prop.key == "thresholds":
            prop.value = "{not json"
    onnx.save_model(proto, str(path))
    result = predict_with(path, tmp_path)
    assert result.exit_code == 2 and "m.onnx: pocketecg metadata is not valid JSON" in result.output


def _copy_cache(tiny_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(tiny_cache, cache)
    return cache


def test_a_truncated_cache_says_so_and_how_to_fix_it(tiny_cache, tmp_path):
    cache = _copy_cache(tiny_cache, tmp_path)
    windows = cache / "windows.f32"
    windows.write_bytes(windows.read_bytes()[:1000])
    result = CliRunner().invoke(app, ["train", "--cache", str(cache), "--out", str(tmp_path / "r"), "--epochs", "1"])
    assert result.exit_code == 2 and "windows.f32: 1,000 bytes" in result.output and "pocketecg prepare" in result.output
    assert "Traceback" not in result.output


def test_a_cache_with_nan_windows_is_refused_before_training(tiny_cache, tmp_path):
    cache = _copy_cache(tiny_cache, tmp_path)
    windows = np.memmap(cache / "windows.f32", dtype=np.float32, mode="r+")
    windows[5000] = np.nan
    windows.flush()
    del windows
    result = CliRunner().invoke(app, ["train", "--cache", str(cache), "--out", str(tmp_path / "r"), "--epochs", "1"])
    assert result.exit_code == 2 and "holds NaN or infinite values" in result.output and "record" in result.output
    assert not (tmp_path / "r" / "model.pt").exists()


def test_a_hand_edited_manifest_is_refused(tiny_cache, tmp_path):
    cache = _copy_cache(tiny_cache, tmp_path)
    manifest = cache / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines[1] = lines[1][:-1] + ("1" if lines[1][-1] == "0" else "0")  # flip one label
    manifest.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["train", "--cache", str(cache), "--out", str(tmp_path / "r"), "--epochs", "1"])
    assert result.exit_code == 2 and "manifest.csv: changed since `prepare` wrote it" in result.output


def test_train_into_a_finished_run_needs_resume_or_overwrite(tiny_run, tiny_cache, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    args = ["train", "--cache", str(tiny_cache), "--out", str(run), "--epochs", "1",
            "--model-kwargs", json.dumps({"widths": [8, 16, 16, 32], "se_reduction": None}), "--augment", "none"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "already holds a finished run; add --resume" in result.output
    (run / "metrics-test.json").write_text("{}")
    result = CliRunner().invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert (run / "model.pt").is_file() and not (run / "metrics-test.json").exists()  # old metrics went with it
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(app, [*args[:4], str(other), *args[5:], "--overwrite"])
    assert result.exit_code == 2 and "is not a run directory" in result.output and (other / "notes.txt").exists()


def test_a_broken_ptbxl_database_is_named(tmp_path):
    F.write_ptbxl(tmp_path / "ptbxl", 1, F.signal(), {"NORM": 100.0}, strat_fold=1, patient_id=7)
    database = tmp_path / "ptbxl" / "ptbxl_database.csv"
    text = database.read_text().replace("{'NORM': 100.0}", "{'NORM': 100.0")
    database.write_text(text)
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "ptbxl")])
    assert "ptbxl_database.csv: not a PTB-XL database file" in result.output, result.output
    assert "Traceback" not in result.output


def test_an_unwritable_output_is_one_line(tiny_run, tmp_path):
    record = F.write_csv(tmp_path / "r.csv", F.signal(), fs=500)
    result = CliRunner().invoke(app, ["predict", str(record), "--model", str(tiny_run), "--csv",
                                      str(tmp_path / "no" / "such" / "dir" / "out.csv")])
    assert result.exit_code == 2 and "out.csv: No such file or directory" in result.output
    assert "Traceback" not in result.output

