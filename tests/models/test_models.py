import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pocketecg.cli import app
from pocketecg.export import export_onnx, max_abs_difference
from pocketecg.models import create_model, list_models
from pocketecg.models.profile import count_macs, count_params

ALL = ["resnet1d18", "resnet1d34", "seresnet18", "seresnet34", "lite", "alexnet1d", "squeezenet1d"]


def test_registry_lists_every_model():
    assert list_models() == ALL
    with pytest.raises(ValueError, match="unknown model"):
        create_model("vgg", 6)


@pytest.mark.parametrize("name", ALL)
def test_output_shape_for_any_batch_and_length(name):
    model = create_model(name, num_classes=6).eval()
    with torch.no_grad():
        for batch, length in [(1, 1000), (3, 2500), (2, 5000), (1, 7500)]:
            assert model(torch.randn(batch, 12, length)).shape == (batch, 6)


@pytest.mark.parametrize("name", ALL)
def test_eval_mode_is_deterministic(name):
    model = create_model(name, num_classes=9).eval()
    x = torch.randn(2, 12, 2500)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", ALL)
def test_backward_pass_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=6).train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(torch.randn(4, 12, 2500)), torch.ones(4, 6))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_parameter_bounds_and_cost_ratio():
    lite, ref = create_model("lite", 6), create_model("resnet1d18", 6)
    assert count_params(lite) <= 1_000_000
    assert abs(count_params(ref) - 8.74e6) / 8.74e6 < 0.05
    assert count_params(ref) / count_params(lite) >= 8
    assert count_macs(ref, 2500) / count_macs(lite, 2500) >= 5


@pytest.mark.parametrize("name,se", [("resnet1d34", False), ("seresnet34", True)])
def test_34_layer_rows_have_basicblock_stages_3_4_6_3(name, se):
    """The reference work's ResNet34 / SE-ResNet34: the 18-layer design with 3-4-6-3 blocks per stage."""
    model, shallow = create_model(name, 6), create_model(name.replace("34", "18"), 6)
    assert [len(stage) for stage in model.stages] == [3, 4, 6, 3]
    assert all(isinstance(block.se, torch.nn.Identity) != se for stage in model.stages for block in stage)
    # 16 BasicBlocks x 2 convolutions + stem = 33 weighted layers before the head (34 with it)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] > 1
             and not any(m is b.fc1 or m is b.fc2 for b in model.modules() if hasattr(b, "fc1"))]
    assert len(convs) == 33
    assert 1.8 < count_params(model) / count_params(shallow) < 2.0


@pytest.mark.parametrize("name", ["lite", "resnet1d18"])
def test_stochastic_depth_drops_residual_branches_in_training_only(name):
    torch.manual_seed(0)
    plain = create_model(name, num_classes=6)
    deep = create_model(name, num_classes=6, drop_path=0.5)
    assert plain.state_dict().keys() == deep.state_dict().keys()  # no new weights: old checkpoints load
    deep.load_state_dict(plain.state_dict())
    rates = [b.drop_path.p for stage in deep.stages for b in stage if hasattr(b.drop_path, "p")]
    assert rates == sorted(rates) and rates[-1] == 0.5 and len(rates) == sum(len(s) for s in deep.stages) - 1
    x = torch.randn(4, 12, 1000)
    plain.eval(), deep.eval()
    assert torch.equal(plain(x), deep(x))
    from pocketecg.models.layers import DropPath

    drop = DropPath(0.5).train()
    kept = drop(torch.ones(400, 3, 5))
    per_sample = kept[:, 0, 0]
    assert set(per_sample.tolist()) == {0.0, 2.0} and 150 < (per_sample == 0).sum() < 250  # whole samples, rescaled
    assert torch.equal(kept, per_sample[:, None, None].expand_as(kept))
    assert torch.equal(drop.eval()(x), x)


def test_squeezenet_logits_can_be_negative():
    """The reference SqueezeNet ended in ReLU, so sigmoid(logit) >= 0.5 always; ours is real logits."""
    torch.manual_seed(0)
    model = create_model("squeezenet1d", 6).eval()
    with torch.no_grad():
        model.classifier[-1].bias.fill_(-5.0)
        assert (model(torch.randn(2, 12, 2500)) < 0).all()


@pytest.mark.parametrize("name", ALL)
def test_onnx_export_dynamic_batch_and_length_parity(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, num_classes=6).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    rng = np.random.default_rng(0)
    for batch, length in [(1, 1000), (3, 7500)]:
        x = rng.standard_normal((batch, 12, length)).astype(np.float32)
        with torch.no_grad():  # untrained resnet1d34 gives logits above 100: float32 error scales with them
            scale = float(model(torch.from_numpy(x)).abs().max())
        assert max_abs_difference(model, path, x) < max(1e-4, 2e-6 * scale)


def test_models_cli_json():
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {m["name"]: m for m in report["models"]}
    assert set(by_name) == set(ALL) and by_name["lite"]["samples"] == 2500
    assert by_name["resnet1d18"]["size_fp32_bytes"] > 30e6 and by_name["lite"]["macs"] > 0
