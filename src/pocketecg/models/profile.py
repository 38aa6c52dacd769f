"""Size and cost of a model: parameters, multiply-accumulates, fp32 bytes, CPU latency."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class ModelProfile:
    name: str
    params: int
    macs: int  # for one input of `samples` samples
    size_fp32_bytes: int
    samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, samples: int, in_leads: int = 12) -> int:
    """Multiply-accumulates of one forward pass (torch's FLOP counter / 2: convs and matmuls)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, in_leads, samples))
    return counter.get_total_flops() // 2


def profile(name: str, model: nn.Module, samples: int) -> ModelProfile:
    params = count_params(model)
    buffers = sum(b.numel() * b.element_size() for b in model.buffers() if b.is_floating_point())
    return ModelProfile(name, params, count_macs(model, samples), params * 4 + buffers, samples)


def latency_ms(fn, warmup: int = 5, runs: int = 50) -> float:
    """Median wall time of `fn()` in milliseconds after warm-up."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)
