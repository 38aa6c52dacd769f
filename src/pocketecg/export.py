"""Export a model to one self-contained ONNX file with dynamic batch and length."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_NAME = "ecg"  # (batch, 12, samples) float32, preprocessed
OUTPUT_NAME = "logits"  # (batch, classes)
MIN_EXPORT_SAMPLES = 200  # below any record the readers accept (2 s at 100 Hz)


# fp32; static int8 (QDQ); fp32 compute with float16-stored weights (half the download)
FORMATS = ("onnx", "onnx-int8", "onnx-fp16")


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
    """An onnxruntime CPU session; `threads=0` lets onnxruntime choose."""
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


def fp16_weights(fp32_path: str | Path, out_path: str | Path) -> Path:
    """The fp32 graph with its weights stored as float16 (half the file), each cast back to float32 once,
    when the session loads (onnxruntime folds a Cast of a constant into a constant), so the arithmetic stays
    fp32 in every runtime, onnxruntime-web's WASM included (it has no fp16 convolution kernels)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(fp32_path))
    graph, casts = model.graph, []
    for weight in list(graph.initializer):
        if weight.data_type != TensorProto.FLOAT or int(np.prod(weight.dims)) < 16:  # scalars, shapes: as they are
            continue
        values = numpy_helper.to_array(weight)
        if np.abs(values).max() > np.finfo(np.float16).max:
            raise ValueError(f"{fp32_path}: weight {weight.name} exceeds the float16 range")
        half = numpy_helper.from_array(values.astype(np.float16), f"{weight.name}_fp16")
        graph.initializer.remove(weight)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [weight.name], to=TensorProto.FLOAT,
                                      name=f"{weight.name}_to_fp32"))
    for cast in reversed(casts):  # before their first use: nodes are topologically ordered
        graph.node.insert(0, cast)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(out_path))
    return Path(out_path)


def _copy_metadata(src: str | Path, dst: str | Path) -> None:
    import onnx

    source, target = onnx.load(str(src)), onnx.load(str(dst))
    del target.metadata_props[:]
    target.metadata_props.extend(source.metadata_props)
    onnx.save_model(target, str(dst))


def run_metadata(config: dict) -> dict[str, str]:
    """What the phone page and `predict --model x.onnx` need, stored inside the ONNX file."""
    from pocketecg import __version__

    return {
        "pocketecg_version": __version__,
        "model": config["model"],
        "label_preset": config["label_preset"],
        "classes": json.dumps(config["classes"]),
        "thresholds": json.dumps(config["thresholds"]),
        "preprocessing": json.dumps(config["preprocessing"], sort_keys=True),
        # the band-pass as second-order sections, so a port (the phone page) needs no filter design
        "bandpass_sos": json.dumps(_bandpass_sos(config["preprocessing"]).tolist()),
        "fs": str(config["preprocessing"]["fs"]),
        "window_seconds": str(config["preprocessing"]["window_seconds"]),
        "window_aggregation": config.get("window_aggregation", "mean"),
        "split_manifest_sha256": config.get("split_manifest_sha256", ""),
        "input": f"{INPUT_NAME}: float32 (batch, 12, samples), preprocessed windows; leads I II III aVR aVL aVF V1-V6",
        "output": f"{OUTPUT_NAME}: float32 (batch, classes); probability = sigmoid(logit)",
    }


def _bandpass_sos(preprocessing: dict) -> np.ndarray:
    from pocketecg.preprocess import PreprocessSettings, bandpass_sos

    settings = PreprocessSettings.from_dict(preprocessing)
    return bandpass_sos(settings.fs, settings.band_hz, settings.filter_order)


def read_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ValueError(f"{path}: not an ONNX model ({exc.__class__.__name__})") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    missing = {"classes", "thresholds", "preprocessing"} - set(meta)
    if missing:
        raise ValueError(f"{path}: ONNX file lacks pocketecg metadata ({', '.join(sorted(missing))})")
    return meta


PARITY_SYNTHETIC_SEEDS = 4  # synthetic records per finding when no real data is given
CALIBRATION_WINDOWS = 128


class ParityWindows:
    """Preprocessed windows the export is checked on, with the record each belongs to and where they came from.

    `calibration` (int8 only) never overlaps `windows`: agreement is measured on records the quantizer
    did not see.
    """

    def __init__(self, windows: np.ndarray, records: np.ndarray, origin: str, calibration: np.ndarray | None = None):
        self.windows, self.records, self.origin, self.calibration = windows, records, origin, calibration


def cache_windows(cache, config: dict, run_dir) -> ParityWindows:
    """The validation split of the run's own cache for parity; training windows for int8 calibration."""
    from pocketecg.cache import PreparedCache, PreparedDataset

    cache = PreparedCache(cache)
    if cache.manifest_sha256 != config.get("split_manifest_sha256", cache.manifest_sha256):
        raise ValueError(f"{cache.folder}: not the cache {run_dir} was trained on (its split manifest differs); "
                         "parity would be measured on other records. Give --data FOLDER instead")
    classes = tuple(config["classes"])
    val = PreparedDataset(cache, "val", classes)
    order = np.argsort(val.window_index)
    train = PreparedDataset(cache, "train", classes)
    idx = np.random.default_rng(0).choice(len(train), min(CALIBRATION_WINDOWS, len(train)), replace=False)
    return ParityWindows(np.asarray(cache.windows[val.window_index[order]]), val.records[order],
                         f"the validation split of {cache.folder}", train.batch(idx)[0])


def folder_windows(folders, settings) -> ParityWindows:
    """Every readable record in `folders` (labels not needed), preprocessed as for prediction.

    Records are shuffled (seed 0); windows of the first records, up to CALIBRATION_WINDOWS, calibrate int8
    and the rest measure agreement, so no record is in both.
    """
    from pocketecg.data.record import RecordError
    from pocketecg.data.scan import ReadOptions, find_candidates, read_candidate
    from pocketecg.preprocess import apply

    per_record, skipped = [], 0
    for candidate in find_candidates(folders):
        try:
            per_record.append(apply(read_candidate(candidate, ReadOptions()), settings)[0])
        except RecordError:
            skipped += 1
    names = ", ".join(map(str, folders))
    if len(per_record) < 2:
        raise ValueError(f"{names}: {len(per_record)} readable ECG record(s) ({skipped} unreadable); the parity "
                         "check needs at least 2")
    order = np.random.default_rng(0).permutation(len(per_record))
    calibration, held_out, held_records, n_cal = [], [], [], 0
    for k, i in enumerate(order):
        if n_cal < CALIBRATION_WINDOWS and k < len(order) // 2:
            calibration.append(per_record[i])
            n_cal += len(per_record[i])
        else:
            held_out.append(per_record[i])
            held_records += [k] * len(per_record[i])
    return ParityWindows(np.concatenate(held_out), np.array(held_records), f"{len(held_out)} records of {names}",
                         np.concatenate(calibration)[:CALIBRATION_WINDOWS])


def synthetic_windows(settings) -> ParityWindows:
    """Synthetic ECGs of every finding (pocketecg.synth): enough for fp32 parity, never for int8 calibration."""
    from pocketecg.preprocess import preprocess_signal, to_windows
    from pocketecg.synth import FINDINGS, synth_ecg

    windows = [to_windows(preprocess_signal(synth_ecg(f, seed=s), 500.0, settings), settings)[0]
               for f in FINDINGS for s in range(PARITY_SYNTHETIC_SEEDS)]
    records = np.concatenate([[i] * len(w) for i, w in enumerate(windows)])
    return ParityWindows(np.concatenate(windows), records, f"{len(windows)} synthetic ECGs (no corpus given)")


def parity_windows(run_dir, config: dict, fmt: str, cache=None, data=None) -> ParityWindows:
    """Where the export is checked: --data folders, else the given or recorded cache, else synthetic ECGs (fp32)."""
    from pocketecg.preprocess import PreprocessSettings

    settings = PreprocessSettings.from_dict(config["preprocessing"])
    if data:
        return folder_windows(data, settings)
    recorded = config.get("cache")
    if cache is not None or (recorded and Path(recorded, "cache.json").is_file()):
        return cache_windows(cache or recorded, config, run_dir)
    if fmt == "onnx-int8":
        raise ValueError(f"{run_dir}: int8 quantization is calibrated on real ECG windows and none are at hand; "
                         "give --data FOLDER (any ECG records, labels not needed) or --cache (a prepared cache)")
    return synthetic_windows(settings)


def export_run(run_dir: str | Path, out: str | Path, fmt: str = "onnx", log=print,
               cache: str | Path | None = None, data: list[str | Path] | None = None) -> dict:
    """Run directory -> one ONNX file (fp32 or int8) with metadata; returns the parity report.

    Parity is measured on the run's validation split when its cache is at hand (`cache` says where it
    lives), on the records of `data` folders, or, for fp32 without either, on synthetic ECGs; int8
    calibration uses training windows (or part of the `data` records) and needs one of the two.
    """
    from pocketecg.inference import aggregate_windows, decide, load_run, sigmoid

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose {', '.join(FORMATS)}")
    model, config = load_run(run_dir)
    meta = run_metadata(config)
    parity = parity_windows(run_dir, config, fmt, cache, data)
    windows, records = parity.windows, parity.records
    classes = tuple(config["classes"])
    out = Path(out)
    samples = int(round(config["preprocessing"]["fs"] * config["preprocessing"]["window_seconds"]))
    fp32 = export_onnx(model, out if fmt == "onnx" else out.with_suffix(".fp32.onnx"), samples, metadata=meta)
    with torch.no_grad():
        torch_logits = torch.cat([model(torch.from_numpy(windows[i:i + 64])) for i in range(0, len(windows), 64)]).numpy()
    report = {"format": fmt, "file": str(out), "parity_on": parity.origin, "parity_windows": int(len(windows))}
    fp32_logits = _onnx_logits(fp32, windows)
    report["max_abs_diff_fp32"] = float(np.abs(fp32_logits - torch_logits).max())
    if fmt != "onnx":  # a converted file: scored against torch like the fp32 one, plus class decisions
        if fmt == "onnx-int8":
            quantize_int8(fp32, out, parity.calibration)
            report["calibration_windows"] = int(len(parity.calibration))
        else:
            fp16_weights(fp32, out)
        fp32.unlink()
        logits = _onnx_logits(out, windows)
        thresholds = np.array([config["thresholds"][c] for c in classes])
        _, p_ref = aggregate_windows(records, sigmoid(torch_logits))
        _, p_out = aggregate_windows(records, sigmoid(logits))
        agree = decide(p_ref, thresholds) == decide(p_out, thresholds)
        report[f"max_abs_diff_{fmt.removeprefix('onnx-')}_logits"] = float(np.abs(logits - torch_logits).max())
        report["max_abs_diff_probabilities"] = float(np.abs(p_out - p_ref).max())
        report["label_agreement"] = float(agree.mean())
        report["record_agreement"] = float(agree.all(axis=1).mean())
    report["size_bytes"] = out.stat().st_size
    return report


def _onnx_logits(path: Path, windows: np.ndarray) -> np.ndarray:
    session = onnx_session(path, threads=0)
    return np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: windows[i:i + 64]})[0]
                           for i in range(0, len(windows), 64)])
