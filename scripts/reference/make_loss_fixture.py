"""Writes test/fixtures/losses/torch-losses.json: cross-entropy, KL, TRADES and MAT distillation values and
gradients computed by PyTorch, which test/core/losses/torch-reference.test.ts compares MAT's losses against.
Tests never run Python; rerun this only when a loss definition changes:

    /usr/bin/python3 scripts/reference/make_loss_fixture.py

Inputs are random logits (seeded) stored in the fixture; everything is computed in float64.
The PyTorch expressions mirror the reference implementations:
  - TRADES (github.com/yaodongyu/TRADES, trades.py):
        F.cross_entropy(f(x), y) + beta * KLDivLoss(reduction='sum')(log_softmax(f(x')), softmax(f(x))) / B
    with gradients through both f(x) and f(x').
  - MAT distillation: tau^2 * F.kl_div(log_softmax(student / tau), softmax(teacher.detach() / tau), 'batchmean'),
    averaged over teachers, weighted by lambda_own / lambda_peer.
"""

import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
B, K = 4, 5


def logits(scale=2.0):
    return (scale * torch.randn(B, K, dtype=torch.float64)).requires_grad_(True)


def tolist(t):
    return t.detach().tolist()


def kl_distill(teacher, student, tau):
    return F.kl_div(F.log_softmax(student / tau, dim=1), F.softmax(teacher.detach() / tau, dim=1), reduction="batchmean")


labels = torch.randint(0, K, (B,))
out = {"batch": B, "classes": K, "labels": labels.tolist()}

# Cross-entropy (batch mean).
z = logits(3.0)
ce = F.cross_entropy(z, labels)
(g,) = torch.autograd.grad(ce, [z])
out["crossEntropy"] = {"logits": tolist(z), "value": ce.item(), "gradLogits": tolist(g)}

# Distillation KL at two temperatures.
out["klDivergence"] = []
for tau in (1.0, 2.0):
    t, s = logits(), logits()
    kl = kl_distill(t, s, tau)
    (gs,) = torch.autograd.grad(kl, [s])
    out["klDivergence"].append(
        {"tau": tau, "teacher": tolist(t), "student": tolist(s), "value": kl.item(), "gradStudent": tolist(gs)}
    )

# TRADES, exactly as trades.py (size_average=False == reduction='sum', divided by the batch size).
clean, adv, beta = logits(), logits(), 6.0
criterion_kl = torch.nn.KLDivLoss(reduction="sum")
trades = F.cross_entropy(clean, labels) + beta * criterion_kl(
    F.log_softmax(adv, dim=1), F.softmax(clean, dim=1)
) / B
g_clean, g_adv = torch.autograd.grad(trades, [clean, adv])
out["trades"] = {
    "beta": beta,
    "clean": tolist(clean),
    "adv": tolist(adv),
    "value": trades.item(),
    "gradClean": tolist(g_clean),
    "gradAdv": tolist(g_adv),
}

# MAT distillation for one peer with two teachers (3 peers).
tau, lambda_own, lambda_peer = 2.0, 0.7, 0.4
own_student = logits()
own_teachers = [logits(), logits()]
peer_students = [logits(), logits()]
peer_teachers = [logits(), logits()]
own = sum(tau**2 * kl_distill(t, own_student, tau) for t in own_teachers) / len(own_teachers)
peer = sum(tau**2 * kl_distill(t, s, tau) for t, s in zip(peer_teachers, peer_students)) / len(peer_teachers)
distill = lambda_own * own + lambda_peer * peer
total_madry = F.cross_entropy(own_student, labels) + distill
grads = torch.autograd.grad(distill, [own_student, *peer_students])
out["mat"] = {
    "tau": tau,
    "lambdaOwn": lambda_own,
    "lambdaPeer": lambda_peer,
    "ownStudent": tolist(own_student),
    "ownTeachers": [tolist(t) for t in own_teachers],
    "peerStudents": [tolist(s) for s in peer_students],
    "peerTeachers": [tolist(t) for t in peer_teachers],
    "value": distill.item(),
    "totalWithMadryBase": total_madry.item(),
    "gradOwnStudent": tolist(grads[0]),
    "gradPeerStudents": [tolist(g) for g in grads[1:]],
}

path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "losses", "torch-losses.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {os.path.normpath(path)} (torch {torch.__version__})")
