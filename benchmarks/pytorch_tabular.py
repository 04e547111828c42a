"""The PyTorch reference of `eigenflow train --data` on tabular data: the same
models (realnvp, glow, maf, nsf, nsf-ar at their CLI defaults), the same training recipe
(standardisation, AdamW, cosine schedule, jitter, parameter averaging, early
stopping, the clearly-better rule for the kept epoch) and the data-dependent
defaults of examples/cli/train_defaults.hpp, written from the papers and our
docs, not from our code. Run by real_data.sh.

usage: pytorch_tabular.py FLOW TRAIN.csv VALIDATION.csv TEST.csv SEED [dequantize]
prints: test_nll X seconds Y epochs E kept K
dequantize: integer data; u ~ U[0, 1) on every training batch, one fixed draw on the
validation and test rows (and on the training rows the standardisation is fitted to),
no jitter, as `eigenflow train --dequantize`.
"""
import math
import sys
import time

import numpy as np
import torch
from torch import nn

from pytorch_flows import Autoregressive, SplineCoupling, Stack


def mlp(d_in, hidden, d_out, zero_last=False):
    last = nn.Linear(hidden, d_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), last)


class AffineCoupling(nn.Module):
    """RealNVP (Dinh et al. 2017, eqs. 7-9): z = x * exp(tanh(s(b x))) + t(b x) on the masked-out half."""

    def __init__(self, mask, hidden, zero_last=False):
        super().__init__()
        d = len(mask)
        self.register_buffer("mask", mask)
        self.s_net, self.t_net = mlp(d, hidden, d, zero_last), mlp(d, hidden, d, zero_last)

    def forward(self, x):
        b = self.mask
        s = torch.tanh(self.s_net(x * b)) * (1 - b)
        t = self.t_net(x * b) * (1 - b)
        return x * torch.exp(s) + t, s.sum(1)


class ActNorm(nn.Module):
    """Glow (Kingma & Dhariwal 2018, section 3.1): z = (x - b) exp(-s), b and s from the first batch."""

    def __init__(self, d):
        super().__init__()
        self.b, self.s = nn.Parameter(torch.zeros(d)), nn.Parameter(torch.zeros(d))
        self.initialized = False

    def forward(self, x):
        if not self.initialized:
            with torch.no_grad():
                self.b.copy_(x.mean(0))
                self.s.copy_(torch.log(x.std(0, unbiased=False).clamp(min=1e-6)))
            self.initialized = True
        return (x - self.b) * torch.exp(-self.s), -self.s.sum().expand(x.shape[0])


class LuLinear(nn.Module):
    """Glow's invertible 1x1 convolution for vectors: z = W x, W = P L (U + diag(sign exp(log|s|))), started at
    `matrix` (any invertible d x d) or, without one, at a random rotation."""

    def __init__(self, d, matrix=None):
        super().__init__()
        start = torch.linalg.qr(torch.randn(d, d))[0] if matrix is None else torch.as_tensor(matrix, dtype=torch.float32)
        p, lower, upper = torch.linalg.lu(start)
        diagonal = torch.diagonal(upper)
        self.register_buffer("p", p)
        self.register_buffer("sign", torch.sign(diagonal))
        self.register_buffer("eye", torch.eye(d))
        self.lower = nn.Parameter(torch.tril(lower, -1))
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(diagonal.abs()))

    def forward(self, x):
        lower = torch.tril(self.lower, -1) + self.eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign * torch.exp(self.log_s))
        w = self.p @ lower @ upper
        return x @ w.T, self.log_s.sum().expand(x.shape[0])


def half_mask(d, parity):
    first = (d + 1) // 2
    return torch.tensor([float((j < first) == (parity % 2 == 0)) for j in range(d)])


def build(flow, d):
    mix = d >= 3  # coupling flows beyond 2D: a learned LU map between couplings (train_defaults.hpp)
    if flow == "realnvp":
        layers = []
        for k in range(12):
            layers += ([LuLinear(d)] if mix and k > 0 else []) + [AffineCoupling(half_mask(d, k), 32)]
        return Stack(layers, d)
    if flow == "glow":
        layers = []
        for k in range(8):
            layers += [ActNorm(d), LuLinear(d), AffineCoupling(half_mask(d, k), 32, zero_last=True)]
        return Stack(layers, d)
    if flow in ("maf", "nsf-ar"):
        layers = []
        for k in range(8 if flow == "maf" else 4):
            degrees = list(range(1, d + 1)) if k % 2 == 0 else list(range(d, 0, -1))
            layer = Autoregressive(degrees, 64, 8, 5.0) if flow == "nsf-ar" else Autoregressive(degrees, 64)
            nn.init.zeros_(layer.net[-1].weight)
            nn.init.zeros_(layer.net[-1].bias)
            layers.append(layer)
        return Stack(layers, d)
    if flow == "nsf":
        layers = []
        for k in range(6):
            layer = SplineCoupling(half_mask(d, k), 32, 4 if d >= 3 else 8, bound=5.0)  # bins: train_defaults.hpp
            nn.init.zeros_(layer.net[-1].weight)
            nn.init.zeros_(layer.net[-1].bias)
            layers += ([LuLinear(d)] if mix and k > 0 else []) + [layer]
        return Stack(layers, d)
    raise SystemExit("unknown flow " + flow)


def defaults(n_train, d):
    """examples/cli/train_defaults.hpp"""
    batch = 64
    while batch < 512 and n_train / batch > 500:
        batch *= 2
    steps_per_epoch = -(-n_train // batch)
    epochs = min(300, max(30, -(-15000 // steps_per_epoch))) if d >= 3 else 300
    patience = max(20, epochs // 2)
    weight_decay = min(1.0, max(0.1, 1600 / n_train)) if d >= 3 else 1e-2
    return batch, epochs, patience, weight_decay


def clearly_better(gain):
    n = len(gain)
    mean = gain.mean()
    se = math.sqrt(((gain - mean) ** 2).sum() / max(1, n - 1) / n)
    return mean > 2 * se or (mean > 0 and (gain > 0).mean() > 0.5 + 1 / math.sqrt(n))


def fit(model, x_train, x_val, rng, batch, epochs, patience, lr, weight_decay, jitter, decay, uniform_width=None):
    """eigenflow's training recipe: AdamW, a cosine schedule to 1/100 of lr, jitter (or U[0, 1)
    dequantisation noise of uniform_width per column) on every batch, parameter averaging,
    early stopping on validation, the best epoch kept when clearly better. Returns the
    epochs run and the one kept."""
    n = x_train.shape[0]
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-n // batch)
    total = steps_per_epoch * epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, total) / total))))
    average = [p.detach().clone() for p in params]

    def swap():
        for p, a in zip(params, average):
            tmp = p.data.clone()
            p.data.copy_(a)
            a.copy_(tmp)

    def val_log_p():
        with torch.no_grad():
            return model.log_prob(x_val).double()

    best, best_nll, best_epoch, waited, step, epoch = None, math.inf, 0, 0, 0, 0
    for epoch in range(1, epochs + 1):
        order = torch.tensor(rng.permutation(n))
        for first in range(0, n, batch):
            points = x_train[order[first:first + batch]]
            if uniform_width is not None:
                points = points + torch.rand_like(points) * uniform_width
            else:
                points = points + jitter * torch.randn_like(points)
            loss = -model.log_prob(points).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            a = min(decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for p, avg in zip(params, average):
                    avg.mul_(a).add_(p.detach(), alpha=1 - a)
        swap()  # evaluate and keep the average
        nll = -val_log_p().mean().item()
        if nll < best_nll:
            best_nll, best_epoch, waited = nll, epoch, 0
            best = [p.detach().clone() for p in params]
        else:
            waited += 1
        swap()
        if waited >= patience:
            break
    swap()  # end with the average
    kept = epoch
    if best_epoch != epoch:
        last = [p.detach().clone() for p in params]
        last_log_p = val_log_p()
        for p, b in zip(params, best):
            p.data.copy_(b)
        if clearly_better((val_log_p() - last_log_p).numpy()):
            kept = best_epoch
        else:
            for p, b in zip(params, last):
                p.data.copy_(b)
    return epoch, kept


def main():
    flow_name, train_path, val_path, test_path, seed = sys.argv[1:6]
    dequantize = len(sys.argv) > 6 and sys.argv[6] == "dequantize"
    torch.manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    load = lambda p: np.loadtxt(p, delimiter=",", skiprows=1, ndmin=2)  # noqa: E731
    train, val, test = load(train_path), load(val_path), load(test_path)
    n, d = train.shape
    if dequantize:
        val, test = val + rng.random(val.shape), test + rng.random(test.shape)
        fitted = train + rng.random(train.shape)
    else:
        fitted = train
    shift, scale = fitted.mean(0), fitted.std(0)
    log_det_standardise = -np.log(scale).sum()
    to_t = lambda x: torch.tensor((x - shift) / scale, dtype=torch.float32)  # noqa: E731
    x_train, x_val, x_test = to_t(train), to_t(val), to_t(test)
    batch, epochs, patience, weight_decay = defaults(n, d)
    lr, jitter, decay = 3e-3, 0.0 if dequantize else 0.03, 0.998
    uniform_width = torch.tensor(1 / scale, dtype=torch.float32)  # U[0, 1) in raw units
    model = build(flow_name, d)
    start = time.perf_counter()
    epoch, kept = fit(model, x_train, x_val, rng, batch, epochs, patience, lr, weight_decay, jitter, decay,
                      uniform_width if dequantize else None)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        test_nll = -(model.log_prob(x_test).double().mean().item() + log_det_standardise)
    print(f"test_nll {test_nll:.4f} seconds {seconds:.2f} epochs {epoch} kept {kept}")


if __name__ == "__main__":
    main()
