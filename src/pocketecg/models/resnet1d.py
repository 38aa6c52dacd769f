"""ResNet1D-18: the reference design, kept faithful so it can serve as the yardstick, and the
building blocks the other residual models (`seresnet18`, `lite`) reuse.

Stem Conv1d(12->64, k=15, stride 2) + BN + ReLU + MaxPool(3, 2); four stages of two BasicBlocks with
64-128-256-512 channels and kernel 7, dropout 0.25 between a block's two convolutions, a 1x1 conv + BN
shortcut where the shape changes; global average and global max pooling concatenated; one linear head.
Factored like torchvision's resnet.py: a block class, a stage builder, a network, a builder per variant.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pocketecg.models import register_model
from pocketecg.models.layers import AvgMaxPool, DropPath, ExportableMaxPool1d, SqueezeExcite


def plain_conv(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1) -> nn.Module:
    return nn.Conv1d(in_ch, out_ch, kernel_size, stride, kernel_size // 2, bias=False)


ConvFactory = Callable[[int, int, int, int], nn.Module]


class BasicBlock1d(nn.Module):
    """conv-BN-ReLU-dropout-conv-BN (+ optional squeeze-excitation) + shortcut, then ReLU.

    `conv` builds the two k-wide convolutions: a plain Conv1d here, a depthwise-separable one in `lite`.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, kernel_size: int = 7, dropout: float = 0.25,
                 se_reduction: int | None = None, conv: ConvFactory = plain_conv, drop_path: float = 0.0):
        super().__init__()
        self.conv1 = conv(in_ch, out_ch, kernel_size, stride)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv(out_ch, out_ch, kernel_size, 1)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.se = SqueezeExcite(out_ch, se_reduction) if se_reduction else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm1d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(self.relu(self.bn1(self.conv1(x))))
        out = self.drop_path(self.se(self.bn2(self.conv2(out))))
        return self.relu(out + self.shortcut(x))


class ResNet1d(nn.Module):
    """Stem (conv + BN + ReLU + max pool) -> stages of BasicBlocks (stride 2 from the second stage on)
    -> global average and max pooling -> linear head. `drop_path` is stochastic depth's rate at the last
    block, rising linearly from 0 at the first (as in timm's ResNets); 0 leaves it out of the graph."""

    def __init__(self, num_classes: int, in_leads: int = 12, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2),
                 kernel_size: int = 7, stem_kernel: int = 15, stem_stride: int = 2, dropout: float = 0.25,
                 se_reduction: int | None = None, conv: ConvFactory = plain_conv, drop_path: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv1d(in_leads, widths[0], stem_kernel, stem_stride, stem_kernel // 2, bias=False),
            nn.BatchNorm1d(widths[0]), nn.ReLU(inplace=True), ExportableMaxPool1d(3, 2, 1))
        stages, in_ch, n_blocks = [], widths[0], sum(blocks)
        for i, (width, n) in enumerate(zip(widths, blocks)):
            first = sum(blocks[:i])
            layers = [BasicBlock1d(in_ch if j == 0 else width, width, 2 if (i > 0 and j == 0) else 1,
                                   kernel_size, dropout, se_reduction, conv,
                                   drop_path * (first + j) / max(n_blocks - 1, 1)) for j in range(n)]
            stages.append(nn.Sequential(*layers))
            in_ch = width
        self.stages = nn.Sequential(*stages)
        self.pool = AvgMaxPool()
        self.head = nn.Linear(2 * in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv1d) and m.groups == 1:  # depthwise filters keep PyTorch's default init
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stages(self.stem(x))))


@register_model
def resnet1d18(num_classes: int, in_leads: int = 12, **kwargs) -> ResNet1d:
    """The reference ResNet1D-18 (about 8.7 M parameters)."""
    return ResNet1d(num_classes, in_leads, **kwargs)


@register_model
def resnet1d34(num_classes: int, in_leads: int = 12, **kwargs) -> ResNet1d:
    """The reference work's ResNet34: the same BasicBlocks in stages of 3-4-6-3 (about 16 M parameters)."""
    kwargs.setdefault("blocks", (3, 4, 6, 3))
    return ResNet1d(num_classes, in_leads, **kwargs)
