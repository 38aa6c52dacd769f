"""Layers shared by several models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ExportableMaxPool1d(nn.Module):
    """Max pooling along time, written as a 2-D pool over an unsqueezed axis (identical output).

    `nn.MaxPool1d` made torch.export specialise the input length; this form keeps it dynamic, so
    exported models accept any record length.
    """

    def __init__(self, kernel_size: int, stride: int, padding: int = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(x.unsqueeze(2), (1, self.kernel_size), (1, self.stride), (0, self.padding))
        return y.squeeze(2)


class AvgMaxPool(nn.Module):
    """Global average and global max over time, concatenated: (B, C, T) -> (B, 2C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): global average -> bottleneck MLP -> sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Conv1d(channels, hidden, 1)
        self.fc2 = nn.Conv1d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=-1, keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016) on a residual branch: in training each sample's branch is dropped
    with probability `p` and the kept ones are scaled by 1 / (1 - p); at inference it is the identity."""

    def __init__(self, p: float):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
