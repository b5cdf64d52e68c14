"""Loads a file written by MAT's exportWeightsForPyTorch into the PyTorch reference model and prints its logits.

    /usr/bin/python3 scripts/reference/check_pytorch_export.py <file.safetensors> <arch> [depth widen]

Reads the safetensors file with struct + json + numpy only (no safetensors package needed), loads it with
load_state_dict(strict=False) and reports keys that are missing or unexpected besides num_batches_tracked.
The input is the same deterministic NHWC batch as make_model_fixture.py's reference_input(seed=1, n=2).
"""

import json
import struct
import sys

import numpy as np
import torch

from make_model_fixture import reference_input
from torch_models import FmnistCnn, PreActResNet18, ResNet18, WideResNet

DTYPES = {"F32": np.float32, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, metadata


def build(arch, args):
    if arch == "fmnist-cnn":
        return FmnistCnn(), (28, 28, 1)
    if arch == "preact-resnet18":
        return PreActResNet18(), (32, 32, 3)
    if arch == "resnet18":
        return ResNet18(), (32, 32, 3)
    depth, widen = (int(args[0]), int(args[1])) if args else (34, 10)
    return WideResNet(depth, 10, widen), (32, 32, 3)


def main():
    path, arch = sys.argv[1], sys.argv[2]
    model, (h, w, c) = build(arch, sys.argv[3:])
    tensors, metadata = read_safetensors(path)
    result = model.load_state_dict(tensors, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    print(json.dumps({"metadata": metadata, "missing": missing, "unexpected": result.unexpected_keys}))
    model.eval()
    with torch.no_grad():
        print(json.dumps(model(reference_input(1, 2, h, w, c)).flatten().tolist()))


if __name__ == "__main__":
    main()
