"""PyTorch twin of eigenflow's continuous flow, for benchmarks/cnf_side_by_side.sh.

The same model as `eigenflow train --flow cnf --dynamics mlp --solver rk4`:
FFJORD's dynamics f(z, t) = an MLP of z with t in every layer
(a_k = h W_k^T + b_k + t tau_k, tanh, 2 x 64), the exact trace of df/dz by one
autograd pass per dimension (as torchdiffeq's CNF example does), fixed-step RK4
over t from 1 (data) to 0 (latent) on the pair (z, L) with dL/dt = tr(df/dz),
backpropagation through the steps, AdamW 3e-3, batch 64, standardised two moons.
torchdiffeq cannot be installed here, so the solver is the five lines below.

Prints "cnf_rk4 <seconds per epoch>" (the minimum over the runs) and the final NLL.
Usage: python3 pytorch_cnf.py EPOCHS STEPS [RUNS]
"""
import math
import sys
import time

import numpy as np
import torch
from sklearn.datasets import make_moons

torch.set_num_threads(1)


class TimeLinear(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, n_out)
        bound = 1 / math.sqrt(n_in + 1)
        self.time = torch.nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, h, t):
        return self.linear(h) + t * self.time


class Dynamics(torch.nn.Module):
    def __init__(self, dim=2, hidden=64, depth=2):
        super().__init__()
        sizes = [dim] + [hidden] * depth + [dim]
        self.layers = torch.nn.ModuleList(TimeLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        with torch.no_grad():  # starts as the identity map, as eigenflow's does
            self.layers[-1].linear.weight.zero_()
            self.layers[-1].linear.bias.zero_()
            self.layers[-1].time.zero_()

    def forward(self, t, z):
        h = z
        for k, layer in enumerate(self.layers):
            h = layer(h, t)
            if k + 1 < len(self.layers):
                h = torch.tanh(h)
        return h


def rate(dynamics, t, state):
    z = state[:, :-1]
    with torch.enable_grad():
        z = z if z.requires_grad else z.requires_grad_(True)
        f = dynamics(t, z)
        trace = sum(torch.autograd.grad(f[:, i].sum(), z, create_graph=True)[0][:, i] for i in range(z.shape[1]))
    return torch.cat([f, trace[:, None]], 1)


def rk4(dynamics, y, t0, t1, steps):
    h = (t1 - t0) / steps
    for i in range(steps):
        t = t0 + i * h
        k1 = rate(dynamics, t, y)
        k2 = rate(dynamics, t + h / 2, y + h / 2 * k1)
        k3 = rate(dynamics, t + h / 2, y + h / 2 * k2)
        k4 = rate(dynamics, t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def log_prob(dynamics, x, steps):
    y = rk4(dynamics, torch.cat([x, torch.zeros(x.shape[0], 1)], 1), 1.0, 0.0, steps)
    z, log_det = y[:, :-1], y[:, -1]
    return -0.5 * (z ** 2).sum(1) - z.shape[1] * 0.5 * math.log(2 * math.pi) + log_det


def main():
    epochs, steps = int(sys.argv[1]), int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    x, _ = make_moons(3000, noise=0.05, random_state=0)
    x = torch.tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)
    best = float("inf")
    for run in range(runs):
        torch.manual_seed(run)
        dynamics = Dynamics()
        optimizer = torch.optim.AdamW(dynamics.parameters(), lr=3e-3, weight_decay=1e-2)
        start = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(x.shape[0])
            for i in range(0, x.shape[0], 64):
                loss = -log_prob(dynamics, x[order[i:i + 64]], steps).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        best = min(best, (time.perf_counter() - start) / epochs)
    nll = -log_prob(dynamics, x, steps).mean().item()
    print(f"cnf_rk4 {best:.4f} s/epoch (standardised train NLL {nll:.4f})")


if __name__ == "__main__":
    main()
