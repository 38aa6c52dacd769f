"""Model registry: every model is a plain `nn.Module` built by name (in the manner of timm's create_model).

    model = create_model("lite", num_classes=6)

Models take (batch, 12 leads, samples) float32 and return logits (batch, num_classes); any batch size
and any length of at least 2 s export to ONNX with dynamic batch and length.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return list(_REGISTRY)


def create_model(name: str, num_classes: int, in_leads: int = 12, **kwargs) -> nn.Module:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name](num_classes=num_classes, in_leads=in_leads, **kwargs)


# Importing the modules registers their builders, in the order `pocketecg models` lists them
# (the reference first: `seresnet18` and `lite` are built from its blocks).
from pocketecg.models import resnet1d, seresnet1d, lite, alexnet1d, squeezenet1d  # noqa: E402,F401
