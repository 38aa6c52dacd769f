"""Export a model to one self-contained ONNX file with dynamic batch and length."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_NAME = "ecg"  # (batch, 12, samples) float32, preprocessed
OUTPUT_NAME = "logits"  # (batch, classes)
MIN_EXPORT_SAMPLES = 200  # below any record the readers accept (2 s at 100 Hz)


def export_onnx(model: nn.Module, path: str | Path, samples: int = 2500, in_leads: int = 12,
                metadata: dict[str, str] | None = None) -> Path:
    """torch.export-based ONNX export with symbolic batch and length; `metadata` goes into the file."""
    import onnx

    model = model.eval()
    example = torch.randn(2, in_leads, samples)
    batch = torch.export.Dim("batch", min=1, max=4096)
    length = torch.export.Dim("samples", min=MIN_EXPORT_SAMPLES, max=1_000_000)
    # The exporter logs a warning per missing torchvision op; none of ours uses them.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (example,), dynamo=True, input_names=[INPUT_NAME],
                                    output_names=[OUTPUT_NAME], dynamic_shapes=({0: batch, 2: length},),
                                    verbose=False)
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(path))  # weights inside the file, no external data
    return path


def onnx_session(path: str | Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def max_abs_difference(model: nn.Module, path: str | Path, inputs: np.ndarray) -> float:
    """Largest |torch - onnxruntime| over the logits of `inputs` (batch, 12, samples)."""
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(inputs)).numpy()
    got = onnx_session(path).run([OUTPUT_NAME], {INPUT_NAME: inputs.astype(np.float32)})[0]
    return float(np.abs(expected - got).max())


def onnx_bytes(path: str | Path) -> int:
    return Path(path).stat().st_size




def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration: np.ndarray) -> Path:
    """Static int8 quantization (QDQ, per-channel weights) calibrated on preprocessed windows.

    Calibration data should come from the training or validation split, never the test split.
    """
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Windows(CalibrationDataReader):
        def __init__(self, data: np.ndarray):
            self.items = iter(data[i:i + 1].astype(np.float32) for i in range(len(data)))

        def get_next(self):
            item = next(self.items, None)
            return None if item is None else {INPUT_NAME: item}

    out_path = Path(out_path)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out_path), Windows(calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    _copy_metadata(fp32_path, out_path)
    return out_path


def _copy_metadata(src: str | Path, dst: str | Path) -> None:
    import onnx

    source, target = onnx.load(str(src)), onnx.load(str(dst))
    del target.metadata_props[:]
    target.metadata_props.extend(source.metadata_props)
    onnx.save_model(target, str(dst))
