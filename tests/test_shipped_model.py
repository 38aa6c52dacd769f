"""The model shipped inside the package: checked at load, small, and usable without data or network."""

import json
import shutil

import pytest
from typer.testing import CliRunner

import ecg_files as F
from pocketecg.cli import app
from pocketecg.export import read_metadata
from pocketecg.predict import SHIPPED_DIR, Predictor, verify_shipped


def test_shipped_files_pass_their_sha256_check():
    sums = verify_shipped()
    assert set(sums) == {"config.json", "model.pt", "model.onnx", "model-int8.onnx"}


@pytest.mark.parametrize("victim", ["model.pt", "model.onnx", "model-int8.onnx", "config.json"])
def test_a_damaged_shipped_file_is_refused(tmp_path, victim):
    folder = tmp_path / "lite-six"
    shutil.copytree(SHIPPED_DIR, folder)
    data = bytearray((folder / victim).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / victim).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 check failed"):
        verify_shipped(folder)


def test_shipped_model_facts():
    config = json.loads((SHIPPED_DIR / "config.json").read_text())
    assert config["model"] == "lite" and config["label_preset"] == "six"
    assert config["classes"] == ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"]
    assert set(config["thresholds"]) == set(config["classes"]) and config["preprocessing"]["fs"] == 250
    assert (SHIPPED_DIR / "model-int8.onnx").stat().st_size <= 1_000_000
    meta = read_metadata(SHIPPED_DIR / "model-int8.onnx")
    assert json.loads(meta["thresholds"]) == config["thresholds"]
    assert config["int8_export"]["label_agreement"] >= 0.99
    # thresholds from cross-fitting: K, the folds and the out-of-fold metrics are recorded
    crossfit = config["crossfit"]
    assert crossfit["k"] == len(crossfit["folds"]) >= 3
    assert sum(f["records"] for f in crossfit["folds"]) > 2000 and 0 < crossfit["oof_macro_f1"] <= 1
    assert config["thresholds_from"] == f"out-of-fold predictions of {crossfit['k']}-fold cross-fitting over train+val"
    # distilled from cross-fitted teachers: which run, with what mix and temperature
    assert crossfit["distillation"]["alpha"] == config["train_config"]["distill_alpha"]
    # provenance without this machine's paths
    assert "/work/" not in json.dumps(config) and not any(
        isinstance(v, str) and v.startswith("/") for v in _leaves(config))


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_predict_defaults_to_the_shipped_model(tmp_path):
    header = F.write_wfdb(tmp_path, "rec", F.signal("SNR"))
    result = CliRunner().invoke(app, ["predict", str(header), "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["record"] == str(header) and set(d["probabilities"]) == {"SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"}
    assert d["windows"] == 1 and d["seconds"] == 10.0


def test_shipped_torch_and_int8_agree(tmp_path):
    header = F.write_wfdb(tmp_path, "rec", F.signal("AF", seconds=25))
    a = Predictor.shipped().predict_file(header)
    b = Predictor.from_path(SHIPPED_DIR / "model-int8.onnx").predict_file(header)
    assert max(abs(a.probabilities[c] - b.probabilities[c]) for c in a.probabilities) < 0.1
    fp32 = Predictor.from_path(SHIPPED_DIR / "model.onnx").predict_file(header)  # what the phone page runs
    assert max(abs(a.probabilities[c] - fp32.probabilities[c]) for c in a.probabilities) < 1e-5


def test_export_of_the_shipped_model_needs_no_corpus(tmp_path):
    """A user's machine has no prepared cache: fp32 parity is checked on synthetic ECGs, int8 asks for data."""
    result = CliRunner().invoke(app, ["export", "shipped", "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "synthetic ECGs" in result.output
    assert float(result.output.split("max |torch - onnx fp32| ")[1].split()[0]) < 1e-4
    assert json.loads(read_metadata(tmp_path / "m.onnx")["thresholds"]) == \
        json.loads((SHIPPED_DIR / "config.json").read_text())["thresholds"]
    result = CliRunner().invoke(app, ["export", "shipped", "--format", "onnx-int8", "--out", str(tmp_path / "q.onnx")])
    assert result.exit_code == 2 and "give --data FOLDER" in result.output


def test_export_of_the_shipped_model_to_int8_on_real_records(shared_data, tmp_path):
    """Real-data test: int8 calibrated on half of the CinC records, agreement measured on the other half."""
    result = CliRunner().invoke(app, ["export", "shipped", "--format", "onnx-int8", "--out", str(tmp_path / "q.onnx"),
                                      "--data", str(shared_data / "cinc")])
    assert "label agreement with torch" in result.output, result.output
    agreement = float(result.output.split("label agreement with torch ")[1].split("%")[0]) / 100
    assert agreement >= 0.97 and result.exit_code == (0 if agreement >= 0.99 else 2)


def test_demo_runs_end_to_end_with_the_shipped_model(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output and "pocketecg serve" in result.output  # where, and how to start the app
    import shutil

    command = result.output.split("classify your own files with: ")[1].split(" predict")[0]
    assert shutil.which(command) is not None, f"the demo's hint {command!r} is not a command that runs from here"
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "lite (torch" in page and "These examples are synthetic" in page
    assert len(list((tmp_path / "demo" / "explanations").glob("*.png"))) == 6
