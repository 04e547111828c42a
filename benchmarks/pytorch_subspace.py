"""The PyTorch twin of eigenflow's subspace flow (include/eigenflow/train/subspace_fit.hpp),
written from its documented design (README, benchmarks/README.md), not from its code:

    x -> standardise (fixed) -> W, an LU map started at the ZCA whitening of the training
      -> R, an LU map started at a rotation -> (u, g): a flow on the first k coordinates u
         (4 x [LU map from the second block on, rational-quadratic spline coupling on
         alternating halves, 2 x 64 ReLU, 8 bins, B = 5, zero last layer], then an
         elementwise spline), N(0, I) on the other D - k
    log p(x) = log|det diag(1/sigma)| + log|det W| + log|det R| + log p_flow(u) + log N(g; 0, I)

Two uses, both printing the "name value unit" lines of speed.cpp / side_by_side.sh:
  pytorch_subspace.py step D K                   ms per training step (batch 256, Adam 1e-3)
  pytorch_subspace.py fit TRAIN VAL TEST K EPOCHS SEED
      one whole fit of one candidate k for a fixed number of epochs, eigenflow's recipe for
      the subspace flow (AdamW 3e-3, weight decay 1e-4, batch 256 or N/16, cosine schedule,
      parameter averaging 0.998, the validation-best epoch kept when clearly better); R starts
      at FOBI's directions (the eigenvectors of E[|z|^2 z z^T], least Gaussian first: one of
      the starts of eigenflow's projection pursuit, which the twin does not have).
      prints "subspace_fit_kK S s", then "test_nll X"
"""
import math
import sys
import time

import numpy as np
import torch
from torch import nn

from pytorch_flows import SplineCoupling, rq_spline, step_seconds
from pytorch_tabular import LuLinear, fit, half_mask


class ElementwiseSpline(nn.Module):
    """One rational-quadratic spline per coordinate, its parameters its own (zero: the identity)."""

    def __init__(self, d, bins=8, bound=5.0):
        super().__init__()
        self.bins, self.bound = bins, bound
        self.theta = nn.Parameter(torch.zeros((3 * bins - 1) * d))

    def forward(self, x):
        out, log_slope = rq_spline(x, self.theta.expand(x.shape[0], -1), self.bins, self.bound, False)
        return out, log_slope.sum(1)


def random_rotation(d, rng):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


class SubspaceFlow(nn.Module):
    def __init__(self, whitening, rotation, k, rng, layers=4, hidden=64, bins=8, bound=5.0):
        super().__init__()
        self.k = k
        self.outer = nn.ModuleList([LuLinear(len(whitening), whitening), LuLinear(len(rotation), rotation)])
        inner = []
        if k >= 2:
            for block in range(layers):
                if block > 0:
                    inner.append(LuLinear(k, random_rotation(k, rng)))
                coupling = SplineCoupling(half_mask(k, block), hidden, bins, bound)
                nn.init.zeros_(coupling.net[-1].weight)
                nn.init.zeros_(coupling.net[-1].bias)
                inner.append(coupling)
        if k >= 1:
            inner.append(ElementwiseSpline(k, bins, bound))
        self.inner = nn.ModuleList(inner)

    def log_prob(self, x):
        log_det = torch.zeros(x.shape[0])
        for layer in self.outer:
            x, l = layer(x)
            log_det = log_det + l
        u, g = x[:, :self.k], x[:, self.k:]
        for layer in self.inner:
            u, l = layer(u)
            log_det = log_det + l
        z = torch.cat([u, g], 1)
        return (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).sum(1) + log_det


def zca(rows):
    values, vectors = np.linalg.eigh(np.cov(rows, rowvar=False, bias=True))
    return vectors @ np.diag(values ** -0.5) @ vectors.T


def fobi_rotation(white):
    """Rows of R: the eigenvectors of E[|z|^2 z z^T] - (D + 2) I, the largest |eigenvalue| first."""
    d = white.shape[1]
    moment = (white * (white ** 2).sum(1, keepdims=True)).T @ white / len(white) - (d + 2) * np.eye(d)
    values, vectors = np.linalg.eigh(moment)
    return vectors[:, np.argsort(-np.abs(values))].T


def mixed_moons(n, d, rng, noise=0.08):
    """docs/datasets.md's mixed-moons, for timing only (the values do not matter to a step)."""
    a, b = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    moons = np.vstack([np.append(np.cos(a), 1 - np.cos(b)), np.append(np.sin(a), 1 - np.sin(b) - 0.5)]).T
    s = np.hstack([moons + rng.normal(scale=noise, size=moons.shape), rng.normal(size=(n, d - 2))])
    return s @ random_rotation(d, rng).T


def step_case(d, k):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = mixed_moons(4096, d, rng)
    rows = (rows - rows.mean(0)) / rows.std(0)
    flow = SubspaceFlow(zca(rows), random_rotation(d, rng), k, rng)
    data = torch.tensor(rows, dtype=torch.float32)
    print(f"subspace_step_d{d}_k{k} {1e3 * step_seconds(flow, data, 256, 100):.4f} ms")


def fit_case(train_path, val_path, test_path, k, epochs, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    load = lambda p: np.loadtxt(p, delimiter=",", skiprows=1, ndmin=2)  # noqa: E731
    train, val, test = load(train_path), load(val_path), load(test_path)
    start = time.perf_counter()
    n, d = train.shape
    shift, scale = train.mean(0), train.std(0)
    standard = (train - shift) / scale
    whitening = zca(standard)
    flow = SubspaceFlow(whitening, fobi_rotation(standard @ whitening.T), k, rng)
    to_t = lambda x: torch.tensor((x - shift) / scale, dtype=torch.float32)  # noqa: E731
    x_train, x_val, x_test = to_t(train), to_t(val), to_t(test)
    batch = 256 if n >= 4096 else min(256, max(32, n // 16))
    fit(flow, x_train, x_val, rng, batch, epochs, epochs, 3e-3, 1e-4, 0.0, 0.998)  # patience = epochs: no early stop
    seconds = time.perf_counter() - start
    with torch.no_grad():
        test_nll = -(flow.log_prob(x_test).double().mean().item() - np.log(scale).sum())
    print(f"subspace_fit_k{k} {seconds:.2f} s")
    print(f"test_nll {test_nll:.4f}")


def main():
    torch.set_num_threads(1)
    if sys.argv[1] == "step":
        step_case(int(sys.argv[2]), int(sys.argv[3]))
    else:
        fit_case(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))


if __name__ == "__main__":
    main()
