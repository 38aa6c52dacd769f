"""Saliency points where the evidence is: a model that looks only at one stretch of one lead gets its saliency there."""

import numpy as np
import torch
from torch import nn

from pocketecg.explain import grad_cam, record_saliency


class LooksAtOneStretch(nn.Module):
    """Class 0's logit is the energy of lead II between samples 300 and 400; class 1 ignores the input."""

    def forward(self, x):
        focus = (x[:, 1, 300:400] ** 2).sum(dim=1)
        return torch.stack([focus, torch.zeros_like(focus)], dim=1)


def test_gradient_saliency_is_where_the_model_looks():
    x = np.random.default_rng(0).standard_normal((2, 12, 1000)).astype(np.float32)
    cam = grad_cam(LooksAtOneStretch(), x, 0)
    assert cam.shape == (2, 1000) and cam.max() == 1.0
    inside, outside = cam[:, 300:400], np.concatenate([cam[:, :300], cam[:, 400:]], axis=1)
    assert inside.mean() > 0.1 and outside.max() == 0.0
    # a class that ignores the input has no saliency at all (and no division by zero)
    assert np.array_equal(grad_cam(LooksAtOneStretch(), x, 1), np.zeros((2, 1000), np.float32))


def test_record_saliency_lays_windows_back_at_their_starts():
    x = np.random.default_rng(1).standard_normal((2, 12, 1000)).astype(np.float32)
    saliency = record_saliency(LooksAtOneStretch(), x, [0, 500], 1500, 0)
    assert saliency.shape == (1500,)
    hot = np.flatnonzero(saliency > 0)
    assert hot.min() >= 300 and hot.max() < 900  # 300-400 of window 0 and 800-900 of window 1
    assert saliency[300:400].mean() > 0 and saliency[800:900].mean() > 0


def test_grad_cam_of_the_shipped_model_is_not_flat():
    """For the class the shipped model rates highest on a record, Grad-CAM marks some samples and not others."""
    import ecg_files as F
    from pocketecg.predict import Predictor
    from pocketecg.preprocess import preprocess_signal, to_windows

    predictor = Predictor.shipped()
    windows, _ = to_windows(preprocess_signal(F.signal("LBBB"), 500.0, predictor.settings), predictor.settings)
    top = int(np.argmax(predictor.probabilities(windows)[0]))
    cam = grad_cam(predictor.torch_model, windows, top)
    assert np.isfinite(cam).all() and cam.max() == 1.0 and cam.std() > 0.05
