"""SE-ResNet-18 and -34 (1-D): the reference ResNet1D-18/34 with a squeeze-excitation gate in every block.

Keeps Hu et al.'s SE placement (on the residual branch, before the addition) and reduction 16.
"""

from __future__ import annotations

from pocketecg.models import register_model
from pocketecg.models.resnet1d import ResNet1d


@register_model
def seresnet18(num_classes: int, in_leads: int = 12, **kwargs) -> ResNet1d:
    kwargs.setdefault("se_reduction", 16)
    return ResNet1d(num_classes, in_leads, **kwargs)


@register_model
def seresnet34(num_classes: int, in_leads: int = 12, **kwargs) -> ResNet1d:
    """The reference work's SE-ResNet34: BasicBlock stages 3-4-6-3, each block with an SE gate."""
    kwargs.setdefault("se_reduction", 16)
    kwargs.setdefault("blocks", (3, 4, 6, 3))
    return ResNet1d(num_classes, in_leads, **kwargs)
