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
    agreement = float(result.output.split("validation split ")[1].split("%")[0]) / 100
    assert result.exit_code == (0 if agreement >= 0.99 else 2)


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
