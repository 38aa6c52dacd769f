import json

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from pocketecg.cli import app
from pocketecg.export import read_metadata


def test_export_fp32_carries_metadata_and_matches_torch(tiny_run, tmp_path):
    result = CliRunner().invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    diff = float(result.output.split("max |torch - onnx fp32| ")[1].split()[0])
    assert diff < 1e-4
    meta = read_metadata(tmp_path / "m.onnx")
    config = json.loads((tiny_run / "config.json").read_text())
    assert json.loads(meta["classes"]) == config["classes"]
    assert json.loads(meta["thresholds"]) == config["thresholds"]
    assert json.loads(meta["preprocessing"]) == config["preprocessing"] and meta["fs"] == "100"
    from pocketecg.preprocess import bandpass_sos

    assert np.allclose(json.loads(meta["bandpass_sos"]), bandpass_sos(100, (0.5, 40.0), 4))
    graph_input = onnx.load(str(tmp_path / "m.onnx")).graph.input[0]
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[2].dim_param and dims[1].dim_value == 12  # dynamic batch and length


def test_export_int8_reports_label_agreement(tiny_run, tmp_path):
    result = CliRunner().invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "m8.onnx"), "--format", "onnx-int8"])
    assert "label agreement" in result.output
    assert (tmp_path / "m8.onnx").is_file() and not (tmp_path / "m8.fp32.onnx").exists()
    assert read_metadata(tmp_path / "m8.onnx")["label_preset"] == "six"
    assert "the validation split of" in result.output  # the run's own cache is at hand
    # checked independently of the export's own report: the int8 file's probabilities follow torch's
    from pocketecg.inference import Model

    import ecg_files as F

    record_path = F.write_csv(tmp_path / "r.csv", F.signal("AF"), fs=500)
    from pocketecg.data import read_record

    record = read_record(record_path)
    torch_model, int8_model = Model.from_path(tiny_run), Model.from_path(tmp_path / "m8.onnx")
    from pocketecg.preprocess import apply

    windows = apply(record, torch_model.settings)[0]
    p_torch, p_int8 = torch_model.probabilities(windows)[0], int8_model.probabilities(windows)[0]
    assert np.abs(p_torch - p_int8).max() < 0.05, (p_torch, p_int8)
    agreement = float(result.output.split("label agreement with torch ")[1].split("%")[0]) / 100
    assert result.exit_code == (0 if agreement >= 0.99 else 2)


def test_export_fp16_halves_the_file_and_keeps_the_decisions(tiny_run, tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "m.onnx")]).exit_code == 0
    result = runner.invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "m16.onnx"), "--format", "onnx-fp16"])
    assert result.exit_code == 0, result.output
    assert "label agreement with torch 100.00%" in result.output and not (tmp_path / "m16.fp32.onnx").exists()
    graph = onnx.load(str(tmp_path / "m16.onnx")).graph
    big = [w for w in graph.initializer if int(np.prod(w.dims)) >= 16]
    assert big and all(w.data_type == onnx.TensorProto.FLOAT16 for w in big)
    fp32_bytes = sum(len(w.raw_data) for w in onnx.load(str(tmp_path / "m.onnx")).graph.initializer
                     if int(np.prod(w.dims)) >= 16)
    assert sum(len(w.raw_data) for w in big) == fp32_bytes // 2  # the weights take half the bytes
    assert read_metadata(tmp_path / "m16.onnx") == read_metadata(tmp_path / "m.onnx")
    from pocketecg.inference import Model

    windows = np.random.default_rng(0).standard_normal((4, 12, 1000)).astype(np.float32)
    p16, p32 = Model.from_path(tmp_path / "m16.onnx").probabilities(windows)[0], \
        Model.from_path(tmp_path / "m.onnx").probabilities(windows)[0]
    assert np.abs(p16 - p32).max() < 1e-2


def test_fp16_weights_of_the_shipped_model_give_its_probabilities(tmp_path):
    """The shipped fp32 file with float16-stored weights: about half the bytes, probabilities within 1e-2."""
    from pocketecg.export import INPUT_NAME, fp16_weights, onnx_session
    from pocketecg.inference import SHIPPED_DIR, sigmoid

    half = fp16_weights(SHIPPED_DIR / "model.onnx", tmp_path / "model-fp16.onnx")
    assert half.stat().st_size < 0.6 * (SHIPPED_DIR / "model.onnx").stat().st_size
    x = np.random.default_rng(1).standard_normal((8, 12, 2500)).astype(np.float32)
    p32, p16 = (sigmoid(onnx_session(path).run(None, {INPUT_NAME: x})[0]) for path in (SHIPPED_DIR / "model.onnx", half))
    assert np.abs(p32 - p16).max() < 1e-2


@pytest.fixture
def run_without_cache(tiny_run, tmp_path):
    """The tiny run as a user receives a model: its prepared cache is not recorded (like the shipped one)."""
    import shutil

    run = tmp_path / "moved-run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config["cache"] = None
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_export_fp32_without_any_corpus_checks_parity_on_synthetic_ecgs(run_without_cache, tmp_path):
    result = CliRunner().invoke(app, ["export", str(run_without_cache), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "synthetic ECGs" in result.output
    assert float(result.output.split("max |torch - onnx fp32| ")[1].split()[0]) < 1e-4


def test_export_int8_without_data_says_what_it_needs(run_without_cache, tmp_path):
    result = CliRunner().invoke(app, ["export", str(run_without_cache), "--out", str(tmp_path / "m8.onnx"),
                                      "--format", "onnx-int8"])
    assert result.exit_code == 2
    assert "calibrated on real ECG windows" in result.output and "--data" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m8.onnx").exists()


def test_export_int8_calibrates_on_a_data_folder_and_scores_other_records(run_without_cache, synthetic_corpus, tmp_path):
    from pocketecg.export import export_run

    report = export_run(run_without_cache, tmp_path / "m8.onnx", "onnx-int8", data=[synthetic_corpus / "cinc"])
    assert report["calibration_windows"] > 0 and report["parity_windows"] > 0
    assert "records of" in report["parity_on"] and 0.0 <= report["label_agreement"] <= 1.0
    # calibration records and agreement records are disjoint halves of the 30 records
    assert report["parity_windows"] + report["calibration_windows"] <= 30 * 2


def test_export_data_folder_without_records_is_a_clear_error(run_without_cache, tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["export", str(run_without_cache), "--out", str(tmp_path / "m.onnx"),
                                      "--data", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "readable ECG record" in result.output and "empty" in result.output


def test_export_rejects_unknown_format_and_missing_run(tiny_run, tmp_path):
    result = CliRunner().invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "x"), "--format", "tflite"])
    assert result.exit_code == 2 and "unknown format" in result.output
    result = CliRunner().invoke(app, ["export", str(tmp_path / "none"), "--out", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and "not a finished run directory" in result.output


def test_onnx_without_metadata_is_refused(tmp_path):
    from pocketecg.export import export_onnx
    from pocketecg.models import create_model

    path = export_onnx(create_model("squeezenet1d", 6), tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="lacks pocketecg metadata"):
        read_metadata(path)
    (tmp_path / "junk.onnx").write_bytes(b"not onnx at all")
    with pytest.raises(ValueError, match="not an ONNX model"):
        read_metadata(tmp_path / "junk.onnx")
