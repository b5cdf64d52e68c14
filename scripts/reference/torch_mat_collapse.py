"""2-peer MAT with the paper's loss on the standard Fashion-MNIST recipe, in PyTorch, to see whether it leaves
the constant predictor (cross-entropy ln 10 ≈ 2.303) with a given initialisation of fmnist-cnn. An independent
check of MAT's training dynamics (docs/models.md#initialisation); no test depends on it.

    /usr/bin/python3 scripts/reference/torch_mat_collapse.py {pytorch-default|kaiming-fan-out} STEPS [SEED]

Recipe: l_inf eps 0.1, PGD-7 step 0.025 (uniform random start), SGD lr 0.05 momentum 0.9 weight decay 5e-4,
batch 128 from the first 30000 training images, λ_own = λ_peer = 1, τ = 1, no ramp. Loss of peer i (Liu et al.):
CE(f_i(x_i'), y) + KL(f_j(x_i') ‖ f_i(x_i')) + KL(f_j(x_j') ‖ f_i(x_j')), teachers detached and computed before
either peer updates. Prints one JSON line per step: base (CE) and distillation loss and adversarial accuracy
per peer.
"""

import gzip
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_models import FmnistCnn

DATA = "/usr/share/datasets/fashion-mnist"
EPS, STEP, STEPS_PGD = 0.1, 0.025, 7


def load_train(n):
    images = gzip.open(f"{DATA}/train-images-idx3-ubyte.gz").read()
    labels = gzip.open(f"{DATA}/train-labels-idx1-ubyte.gz").read()
    x = np.frombuffer(images[16 : 16 + n * 784], np.uint8).astype(np.float32) / np.float32(255)
    y = np.frombuffer(labels[8 : 8 + n], np.uint8).astype(np.int64)
    return torch.from_numpy(x.reshape(n, 1, 28, 28)), torch.from_numpy(y)


def make_peer(init):
    model = FmnistCnn()  # PyTorch's defaults
    if init == "kaiming-fan-out":
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
    elif init != "pytorch-default":
        raise SystemExit(f"unknown init {init}")
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)


def pgd(model, x, y):
    x_adv = (x + torch.empty_like(x).uniform_(-EPS, EPS)).clamp(0, 1)
    for _ in range(STEPS_PGD):
        x_adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y, reduction="sum"), x_adv)
        with torch.no_grad():
            x_adv = torch.min(torch.max(x_adv + STEP * grad.sign(), x - EPS), x + EPS).clamp(0, 1)
    return x_adv.detach()


def kl(teacher_logits, student_logits):
    return F.kl_div(F.log_softmax(student_logits, 1), F.log_softmax(teacher_logits, 1), reduction="batchmean", log_target=True)


def main():
    init, steps = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x_all, y_all = load_train(30000)
    peers = [make_peer(init) for _ in range(2)]
    order = torch.randperm(len(y_all))
    started = time.time()
    for step in range(steps):
        idx = order[step * 128 : (step + 1) * 128]
        x, y = x_all[idx], y_all[idx]
        advs = [pgd(m, x, y) for m, _ in peers]
        with torch.no_grad():
            teach = [[m(a) for a in advs] for m, _ in peers]  # teach[j][k] = f_j(x_k')
        out = {"step": step + 1, "s": round(time.time() - started, 1), "base": [], "distill": [], "acc": []}
        for i, (model, opt) in enumerate(peers):
            j = 1 - i
            own = model(advs[i])
            base = F.cross_entropy(own, y)
            distill = kl(teach[j][i], own) + kl(teach[j][j], model(advs[j]))
            opt.zero_grad()
            (base + distill).backward()
            opt.step()
            out["base"].append(round(base.item(), 4))
            out["distill"].append(round(distill.item(), 4))
            out["acc"].append(round((own.argmax(1) == y).float().mean().item(), 3))
        print(json.dumps(out), flush=True)
    print(f"# ln 10 = {math.log(10):.4f}", flush=True)


if __name__ == "__main__":
    main()
