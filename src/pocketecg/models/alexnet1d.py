"""AlexNet-1D: Krizhevsky et al.'s AlexNet with every 2-D operation made 1-D.

Keeps: five convolutions with AlexNet's channels (64-192-384-256-256), kernels (11, 5, 3, 3, 3) and
first stride 4; ReLU; three 3/2 max pools; a classifier of dropout + 4096 + dropout + 4096 + output.
Changes: 1-D; the 6x6 adaptive average pool before the classifier becomes global average + max pooling
(any length, dynamic in ONNX), so the first fully connected layer takes 512 inputs instead of 9,216.
"""

from __future__ import annotations

import torch
from torch import nn

from pocketecg.models import register_model
from pocketecg.models.layers import AvgMaxPool, ExportableMaxPool1d


class AlexNet1d(nn.Module):
    def __init__(self, num_classes: int, in_leads: int = 12, hidden: int = 4096, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(in_leads, 64, 11, 4, 5), nn.ReLU(inplace=True), ExportableMaxPool1d(3, 2),
            nn.Conv1d(64, 192, 5, 1, 2), nn.ReLU(inplace=True), ExportableMaxPool1d(3, 2),
            nn.Conv1d(192, 384, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv1d(384, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv1d(256, 256, 3, 1, 1), nn.ReLU(inplace=True), ExportableMaxPool1d(3, 2),
        )
        self.pool = AvgMaxPool()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(512, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


@register_model
def alexnet1d(num_classes: int, in_leads: int = 12, **kwargs) -> AlexNet1d:
    return AlexNet1d(num_classes, in_leads, **kwargs)
