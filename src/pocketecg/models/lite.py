"""`lite`: the product's model, a modified ResNet1D-18.

Same depth as the reference (stem + four stages of two residual blocks + avg/max pooling + linear
head), but each k-wide convolution is depthwise-separable (a depthwise k-tap filter per channel, then
a 1x1 mix), which divides a block's parameters and multiply-accumulates by about k. What each choice
(widths, kernel, squeeze-excitation, stem stride) bought is measured in docs/models.md.
"""

from __future__ import annotations

from torch import nn

from pocketecg.models import register_model
from pocketecg.models.resnet1d import ResNet1d


class SeparableConv1d(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.Conv1d(in_ch, in_ch, kernel_size, stride, kernel_size // 2, groups=in_ch, bias=False),
            nn.Conv1d(in_ch, out_ch, 1, bias=False),
        )


@register_model
def lite(num_classes: int, in_leads: int = 12, widths=(64, 128, 192, 256), blocks=(2, 2, 2, 2), kernel_size: int = 9,
         stem_kernel: int = 15, stem_stride: int = 4, dropout: float = 0.2, se_reduction: int | None = 8,
         drop_path: float = 0.0) -> ResNet1d:
    """The shipped model: depthwise-separable ResNet1D-18 with squeeze-excitation."""
    return ResNet1d(num_classes, in_leads, widths, blocks, kernel_size, stem_kernel, stem_stride, dropout,
                    se_reduction, conv=SeparableConv1d, drop_path=drop_path)
