"""`lite`: the product's model, a modified ResNet1D-18.

Same depth as the reference (stem + four stages of two residual blocks + avg/max pooling + linear
head), but each k-wide convolution is depthwise-separable (a depthwise k-tap filter per channel, then
a 1x1 mix), which divides a block's parameters and multiply-accumulates by about k. What each choice
(widths, kernel, squeeze-excitation, stem stride) bought is measured in docs/models.md.
"""

from __future__ import annotations

import torch
from torch import nn

from pocketecg.models import register_model
from pocketecg.models.layers import AvgMaxPool, MaxPool1d, SqueezeExcite


class SeparableConv1d(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.Conv1d(in_ch, in_ch, kernel_size, stride, kernel_size // 2, groups=in_ch, bias=False),
            nn.Conv1d(in_ch, out_ch, 1, bias=False),
        )


class LiteBlock1d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, kernel_size: int, dropout: float,
                 se_reduction: int | None):
        super().__init__()
        self.conv1 = SeparableConv1d(in_ch, out_ch, kernel_size, stride)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = SeparableConv1d(out_ch, out_ch, kernel_size)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.se = SqueezeExcite(out_ch, se_reduction) if se_reduction else nn.Identity()
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm1d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(self.relu(self.bn1(self.conv1(x))))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + self.shortcut(x))


class LiteResNet1d(nn.Module):
    def __init__(self, num_classes: int, in_leads: int = 12, widths=(64, 128, 192, 256), blocks=(2, 2, 2, 2),
                 kernel_size: int = 9, stem_kernel: int = 15, stem_stride: int = 4, dropout: float = 0.2,
                 se_reduction: int | None = 8):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv1d(in_leads, widths[0], stem_kernel, stem_stride, stem_kernel // 2, bias=False),
            nn.BatchNorm1d(widths[0]), nn.ReLU(inplace=True), MaxPool1d(3, 2, 1))
        stages, in_ch = [], widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks)):
            stages.append(nn.Sequential(*[
                LiteBlock1d(in_ch if j == 0 else width, width, 2 if (i > 0 and j == 0) else 1, kernel_size,
                            dropout, se_reduction) for j in range(n)]))
            in_ch = width
        self.stages = nn.Sequential(*stages)
        self.pool = AvgMaxPool()
        self.head = nn.Linear(2 * in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv1d) and m.groups == 1:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stages(self.stem(x))))


@register_model
def lite(num_classes: int, in_leads: int = 12, **kwargs) -> LiteResNet1d:
    """The shipped model: depthwise-separable ResNet1D-18 with squeeze-excitation."""
    return LiteResNet1d(num_classes, in_leads, **kwargs)
