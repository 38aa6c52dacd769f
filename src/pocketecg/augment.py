"""Training-time augmentations on a batch of preprocessed windows (B, 12, T), on any device.

Each takes the batch and a seeded torch.Generator (so a resumed run draws the same numbers) and
returns a new batch. Which ones are on by default was decided on validation macro-F1
(docs/results.md).
"""

from __future__ import annotations

import math

import torch

FS_DEFAULT = 250


def _uniform(shape, lo, hi, g, device):
    return lo + (hi - lo) * torch.rand(shape, generator=g).to(device)


def amplitude_scale(x: torch.Tensor, g: torch.Generator, fs: int, lo: float = 0.8, hi: float = 1.25) -> torch.Tensor:
    """Per-record, per-lead gain: electrode placement and body habitus change amplitudes."""
    return x * _uniform((x.shape[0], x.shape[1], 1), lo, hi, g, x.device)


def gaussian_noise(x: torch.Tensor, g: torch.Generator, fs: int, sigma: float = 0.05) -> torch.Tensor:
    """Additive white noise (muscle and amplifier noise), sigma in z-units."""
    return x + sigma * torch.randn(x.shape, generator=g).to(x.device)


def baseline_wander(x: torch.Tensor, g: torch.Generator, fs: int, max_amplitude: float = 0.3) -> torch.Tensor:
    """A slow sinusoid per lead (respiration, 0.05-0.5 Hz) that the band-pass only partly removes."""
    b, leads, n = x.shape
    t = torch.arange(n, device=x.device) / fs
    freq = _uniform((b, leads, 1), 0.05, 0.5, g, x.device)
    phase = _uniform((b, leads, 1), 0.0, 2 * math.pi, g, x.device)
    amp = _uniform((b, leads, 1), 0.0, max_amplitude, g, x.device)
    return x + amp * torch.sin(2 * math.pi * freq * t + phase)


def random_crop(x: torch.Tensor, g: torch.Generator, fs: int, fraction: float = 0.8) -> torch.Tensor:
    """A random `fraction`-long stretch of each window (the models take any length)."""
    n = x.shape[-1]
    keep = int(n * fraction)
    starts = torch.randint(0, n - keep + 1, (x.shape[0],), generator=g)
    return torch.stack([x[i, :, s:s + keep] for i, s in enumerate(starts.tolist())])


def lead_dropout(x: torch.Tensor, g: torch.Generator, fs: int, p: float = 0.1) -> torch.Tensor:
    """Zero whole leads (a detached electrode), never all twelve."""
    keep = (torch.rand((x.shape[0], x.shape[1], 1), generator=g) >= p).to(x.device)
    keep[keep.sum(dim=1, keepdim=True).squeeze(1).squeeze(-1) == 0] = True
    return x * keep


AUGMENTATIONS = {
    "scale": amplitude_scale,
    "noise": gaussian_noise,
    "wander": baseline_wander,
    "crop": random_crop,
    "lead_dropout": lead_dropout,
}


def apply_augmentations(x: torch.Tensor, names: tuple[str, ...], g: torch.Generator, fs: int) -> torch.Tensor:
    for name in names:
        x = AUGMENTATIONS[name](x, g, fs)
    return x
