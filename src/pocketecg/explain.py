"""Explanations: where in the ECG a finding came from, drawn on ECG paper.

Saliency is Grad-CAM (Selvaraju et al. 2017) on the last residual stage for models that have
`.stages` (lite, resnet1d18, seresnet18): the stage's activations weighted by the time-averaged
gradient of the finding's logit, rectified and stretched to the window's length. Other models fall
back to |input x gradient| summed over leads. Windows are explained one by one and laid back at
their start times (overlaps averaged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pocketecg.data.record import STANDARD_LEADS, Record
from pocketecg.preprocess import PreprocessSettings, apply, bandpass, resample


def grad_cam(model: nn.Module, windows: np.ndarray, class_index: int) -> np.ndarray:
    """(n, 12, T) windows -> (n, T) saliency in [0, 1] for one class."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).requires_grad_(True)
    stages = getattr(model, "stages", None)
    if stages is None:
        logits = model(x)
        (grad,) = torch.autograd.grad(logits[:, class_index].sum(), x)
        cam = (grad * x).abs().sum(dim=1)
    else:
        store = {}
        handle = stages[-1].register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
        try:
            logits = model(x)
        finally:
            handle.remove()
        activations = store["a"]
        (grad,) = torch.autograd.grad(logits[:, class_index].sum(), activations)
        weights = grad.mean(dim=-1, keepdim=True)
        cam = F.relu((weights * activations).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=windows.shape[-1], mode="linear", align_corners=False).squeeze(1)
    cam = cam.detach().numpy()
    peak = cam.max(axis=1, keepdims=True)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)


def record_saliency(model: nn.Module, windows: np.ndarray, starts: list[int], n_samples: int,
                    class_index: int) -> np.ndarray:
    """Saliency over the whole record (`apply`'s windows laid back at their starts): (n_samples,) in [0, 1]."""
    cams = grad_cam(model, windows, class_index)
    n = max(starts[-1] + windows.shape[-1], n_samples)
    total, count = np.zeros(n), np.zeros(n)
    for cam, s in zip(cams, starts):
        total[s:s + len(cam)] += cam
        count[s:s + len(cam)] += 1
    return np.divide(total, count, out=np.zeros(n), where=count > 0)[:n_samples]


def display_signal(record: Record, settings: PreprocessSettings) -> np.ndarray:
    """The record as a clinician reads it: resampled and band-passed, still in mV (not z-scored)."""
    return bandpass(resample(record.signal.astype(np.float64), record.fs, settings.fs), settings)


def plot_ecg_paper(signal: np.ndarray, fs: float, path: str | Path, title: str,
                   overlays: list[tuple[str, np.ndarray]] | None = None, seconds: float = 10.0, start_s: float = 0.0,
                   units: str = "mV") -> Path:
    """12 leads on ECG paper (25 mm/s, 10 mm/mV grid), one panel per overlay (or one plain panel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    overlays = overlays or [("", None)]
    a, b = int(start_s * fs), int(min(signal.shape[1], (start_s + seconds) * fs))
    t = np.arange(a, b) / fs
    spacing = 3.0 if units == "mV" else 6.0
    heat = LinearSegmentedColormap.from_list("heat", [(1, 1, 1, 0), (1.0, 0.55, 0.0, 0.55)])
    fig, axes = plt.subplots(len(overlays), 1, figsize=(14, 9.5 * len(overlays)), squeeze=False)
    for ax, (name, sal) in zip(axes[:, 0], overlays):
        ax.set_facecolor("#fff7f7")
        for x in np.arange(t[0], t[-1] + 0.04, 0.04):
            ax.axvline(x, color="#f5c6c6", lw=0.3 if round(x / 0.04) % 5 else 0.8, zorder=0)
        lo, hi = -spacing * 12 + spacing / 2, spacing / 2
        for y in np.arange(lo, hi, 0.1 if units == "mV" else 0.2):
            major = round(y / (0.1 if units == "mV" else 0.2)) % 5 == 0
            ax.axhline(y, color="#f5c6c6", lw=0.8 if major else 0.3, zorder=0)
        if sal is not None:
            ax.imshow(sal[None, a:b], aspect="auto", cmap=heat, vmin=0, vmax=1, zorder=1,
                      extent=(t[0], t[-1], lo, hi), interpolation="bilinear")
        for i, lead in enumerate(STANDARD_LEADS):
            offset = -spacing * i
            ax.plot(t, signal[i, a:b] + offset, color="black", lw=0.7, zorder=2)
            ax.text(t[0] + 0.05, offset + spacing * 0.3, lead, fontsize=9, weight="bold", zorder=3)
        ax.set(xlim=(t[0], t[-1]), ylim=(lo, hi), yticks=[], xlabel="time (s)")
        ax.set_title(f"{title}" + (f" - saliency for {name}" if name else ""), fontsize=11, loc="left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def explain_record(model: nn.Module, record: Record, settings: PreprocessSettings, classes, findings: list[str],
                   probabilities: dict[str, float], path: str | Path, title: str | None = None,
                   prepared: tuple[np.ndarray, list[int]] | None = None) -> Path:
    """One PNG: the record on ECG paper with a saliency overlay for each finding (a plain panel if none).

    `prepared`: `apply(record, settings)` if the caller has it already (the prediction made it).
    """
    signal = display_signal(record, settings)
    windows, starts = prepared if prepared is not None else apply(record, settings)  # once for every finding
    n_samples = int(round(record.seconds * settings.fs))
    overlays = [(f"{c} (p={probabilities[c]:.2f})",
                 record_saliency(model, windows, starts, n_samples, list(classes).index(c))) for c in findings]
    start = 0.0
    if overlays and record.seconds > 10:  # show the 10 s where the first finding is most salient
        sal = overlays[0][1]
        w = int(10 * settings.fs)
        sums = np.convolve(sal, np.ones(w), mode="valid")
        start = float(np.argmax(sums)) / settings.fs
    units = "mV" if record.units == "mV" else "z"
    return plot_ecg_paper(signal, settings.fs, path, title or record.record_id, overlays or None, start_s=start,
                          units=units)
