"""Each augmentation does what its docstring says, within its bounds, and the same seed gives the same draw."""

import math

import pytest
import torch

from pocketecg.augment import AUGMENTATIONS, apply_augmentations, amplitude_scale, baseline_wander, gaussian_noise, \
    lead_dropout, random_crop

FS = 250


def batch(seed=0, b=64, n=2500):
    return torch.randn((b, 12, n), generator=torch.Generator().manual_seed(seed))


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_same_seed_same_draw_other_seed_other_draw(name):
    x = batch()
    a, b, c = (AUGMENTATIONS[name](x, gen(s), FS) for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, x) or name == "lead_dropout"  # each changes the batch (dropout may keep all leads)


def test_amplitude_scale_is_one_gain_per_lead_within_bounds():
    x = batch().abs() + 1.0  # positive, so the ratio is the gain
    gain = amplitude_scale(x, gen(), FS) / x
    per_lead = gain[..., :1]
    assert torch.allclose(gain, per_lead.expand_as(gain), atol=1e-5)  # constant along time
    assert per_lead.min() >= 0.8 - 1e-6 and per_lead.max() <= 1.25 + 1e-6 and per_lead.std() > 0.05


def test_gaussian_noise_has_the_stated_sigma():
    x = torch.zeros((64, 12, 2500))
    noise = gaussian_noise(x, gen(), FS)
    assert noise.mean().abs() < 0.005 and abs(noise.std().item() - 0.05) < 0.002


def test_baseline_wander_is_slow_and_bounded():
    x = torch.zeros((32, 12, 2500))
    w = baseline_wander(x, gen(), FS)
    assert w.abs().max() <= 0.3 + 1e-6 and w.abs().max() > 0.1
    spectrum = (torch.fft.rfft(w, dim=-1).abs() ** 2).mean(dim=(0, 1))  # power; leakage from the 10-s cut is small
    freqs = torch.fft.rfftfreq(2500, 1 / FS)
    assert spectrum[freqs > 1.0].sum() < 0.1 * spectrum[freqs <= 1.0].sum()  # the energy is below 1 Hz


def test_random_crop_keeps_a_contiguous_80_percent():
    x = torch.arange(1000, dtype=torch.float32).repeat(4, 12, 1)
    y = random_crop(x, gen(), FS)
    assert y.shape == (4, 12, 800)
    steps = y[:, :, 1:] - y[:, :, :-1]
    assert torch.all(steps == 1)  # contiguous
    starts = y[:, 0, 0]
    assert starts.min() >= 0 and starts.max() <= 200 and len(set(starts.tolist())) > 1


def test_lead_dropout_zeroes_whole_leads_never_all():
    x = batch().abs() + 1.0
    y = lead_dropout(x, gen(), FS, p=0.5)
    zero = (y == 0).all(dim=-1)
    kept = (y == x).all(dim=-1)
    assert torch.all(zero | kept)  # whole leads, nothing partial
    assert zero.any() and not zero.all(dim=1).any()
    assert abs(zero.float().mean().item() - 0.5) < 0.1
    all_dropped = lead_dropout(x[:2], gen(), FS, p=1.0)
    assert torch.equal(all_dropped, x[:2])  # "never all twelve": with p=1 the record is kept whole


def test_apply_augmentations_in_order_and_reproducibly():
    x = batch(b=8)
    names = ("scale", "noise", "wander", "crop", "lead_dropout")
    a, b = apply_augmentations(x, names, gen(5), FS), apply_augmentations(x, names, gen(5), FS)
    assert torch.equal(a, b) and a.shape == (8, 12, 2000)
    assert torch.equal(apply_augmentations(x, (), gen(5), FS), x)
    assert not math.isnan(a.sum().item())
