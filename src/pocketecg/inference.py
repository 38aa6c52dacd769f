"""The one inference path: load a model, turn windows into probabilities, aggregate, threshold.

train, evaluate, export, predict, compare, crossfit and the server all call these, so the rules are
written once:
- probability = sigmoid(logit) (`sigmoid`);
- a record's probability = the mean over all its windows (`aggregate`, `aggregate_windows`);
- a finding = probability >= the class's threshold (`decide`).
Models load from a run directory (`load_run`, weights with `weights_only=True`), the shipped model
(`Model.shipped`, checked against its SHA-256 sums) or one `.onnx` file (`Model.from_onnx`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pocketecg.preprocess import PreprocessSettings

SHIPPED_DIR = Path(__file__).parent / "weights" / "lite-six"
SHIPPED_FILES = ("config.json", "model.pt", "model.onnx", "model-int8.onnx")
MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"


def sigmoid(logits) -> np.ndarray:
    """float64 probabilities from logits (a stable form: no overflow warning for large |logit|)."""
    x = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def aggregate(p_windows: np.ndarray) -> np.ndarray:
    """One record's windows (n_windows, classes) -> its probabilities: the mean (docs/results.md)."""
    return np.asarray(p_windows).mean(axis=0)


def decide(p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Findings: each class's probability reaching its threshold."""
    return np.asarray(p) >= np.asarray(thresholds)


def window_probabilities(model, windows: np.ndarray, device=None, batch_size: int = 64) -> np.ndarray:
    """A torch model's per-window probabilities."""
    import torch

    model.eval()
    out = []
    device = device or torch.device("cpu")
    for i in range(0, len(windows), batch_size):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(windows[i:i + batch_size])).to(device)
            out.append(sigmoid(model(x).float().cpu().numpy()))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def aggregate_windows(records: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Many records' windows at once: the same mean as `aggregate`, grouped by record id."""
    keys, inverse = np.unique(records, return_inverse=True)
    sums = np.zeros((len(keys), probs.shape[1]))
    np.add.at(sums, inverse, probs)
    return keys, sums / np.bincount(inverse)[:, None]


def record_probabilities(model, dataset, device=None):
    """-> (record ids, record targets, record probabilities) for every record of the dataset's split."""
    windows = dataset.cache.windows[np.sort(dataset.window_index)]
    order = np.argsort(dataset.window_index)
    probs = window_probabilities(model, windows, device)
    keys, p = aggregate_windows(dataset.records[order], probs)
    first = {}
    for rec, target in zip(dataset.records, dataset.targets):
        first.setdefault(rec, target)
    y = np.stack([first[k] for k in keys]) if len(keys) else np.zeros((0, len(dataset.classes)))
    return keys, y, p


def read_config(run_dir: Path) -> dict:
    """A run's config.json, checked for the fields inference needs; any problem names the file."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{run_dir}: not a finished run directory (no {CONFIG_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable run configuration ({exc.__class__.__name__}: {exc})") from None
    return check_config(config, path)


def check_config(config, path, what: str = "run configuration") -> dict:
    """The fields every model source (run, shipped, ONNX metadata) must carry, in the right shape."""
    from pocketecg.preprocess import PreprocessSettings

    problems = []
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a {what} (a JSON object is expected)")
    if not isinstance(config.get("model"), str):
        problems.append("'model' must be a model name")
    classes = config.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        problems.append("'classes' must be a list of class names")
    thresholds = config.get("thresholds")
    if not (isinstance(thresholds, dict) and isinstance(classes, list)
            and all(isinstance(thresholds.get(c), int | float) and 0 <= thresholds[c] <= 1 for c in classes)):
        problems.append("'thresholds' must give every class a number in [0, 1]")
    try:
        PreprocessSettings.from_dict(config.get("preprocessing"))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        problems.append(f"'preprocessing' is not valid ({exc})")
    if not isinstance(config.get("model_kwargs", {}), dict):
        problems.append("'model_kwargs' must be an object")
    if problems:
        raise ValueError(f"{path}: not a valid {what}: {'; '.join(problems)}")
    return config


def load_run(run_dir: str | Path, device: str = "cpu"):
    """A run directory -> (model in eval mode, config). Weights are loaded with weights_only=True."""
    import pickle

    import torch

    from pocketecg.models import create_model

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    weights = run_dir / MODEL_FILE
    try:
        state = torch.load(weights, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{run_dir}: not a finished run directory (no {MODEL_FILE})") from None
    except pickle.UnpicklingError:
        # torch's message suggests weights_only=False, which would run code from the file: never pass that on
        raise ValueError(f"{weights}: holds Python objects, not only tensors; it is not loaded (untrusted pickles "
                         "can run code). Use weights written by `pocketecg train`") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ValueError(f"{weights}: not a readable weights file ({exc.__class__.__name__})") from None
    try:
        model = create_model(config["model"], len(config["classes"]), **config.get("model_kwargs", {}))
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise ValueError(f"{weights}: the weights do not fit model {config['model']!r} with "
                         f"{len(config['classes'])} classes ({first})") from None
    return model.to(device).eval(), config


def verify_shipped(folder: Path = SHIPPED_DIR) -> dict[str, str]:
    """Check the shipped files against weights/.../SHA256SUMS; a mismatch is an error, never a silent load."""
    import hashlib

    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        raise ValueError(f"{folder}: the shipped model is missing (no SHA256SUMS); reinstall pocketecg")
    rows = (line.split(maxsplit=1) for line in sums_file.read_text().splitlines() if line.strip())
    expected = {name.strip(): digest for digest, name in rows}
    for name in SHIPPED_FILES:
        path = folder / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if digest != expected.get(name):
            raise ValueError(f"{path}: SHA-256 check failed (expected {expected.get(name)}, got {digest}); "
                             "the shipped model is damaged, reinstall pocketecg")
    return expected


class Model:
    """A loaded model with its facts: classes, thresholds, preprocessing, window aggregation."""

    def __init__(self, classes, thresholds: dict[str, float], settings: PreprocessSettings, aggregation: str,
                 logits_fn, description: str, torch_model=None):
        if aggregation != "mean":
            raise ValueError(f"unsupported window aggregation {aggregation!r}")
        self.classes = tuple(classes)
        self.thresholds = {c: float(thresholds[c]) for c in self.classes}
        self.settings = settings
        self._logits = logits_fn
        self.description = description
        self.torch_model = torch_model  # for explanations (gradients); None for ONNX files

    @classmethod
    def from_path(cls, path: str | Path) -> "Model":
        path = Path(path)
        if path.is_dir():
            return cls.from_run(path)
        if path.suffix.lower() == ".onnx":
            return cls.from_onnx(path)
        raise ValueError(f"{path}: not a model (expected a run directory or an .onnx file)")

    @classmethod
    def shipped(cls) -> "Model":
        """The model shipped inside the package, after checking every file against its SHA-256."""
        verify_shipped()
        return cls.from_run(SHIPPED_DIR)

    @classmethod
    def from_run(cls, run_dir: str | Path) -> "Model":
        import torch

        model, config = load_run(run_dir)

        def logits(windows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(windows)).numpy()

        return cls(config["classes"], config["thresholds"], PreprocessSettings.from_dict(config["preprocessing"]),
                   config.get("window_aggregation", "mean"), logits, f"{config['model']} (torch, {run_dir})", model)

    @classmethod
    def from_onnx(cls, path: str | Path) -> "Model":
        from pocketecg.export import INPUT_NAME, OUTPUT_NAME, onnx_session, read_metadata

        meta = read_metadata(path)
        try:
            config = {k: json.loads(meta[k]) for k in ("classes", "thresholds", "preprocessing")}
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}: pocketecg metadata is not valid JSON ({exc})") from None
        check_config({**config, "model": meta.get("model", "model")}, path, "pocketecg ONNX model (metadata)")
        try:
            session = onnx_session(path, threads=0)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ValueError(f"{path}: onnxruntime cannot load this model ({str(exc).splitlines()[0][:200]})") from None

        def logits(windows: np.ndarray) -> np.ndarray:
            return session.run([OUTPUT_NAME], {INPUT_NAME: windows})[0]

        return cls(config["classes"], config["thresholds"], PreprocessSettings.from_dict(config["preprocessing"]),
                   meta.get("window_aggregation", "mean"), logits, f"{meta.get('model', 'model')} (onnx, {path})")

    def window_probabilities(self, windows: np.ndarray) -> np.ndarray:
        return sigmoid(self._logits(np.ascontiguousarray(windows, dtype=np.float32)))

    def probabilities(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Preprocessed windows of one record -> (record probabilities, per-window probabilities)."""
        p_windows = self.window_probabilities(windows)
        return aggregate(p_windows), p_windows

    def decide(self, p: np.ndarray) -> np.ndarray:
        return decide(p, np.array([self.thresholds[c] for c in self.classes]))
