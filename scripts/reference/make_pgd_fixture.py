"""Writes test/fixtures/attacks/torch-pgd.json: the end point of PyTorch PGD-10 (l_inf) on fmnist-cnn, which
test/core/attacks/torch-pgd.test.ts requires every backend (cpu, wasm, native) to reproduce bit for bit. Tests
never run Python; rerun this only when the attack or the reference model changes:

    /usr/bin/python3 scripts/reference/make_pgd_fixture.py

The model is fmnist-cnn with make_model_fixture.py's deterministic weights (seed 11), its last layer scaled by
LOGIT_SCALE so the model is confident; the images are the first BATCH Fashion-MNIST test images (Debian's
package, /usr/share/datasets/fashion-mnist) labelled with the model's own predictions. A confident model has
input gradients far below float32's epsilon (1.19e-7) on many pixels, which is where an inexact sign() shows:
the fixture also records how many gradient entries were that small and how many pixels of the end point move
if sign() returns 0 below epsilon (what tfjs-backend-wasm's built-in Sign did), so the test can check that it
still exercises that case.
"""

import base64
import gzip
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from make_model_fixture import fill_reference_weights
from torch_models import FmnistCnn

DATA = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "attacks", "torch-pgd.json")
WEIGHT_SEED = 11
LOGIT_SCALE = 10.0
BATCH = 32
EPS = 0.1
STEP_SIZE = 0.025
STEPS = 10
FLT_EPSILON = float(np.finfo(np.float32).eps)


def load_images(n):
    raw = gzip.open(DATA).read()
    assert int.from_bytes(raw[0:4], "big") == 2051, "not an IDX image file"
    x = np.frombuffer(raw[16 : 16 + n * 784], np.uint8).astype(np.float32) / np.float32(255)
    return torch.from_numpy(x.reshape(n, 1, 28, 28))


def pgd(model, x, y, flush_tiny_signs):
    """PGD l_inf from x itself (no random start), on the summed cross-entropy, as MAT's PgdLinf does."""
    x_adv = x.clone()
    tiny = 0
    for _ in range(STEPS):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_adv)
        magnitude = grad.abs()
        tiny += int(((magnitude > 0) & (magnitude < FLT_EPSILON)).sum())
        direction = grad.sign()
        if flush_tiny_signs:
            direction = torch.where(magnitude < FLT_EPSILON, torch.zeros_like(direction), direction)
        with torch.no_grad():
            x_adv = torch.min(torch.max(x_adv + STEP_SIZE * direction, x - EPS), x + EPS).clamp(0, 1)
    return x_adv.detach(), tiny


def nhwc_base64(t):
    """float32 little-endian bytes in NHWC order (MAT's layout), base64."""
    data = np.ascontiguousarray(t.numpy().transpose(0, 2, 3, 1)).astype("<f4")
    return base64.b64encode(data.tobytes()).decode("ascii")


def main():
    torch.set_num_threads(1)
    model = FmnistCnn()
    fill_reference_weights(model, WEIGHT_SEED)
    with torch.no_grad():
        model.fc2.weight.mul_(LOGIT_SCALE)
        model.fc2.bias.mul_(LOGIT_SCALE)
    model.eval()
    x = load_images(BATCH)
    with torch.no_grad():
        y = model(x).argmax(1)
    x_adv, tiny = pgd(model, x, y, False)
    flushed, _ = pgd(model, x, y, True)
    moved = x_adv != flushed
    with torch.no_grad():
        robust = int((model(x_adv).argmax(1) == y).sum())
        robust_flushed = int((model(flushed).argmax(1) == y).sum())
    fixture = {
        "generatedBy": "scripts/reference/make_pgd_fixture.py",
        "torchVersion": torch.__version__,
        "weightSeed": WEIGHT_SEED,
        "logitScale": LOGIT_SCALE,
        "images": f"first {BATCH} of t10k-images-idx3-ubyte.gz",
        "batch": BATCH,
        "labels": y.tolist(),
        "eps": EPS,
        "stepSize": STEP_SIZE,
        "steps": STEPS,
        "xAdvNhwcFloat32Base64": nhwc_base64(x_adv),
        "tinyGradientEntries": tiny,
        "flushedSign": {
            "pixelsThatDiffer": int(moved.sum()),
            "imagesThatDiffer": int(moved.flatten(1).any(1).sum()),
            "robustImages": robust_flushed,
        },
        "robustImages": robust,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    summary = {k: v for k, v in fixture.items() if k not in ("xAdvNhwcFloat32Base64", "labels")}
    print(f"wrote {os.path.normpath(OUT)}: {json.dumps(summary)}")


if __name__ == "__main__":
    main()
