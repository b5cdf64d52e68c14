"""Writes test/fixtures/models/torch-reference.json: PyTorch parameter counts, state_dict names/shapes and logits
that test/core/models/*.test.ts compare MAT's TypeScript models against. Tests never run Python; rerun this only
when a reference model changes:

    /usr/bin/python3 scripts/reference/make_model_fixture.py

Weights and inputs are not stored: both sides regenerate them from a seed with `hash_uniform` (a counter-based
murmur3 finaliser, reimplemented in test/core/models/reference-weights.ts), so the fixture stays small and the
check covers MAT's PyTorch-layout import (test side) as well as its forward pass.
"""

import json
import os

import numpy as np
import torch

from torch_models import FmnistCnn, PreActResNet18, ResNet18, WideResNet

MASK = 0xFFFFFFFF
CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.2471, 0.2435, 0.2616]


def fmix32(h):
    h = h & MASK
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    h ^= h >> 16
    return h


def hash_uniform(seed, stream, count):
    """u[i] in [0, 1) for i < count; key = i*0x9E3779B1 + stream*0x85EBCA77 + seed*0xC2B2AE3D (mod 2^32)."""
    i = np.arange(count, dtype=np.uint64)
    key = (i * 0x9E3779B1 + stream * 0x85EBCA77 + seed * 0xC2B2AE3D) & MASK
    return fmix32(key).astype(np.float64) / 4294967296.0


def reference_value(name, shape, u):
    """Deterministic, well-scaled values for one state_dict entry (same rule in reference-weights.ts)."""
    if name.endswith("running_mean"):
        return 0.2 * (2 * u - 1)
    if name.endswith("running_var"):
        return 0.5 + u
    if name.endswith("weight") and len(shape) == 1:  # batch-norm scale
        return 0.8 + 0.4 * u
    if name.endswith("bias"):
        return 0.1 * (2 * u - 1)
    fan_in = int(np.prod(shape[1:]))
    return np.sqrt(6.0 / fan_in) * (2 * u - 1)  # Kaiming-uniform scale keeps activations O(1)


def weight_entries(model):
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def fill_reference_weights(model, seed):
    with torch.no_grad():
        for stream, (name, tensor) in enumerate(weight_entries(model)):
            u = hash_uniform(seed, stream, tensor.numel())
            values = reference_value(name, list(tensor.shape), u).reshape(tuple(tensor.shape))
            tensor.copy_(torch.from_numpy(values.astype(np.float32)))


def reference_input(seed, n, h, w, c):
    """NHWC pixels in [0, 1) generated in NHWC order, returned as an NCHW torch tensor."""
    x = hash_uniform(seed, 0, n * h * w * c).astype(np.float32).reshape(n, h, w, c)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def param_count(model):
    return int(sum(p.numel() for p in model.parameters()))


def state_dict_shapes(model):
    return [[k, list(v.shape)] for k, v in weight_entries(model)]


def rounded(t):
    return [float(f"{v:.7g}") for v in t.detach().double().flatten().tolist()]


def numerics_case(arch, model, options, weight_seed, input_seed, input_shape, normalize, tracked_bn):
    fill_reference_weights(model, weight_seed)
    h, w, c = input_shape
    x = reference_input(input_seed, 2, h, w, c)
    xn = x
    if normalize is not None:
        mean = torch.tensor(normalize["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(normalize["std"]).view(1, -1, 1, 1)
        xn = (x - mean) / std
    case = {
        "arch": arch,
        "options": options,
        "weightSeed": weight_seed,
        "inputSeed": input_seed,
        "batch": 2,
        "inputShape": input_shape,
        "normalize": normalize,
    }
    model.eval()
    with torch.no_grad():
        case["evalLogits"] = rounded(model(xn))
    if tracked_bn:
        model.train()
        with torch.no_grad():
            case["trainLogits"] = rounded(model(xn))
        state = model.state_dict()
        case["runningStatsAfterTrain"] = {
            name: rounded(state[name]) for bn in tracked_bn for name in (bn + ".running_mean", bn + ".running_var")
        }
    return case


def main():
    torch.set_num_threads(1)
    out_path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "models", "torch-reference.json")
    fixture = {
        "generatedBy": "scripts/reference/make_model_fixture.py",
        "torchVersion": torch.__version__,
        "paramCounts": {
            "fmnist-cnn": param_count(FmnistCnn()),
            "preact-resnet18": param_count(PreActResNet18()),
            "resnet18": param_count(ResNet18()),
            "resnet18-100": param_count(ResNet18(num_classes=100)),
            "wide-resnet-34-10": param_count(WideResNet(34, 10, 10)),
            "wide-resnet-28-10": param_count(WideResNet(28, 10, 10)),
            "wide-resnet-16-2": param_count(WideResNet(16, 10, 2)),
        },
        "stateDicts": {
            "fmnist-cnn": state_dict_shapes(FmnistCnn()),
            "preact-resnet18": state_dict_shapes(PreActResNet18()),
            "resnet18": state_dict_shapes(ResNet18()),
            "wide-resnet-16-2": state_dict_shapes(WideResNet(16, 10, 2)),
        },
        "numerics": [
            numerics_case("fmnist-cnn", FmnistCnn(), {}, 11, 12, [28, 28, 1], None, []),
            numerics_case(
                "preact-resnet18",
                PreActResNet18(),
                {},
                21,
                22,
                [32, 32, 3],
                {"mean": CIFAR_MEAN, "std": CIFAR_STD},
                ["layer1.0.bn1", "layer4.1.bn2", "bn"],
            ),
            # Eval mode only: train-mode batch norm is covered by the other two residual nets, and this keeps the
            # TypeScript test fast.
            numerics_case("resnet18", ResNet18(), {}, 31, 32, [32, 32, 3], None, []),
            numerics_case(
                "wide-resnet",
                WideResNet(16, 10, 2),
                {"depth": 16, "widen": 2},
                41,
                42,
                [32, 32, 3],
                None,
                ["block1.layer.0.bn1", "block2.layer.0.bn1", "bn1"],
            ),
        ],
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(out_path)} ({os.path.getsize(out_path)} bytes)")
    print(json.dumps(fixture["paramCounts"], indent=1))


if __name__ == "__main__":
    main()
