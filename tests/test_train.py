"""Training and evaluation on a tiny synthetic set (seconds, not minutes)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import torch
from typer.testing import CliRunner

from pocketecg.cache import MANIFEST_FILE, WINDOWS_FILE, PreparedCache, prepare
from pocketecg.cli import app
from pocketecg.evaluate import evaluate_run
from pocketecg.preprocess import PreprocessSettings
from pocketecg.inference import load_run
from pocketecg.train import TrainConfig, train

from conftest import TINY_MODEL


def tiny_config(cache, out, **kw):
    base = dict(cache=str(cache), out=str(out), model="lite", classes="six", epochs=3, batch_size=8, lr=5e-3,
                warmup_epochs=1, model_kwargs=TINY_MODEL, augment=("scale", "noise", "crop"))
    base.update(kw)
    return TrainConfig(**base)


def quiet(*_):
    pass


def test_tiny_training_loss_falls_and_run_dir_is_complete(tiny_cache, tmp_path):
    run = train(tiny_config(tiny_cache, tmp_path / "run", epochs=6, augment=()), log=quiet)
    history = pd.read_csv(run / "history.csv")
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    config = json.loads((run / "config.json").read_text())
    assert config["classes"] == ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"] and config["label_preset"] == "six"
    assert set(config["thresholds"]) == set(config["classes"])
    assert config["preprocessing"]["fs"] == 100 and len(config["split_manifest_sha256"]) == 64
    assert config["versions"]["torch"] == torch.__version__
    model, _ = load_run(run)
    assert model(torch.zeros(1, 12, 500)).shape == (1, 6)


def test_resumed_run_equals_uninterrupted_run(tiny_cache, tmp_path):
    full = train(tiny_config(tiny_cache, tmp_path / "full"), log=quiet)
    part = tiny_config(tiny_cache, tmp_path / "part")
    train(part, log=quiet, stop_after_epochs=1)  # as if killed right after epoch 1's checkpoint
    assert not (tmp_path / "part" / "model.pt").exists()
    train(part, resume=True, log=quiet)
    a = torch.load(full / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (full, tmp_path / "part"))
    assert ca["thresholds"] == cb["thresholds"] and ca["val_macro_f1"] == cb["val_macro_f1"]
    ha, hb = (pd.read_csv(d / "history.csv") for d in (full, tmp_path / "part"))
    assert ha["val_macro_f1"].tolist() == hb["val_macro_f1"].tolist()


def test_ema_weights_are_scored_and_saved_and_resume_exactly(tiny_cache, tmp_path):
    """With --ema-decay the kept model is the moving average (not the last raw weights), and a killed EMA
    run resumes to the same weights; label smoothing changes what is learnt."""
    config = tiny_config(tiny_cache, tmp_path / "ema", ema_decay=0.9)
    train(config, log=quiet, stop_after_epochs=1)
    raw_after_1 = torch.load(tmp_path / "ema" / "checkpoint.pt", weights_only=True)
    assert raw_after_1["ema"] is not None
    ema_after_1 = {k.removeprefix("module."): v for k, v in raw_after_1["ema"].items() if k.startswith("module.")}
    differs = [k for k, v in raw_after_1["model"].items() if v.is_floating_point() and not torch.equal(v, ema_after_1[k])]
    assert differs, "the EMA copy equals the raw weights"
    train(config, resume=True, log=quiet)
    full = train(tiny_config(tiny_cache, tmp_path / "ema-full", ema_decay=0.9), log=quiet)
    a = torch.load(full / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "ema" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = torch.load(train(tiny_config(tiny_cache, tmp_path / "plain"), log=quiet) / "model.pt", weights_only=True)
    assert any(not torch.equal(a[k], plain[k]) for k in a if a[k].is_floating_point())
    smooth = torch.load(train(tiny_config(tiny_cache, tmp_path / "smooth", label_smoothing=0.1), log=quiet)
                        / "model.pt", weights_only=True)
    assert any(not torch.equal(smooth[k], plain[k]) for k in plain if plain[k].is_floating_point())


def test_mixup_changes_what_is_learnt_and_resumes_exactly(tiny_cache, tmp_path):
    config = tiny_config(tiny_cache, tmp_path / "mix", mixup=0.4)
    train(config, log=quiet, stop_after_epochs=1)
    train(config, resume=True, log=quiet)
    full = train(tiny_config(tiny_cache, tmp_path / "mix-full", mixup=0.4), log=quiet)
    plain = train(tiny_config(tiny_cache, tmp_path / "plain"), log=quiet)
    a, b, c = (torch.load(d / "model.pt", weights_only=True) for d in (full, tmp_path / "mix", plain))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())
    assert json.loads((full / "config.json").read_text())["train_config"]["mixup"] == 0.4


def test_training_never_reads_the_test_split(tiny_cache, tmp_path):
    """By construction: scramble every test window and flip every test label; nothing may change."""
    poisoned = tmp_path / "poisoned"
    shutil.copytree(tiny_cache, poisoned)
    cache = PreparedCache(poisoned)
    manifest = cache.manifest.copy()
    test = manifest["split"] == "test"
    assert test.sum() > 0
    windows = np.memmap(poisoned / WINDOWS_FILE, dtype=np.float32, mode="r+", shape=cache.windows.shape)
    windows[manifest.loc[test, "window"].to_numpy()] = np.random.default_rng(0).normal(size=(test.sum(), 12, 500)) * 50
    windows.flush()
    for c in ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"]:
        manifest.loc[test, c] = 1 - manifest.loc[test, c]
    manifest.to_csv(poisoned / MANIFEST_FILE, index=False)
    # a consistent cache that differs only in its test split (as if prepared from other test records)
    import hashlib

    info = json.loads((poisoned / "cache.json").read_text())
    info["manifest_sha256"] = hashlib.sha256((poisoned / MANIFEST_FILE).read_bytes()).hexdigest()
    (poisoned / "cache.json").write_text(json.dumps(info))
    clean = train(tiny_config(tiny_cache, tmp_path / "clean"), log=quiet)
    dirty = train(tiny_config(poisoned, tmp_path / "dirty"), log=quiet)
    a, b = (torch.load(d / "model.pt", weights_only=True) for d in (clean, dirty))
    assert all(torch.equal(a[k], b[k]) for k in a)
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (clean, dirty))
    assert ca["thresholds"] == cb["thresholds"] and ca["best_epoch"] == cb["best_epoch"]


def test_evaluate_writes_metrics_and_plots(tiny_cache, tmp_path):
    run = train(tiny_config(tiny_cache, tmp_path / "run9", classes="cpsc9", epochs=2), log=quiet)
    result = CliRunner().invoke(app, ["evaluate", str(run), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "CPSC 2018 challenge score on" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "test" and len(metrics["per_class"]) == 9
    assert set(metrics["cpsc2018"]) >= {"F_AF", "F_Block", "F_PC", "F_ST", "F1", "confusion"}
    assert 0 < metrics["cpsc2018"]["records"] <= metrics["records"]  # the CPSC records, with REFERENCE.csv order
    assert len(metrics["ci95"]["f1"]) == 9 and metrics["ci95"]["resamples"] == 50
    for png in ("roc-test.png", "confusion-test.png"):
        assert (run / png).stat().st_size > 5000
    val = evaluate_run(run, split="val", bootstrap=0, plots=False)
    assert (run / "metrics-val.json").is_file() and val["records"] > 0


def test_evaluate_refuses_a_cache_with_other_splits(tiny_cache, tmp_path, synthetic_corpus):
    run = train(tiny_config(tiny_cache, tmp_path / "run", epochs=1), log=quiet)
    other = tmp_path / "other"
    prepare([synthetic_corpus], other, PreprocessSettings(fs=100, window_seconds=5), seed=7, workers=1)
    result = CliRunner().invoke(app, ["evaluate", str(run), "--cache", str(other)])
    assert result.exit_code == 2 and "split manifest differs" in result.output


def test_bad_training_arguments_are_one_line_errors(tiny_cache, tmp_path):
    result = CliRunner().invoke(app, ["train", "--cache", str(tiny_cache), "--out", str(tmp_path / "x"),
                                      "--augment", "mixup"])
    assert result.exit_code == 2 and "unknown augmentation" in result.output
    result = CliRunner().invoke(app, ["train", "--cache", str(tmp_path / "nocache"), "--out", str(tmp_path / "y")])
    assert result.exit_code == 2 and "not a prepared cache" in result.output


def test_two_process_gloo_ddp_run_completes(tiny_cache, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "pocketecg.cli", "train", "--cache", str(tiny_cache), "--out", str(tmp_path / "ddp"),
           "--epochs", "2", "--batch-size", "8", "--model-kwargs", json.dumps(TINY_MODEL)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["epochs_run"] == 2 and (tmp_path / "ddp" / "model.pt").is_file()
    # the wrapper synchronised the replicas, and the two ranks trained on disjoint halves of the windows
    ddp = config["ddp"]
    assert ddp["world_size"] == 2 and ddp["backend"] == "gloo" and ddp["replicas_identical"]
    assert ddp["shard_overlap_records"] == 0 and ddp["shard_sizes"][0] == ddp["shard_sizes"][1] > 0


def test_ddp_setup_puts_each_process_on_its_own_gpu(monkeypatch):
    """The CUDA path without a GPU: only the device count and set_device are faked, nothing else."""
    import torch

    from pocketecg import train as T

    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: chosen.append(i))
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "3")
    rank, world, device = T.ddp_setup("cuda")
    assert (rank, world) == (0, 1) and device == torch.device("cuda", 3) and chosen == [3]
    rank, world, device = T.ddp_setup("cpu")  # CPU training on a GPU machine stays on the CPU (gloo)
    assert device == torch.device("cpu")
