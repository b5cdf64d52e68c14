"""Writes test/fixtures/attacks/apgd-reference.json: trajectories' end points of the authors' APGD
(fra31/auto-attack, autoattack/autopgd_base.py, `APGDAttack.attack_single_run`) on a tiny MLP, which
test/core/attacks/apgd-reference.test.ts compares MAT's apgdRun against. Tests never run Python; rerun this
only when the APGD algorithm changes:

    git clone https://github.com/fra31/auto-attack /tmp/auto-attack   # any checkout with autopgd_base.py
    AUTOATTACK_DIR=/tmp/auto-attack /usr/bin/python3 scripts/reference/make_apgd_fixture.py

The reference code is imported, not copied. Its random start is the only source of randomness: torch.rand /
torch.randn are replaced by functions returning the start noise stored in the fixture, so MAT can replay the
same start, and its l1 sparsity count ignores float32 rounding noise (see below). Everything else (step sizes,
momentum, checkpoints, l1 sparsity adaptation) is the reference's.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.environ.get("AUTOATTACK_DIR", "/tmp/auto-attack"))
import autoattack.autopgd_base as autopgd_base  # noqa: E402
from autoattack.autopgd_base import APGDAttack, APGDAttack_targeted  # noqa: E402

# The one change to the reference: its l1 sparsity count L0(x_best - x) also counts float32 rounding noise
# (x + delta_u + delta_p != x by one ulp where the projection zeroed a coordinate), which MAT's exact
# projection does not produce. Counting |d| > 1e-6 instead removes only that noise.
autopgd_base.L0_norm = lambda d: (d.abs() > 1e-6).view(d.shape[0], -1).sum(-1)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "attacks", "apgd-reference.json")
H, W, C, HIDDEN, CLASSES, BATCH = 4, 4, 1, 12, 5, 8
DIM = H * W * C


class TinyMlp(torch.nn.Module):
    """logits = relu(flatten(x) @ W1 + b1) @ W2 + b2, the layout of MAT's test helper TinyMlp (C = 1, so the
    NCHW and NHWC flattens agree)."""

    def __init__(self, w1, b1, w2, b2):
        super().__init__()
        self.w1, self.b1, self.w2, self.b2 = (torch.tensor(a, dtype=torch.float32) for a in (w1, b1, w2, b2))

    def forward(self, x):
        h = torch.relu(x.reshape(x.shape[0], -1) @ self.w1 + self.b1)
        return h @ self.w2 + self.b2


def replay(noise):
    """torch.rand / torch.randn stand-ins that return the stored start noise (rand: mapped back from [-1, 1))."""
    t = torch.tensor(noise, dtype=torch.float32).reshape(BATCH, C, H, W)
    return (lambda *a, **k: (t + 1) / 2), (lambda *a, **k: t.clone())


def main():
    rng = np.random.default_rng(20200301)
    w1 = rng.normal(0, np.sqrt(2 / DIM), (DIM, HIDDEN)).astype(np.float32)
    b1 = rng.normal(0, 0.1, HIDDEN).astype(np.float32)
    w2 = rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, CLASSES)).astype(np.float32)
    b2 = rng.normal(0, 0.1, CLASSES).astype(np.float32)
    model = TinyMlp(w1, b1, w2, b2)
    x = rng.uniform(0, 1, (BATCH, DIM)).astype(np.float32)
    xt = torch.tensor(x).reshape(BATCH, C, H, W)
    with torch.no_grad():
        logits = model(xt)
    y = logits.argmax(1)  # every sample starts correctly classified
    second = logits.sort(dim=1)[1][:, -2]

    cases = [
        {"norm": "linf", "loss": "ce", "eps": 0.08, "steps": 20},
        {"norm": "linf", "loss": "dlr", "eps": 0.08, "steps": 20},
        {"norm": "l2", "loss": "ce", "eps": 0.3, "steps": 20},
        {"norm": "linf", "loss": "dlr-targeted", "eps": 0.08, "steps": 20},
        {"norm": "l1", "loss": "ce", "eps": 0.6, "steps": 25},
    ]
    out = {
        "source": "fra31/auto-attack autopgd_base.py APGDAttack.attack_single_run",
        "shape": [H, W, C],
        "classes": CLASSES,
        "hidden": HIDDEN,
        "weights": {"w1": w1.ravel().tolist(), "b1": b1.tolist(), "w2": w2.ravel().tolist(), "b2": b2.tolist()},
        "x": x.ravel().tolist(),
        "y": y.tolist(),
        "targets": second.tolist(),
        "cases": [],
    }
    for i, case in enumerate(cases):
        noise = (
            rng.uniform(-1, 1, (BATCH, DIM)) if case["norm"] == "linf" else rng.normal(0, 1, (BATCH, DIM))
        ).astype(np.float32)
        rand, randn = replay(noise)
        saved = torch.rand, torch.randn
        torch.rand, torch.randn = rand, randn
        try:
            norm = {"linf": "Linf", "l2": "L2", "l1": "L1"}[case["norm"]]
            if case["loss"] == "dlr-targeted":
                attack = APGDAttack_targeted(model, n_iter=case["steps"], norm=norm, eps=case["eps"], device="cpu")
                attack.y_target = second
            else:
                attack = APGDAttack(
                    model, n_iter=case["steps"], norm=norm, eps=case["eps"], loss=case["loss"], device="cpu"
                )
            attack.init_hyperparam(xt)
            x_best, acc, loss_best, x_best_adv = attack.attack_single_run(xt, y)
        finally:
            torch.rand, torch.randn = saved
        out["cases"].append(
            {
                **case,
                "noise": noise.ravel().tolist(),
                "xBest": x_best.detach().numpy().ravel().tolist(),
                "xBestAdv": x_best_adv.detach().numpy().ravel().tolist(),
                "lossBest": loss_best.detach().numpy().tolist(),
                "fooled": (1 - acc.int()).tolist(),
            }
        )
        print(case, "fooled", int((1 - acc.int()).sum()), "of", BATCH)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
