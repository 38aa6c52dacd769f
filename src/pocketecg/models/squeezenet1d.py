"""SqueezeNet-1D: SqueezeNet 1.1 (Iandola et al.) with fire modules made 1-D.

Keeps: the 1.1 layout (3-wide stem conv with stride 2 and 64 channels, eight fire modules with the
original squeeze/expand widths 16/64 ... 64/256, three 3/2 max pools, dropout, a 1x1 conv classifier
and global average pooling instead of fully connected layers).
Changes: 1-D (expand 3x3 becomes a 3-tap conv); **no ReLU after the classifier conv**: the reference
implementation kept the original's final ReLU and fed it to BCEWithLogits, so its logits could never be
negative and every class sat at p >= 0.5 (mean F1 0.36). Ours ends in real logits.
"""

from __future__ import annotations

import torch
from torch import nn

from pocketecg.models import register_model
from pocketecg.models.layers import ExportableMaxPool1d


class Fire1d(nn.Module):
    def __init__(self, in_ch: int, squeeze: int, expand1: int, expand3: int):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv1d(in_ch, squeeze, 1), nn.ReLU(inplace=True))
        self.expand1 = nn.Sequential(nn.Conv1d(squeeze, expand1, 1), nn.ReLU(inplace=True))
        self.expand3 = nn.Sequential(nn.Conv1d(squeeze, expand3, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], dim=1)


class SqueezeNet1d(nn.Module):
    def __init__(self, num_classes: int, in_leads: int = 12, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(in_leads, 64, 3, 2), nn.ReLU(inplace=True), ExportableMaxPool1d(3, 2),
            Fire1d(64, 16, 64, 64), Fire1d(128, 16, 64, 64), ExportableMaxPool1d(3, 2),
            Fire1d(128, 32, 128, 128), Fire1d(256, 32, 128, 128), ExportableMaxPool1d(3, 2),
            Fire1d(256, 48, 192, 192), Fire1d(384, 48, 192, 192),
            Fire1d(384, 64, 256, 256), Fire1d(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Conv1d(512, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).mean(dim=-1)


@register_model
def squeezenet1d(num_classes: int, in_leads: int = 12, **kwargs) -> SqueezeNet1d:
    return SqueezeNet1d(num_classes, in_leads, **kwargs)
