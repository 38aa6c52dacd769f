"""The comparison report on a tiny synthetic set with two small models: complete and well-formed."""

import json

from typer.testing import CliRunner

from pocketecg.cli import app
from pocketecg.compare import compare
from pocketecg.train import TrainConfig

from conftest import TINY_MODEL


def quiet(*_):
    pass


def test_compare_report_is_complete(tiny_cache, tmp_path):
    base = TrainConfig(cache=str(tiny_cache), out="", epochs=2, batch_size=8, warmup_epochs=1,
                       model_kwargs=TINY_MODEL, augment=())
    runs = tmp_path / "runs"
    # two small models: a tiny lite and squeezenet1d (its own defaults)
    compare(["lite"], "six", tiny_cache, tmp_path / "r1", runs, base, bootstrap=20, log=quiet)
    report = compare(["lite", "squeezenet1d"], "six", tiny_cache, tmp_path / "r2", runs,
                     TrainConfig(cache=str(tiny_cache), out="", epochs=1, batch_size=8, warmup_epochs=1, augment=()),
                     bootstrap=20, command="pocketecg compare ...", log=quiet)
    results = json.loads((tmp_path / "r2" / "results.json").read_text())
    assert results == json.loads(json.dumps(report))
    assert set(results["models"]) == {"lite", "squeezenet1d"}
    assert results["models"]["lite"]["params"] < 50_000  # the finished tiny run was reused, not retrained
    for r in results["models"].values():
        for key in ("macro_f1", "params", "macs", "size_fp32_bytes", "size_int8_bytes", "latency_ms_torch",
                    "latency_ms_onnx", "train_seconds_per_epoch", "epochs_run", "macro_auroc"):
            assert isinstance(r[key], int | float) and r[key] >= 0, key
        assert len(r["per_class"]) == 6 and r["macro_f1_ci95"][0] <= r["macro_f1_ci95"][1]
        assert r["size_int8_bytes"] < r["size_fp32_bytes"]
    d = results["models"]["squeezenet1d"]["macro_f1_minus_lite"]  # paired, on the same test records
    assert d["ci95"][0] <= d["ci95"][1]
    assert abs(d["difference"] - (results["models"]["squeezenet1d"]["macro_f1"] - results["models"]["lite"]["macro_f1"])) < 1e-9
    assert "macro_f1_minus_lite" not in results["models"]["lite"]
    assert results["machine"]["cpus"] >= 1 and results["date"] and results["command"]
    md = (tmp_path / "r2" / "report.md").read_text()
    assert "| lite |" in md and "| squeezenet1d |" in md and "f1_vs_latency.png" in md
    page = (tmp_path / "r2" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page


def test_compare_cli_rejects_unknown_model(tiny_cache, tmp_path):
    result = CliRunner().invoke(app, ["compare", "--models", "lite,vgg", "--cache", str(tiny_cache),
                                      "--out", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"), "--epochs", "1"])
    assert result.exit_code == 2 and "unknown model" in result.output
