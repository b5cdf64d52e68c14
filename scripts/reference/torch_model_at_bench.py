"""Reference speed for one PGD-10 adversarial-training step in PyTorch on CPU, for a model of the MAT zoo.

The workload of scripts/bench.js (and of ../shared/reference/torch_pgd_at_bench.py, which covers fmnist-cnn):
l_inf eps 0.1, step 0.025, random start, 10 attack steps with the model in eval mode (batch norm uses its
running statistics, as @mat/core's attacks do), then one SGD update (lr 0.05, momentum 0.9) in train mode.
Synthetic data: speed only. The models are scripts/reference/torch_models.py's.

Usage: /usr/bin/python3 torch_model_at_bench.py ARCH [threads=1] [steps=2] [warmup=1] [batch]
  ARCH: preact-resnet18 | resnet18 | wrn-34-10 | fmnist-cnn
  batch: default 64 (128 for fmnist-cnn)
Prints one JSON line: {"engine": "pytorch-cpu", "workload": ARCH, "threads": .., "img_per_s": .., ...}
"""
import json
import os
import sys
import time

try:
    import torch
except ImportError:  # Debian's python3-torch belongs to the system interpreter, not to a pyenv/venv one
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("PyTorch not found: apt-get install python3-torch")
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import FmnistCnn, PreActResNet18, ResNet18, WideResNet  # noqa: E402

WORKLOADS = {
    "preact-resnet18": (PreActResNet18, 64, (3, 32, 32)),
    "resnet18": (ResNet18, 64, (3, 32, 32)),
    "wrn-34-10": (lambda: WideResNet(depth=34, widen_factor=10), 64, (3, 32, 32)),
    "fmnist-cnn": (FmnistCnn, 128, (1, 28, 28)),
}

arch = sys.argv[1] if len(sys.argv) > 1 else "preact-resnet18"
if arch not in WORKLOADS:
    sys.exit(f"unknown ARCH '{arch}' (one of {', '.join(WORKLOADS)})")
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 2
warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)
make, B, shape = WORKLOADS[arch]
B = int(sys.argv[5]) if len(sys.argv) > 5 else B
model = make()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
EPS, ALPHA = 0.1, 0.025
x = torch.rand(B, *shape)
y = torch.randint(0, 10, (B,))


def at_step():
    model.eval()
    xa = (x + torch.empty_like(x).uniform_(-EPS, EPS)).clamp(0, 1)
    for _ in range(10):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xa), y), xa)
        xa = torch.min(torch.max(xa.detach() + ALPHA * g.sign(), x - EPS), x + EPS).clamp(0, 1)
    model.train()
    loss = F.cross_entropy(model(xa.detach()), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


for _ in range(warmup):
    at_step()
cpu0, t0 = time.process_time(), time.perf_counter()
for _ in range(steps):
    at_step()
dt = (time.perf_counter() - t0) / steps
cpu = (time.process_time() - cpu0) / steps
print(json.dumps({"engine": "pytorch-cpu", "workload": arch, "torch": torch.__version__, "threads": threads,
                  "batch": B, "steps": steps, "step_s": round(dt, 4), "img_per_s": round(B / dt, 2),
                  "cpu_step_s": round(cpu, 4)}))
