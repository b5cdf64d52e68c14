"""Loads model files written by `mat export --format pytorch` into the PyTorch reference models, strictly, and
prints their eval-mode logits for a deterministic input, one JSON object (line) per file:

    /usr/bin/python3 scripts/reference/check_pytorch_export.py <file.safetensors>... [--input-seed S] [--batch N]

    {"loader": "safetensors.torch" | "reference reader", "metadata": {...},
     "numBatchesTracked": {"<bn>.num_batches_tracked": ["torch.int64", 240], ...},
     "inputShape": [N, C, H, W], "logits": [...]}

The architecture, classes, input shape and WideResNet size come from the file's metadata. The file is read with
`safetensors.torch.load_file` when the safetensors package is installed, and otherwise with the reader below,
which follows the safetensors specification (8-byte little-endian header length, JSON header, raw little-endian
data at the header's offsets). `load_state_dict(strict=True)` then fails, with PyTorch's own message, on any
missing or unexpected key or wrong shape; a missing num_batches_tracked, which strict loading tolerates in a
state_dict without version information, is reported too. The input is make_model_fixture.py's reference_input(seed, n): NHWC
pixels in [0, 1) from hash_uniform, transposed to NCHW (the TypeScript twin is
test/core/models/reference-weights.ts referenceInput), with no normalisation, as MAT's models take them.
"""

import argparse
import json
import struct

import numpy as np
import torch

from make_model_fixture import reference_input
from torch_models import FmnistCnn, PreActResNet18, ResNet18, WideResNet

DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64}


def read_safetensors_reference(path):
    """A minimal safetensors reader (no safetensors package needed)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
    return tensors, metadata


def read_file(path):
    try:
        from safetensors import safe_open
        from safetensors.torch import load_file
    except ImportError:
        tensors, metadata = read_safetensors_reference(path)
        return tensors, metadata, "reference reader"
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
    return load_file(path), metadata, "safetensors.torch"


def build(metadata):
    arch = metadata["arch"]
    classes = int(metadata.get("numClasses", "10"))
    h, w, c = json.loads(metadata["inputShape"])
    if arch == "fmnist-cnn":
        return FmnistCnn(classes, c, h, w), (h, w, c)
    if arch == "preact-resnet18":
        return PreActResNet18(classes, c), (h, w, c)
    if arch == "resnet18":
        return ResNet18(classes, c), (h, w, c)
    if arch == "wide-resnet":
        depth, widen = int(metadata.get("depth", "34")), int(metadata.get("widen", "10"))
        return WideResNet(depth, classes, widen, c), (h, w, c)
    raise SystemExit(f"unknown arch {arch!r} in the file's metadata")


def check(path, input_seed, batch):
    tensors, metadata, loader = read_file(path)
    model, (h, w, c) = build(metadata)
    model.load_state_dict(tensors, strict=True)
    # strict=True lets a batch norm's num_batches_tracked be absent when the state_dict carries no version
    # (as a safetensors file never does: PyTorch then treats it as pre-1.0 and sets it to 0), so check that too.
    absent = [k for k in model.state_dict() if k not in tensors]
    if absent:
        raise SystemExit(f"{path}: missing {', '.join(absent)}")
    model.eval()
    x = reference_input(input_seed, batch, h, w, c)
    with torch.no_grad():
        logits = model(x)
    # The dtype as stored in the file, the value as loaded into the model.
    counters = {
        k: [str(tensors[k].dtype), int(v)]
        for k, v in model.state_dict().items()
        if k.endswith("num_batches_tracked")
    }
    return {
        "file": path,
        "loader": loader,
        "metadata": metadata,
        "numBatchesTracked": counters,
        "inputShape": list(x.shape),
        "logits": logits.flatten().tolist(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--input-seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.files:
        print(json.dumps(check(path, args.input_seed, args.batch)), flush=True)


if __name__ == "__main__":
    main()
