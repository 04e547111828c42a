"""The same recipes as benchmarks/speed.cpp, in PyTorch, printing the same
"name value unit" lines. Run by side_by_side.sh with Debian's python3-torch."""
import math
import sys
import time

import numpy as np
import torch
from torch import nn

torch.manual_seed(0)


def two_moons(n, noise, rng):
    n_out, n_in = n // 2, n - n // 2
    a, b = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.vstack([np.append(np.cos(a), 1 - np.cos(b)), np.append(np.sin(a), 1 - np.sin(b) - 0.5)]).T
    x += rng.normal(scale=noise, size=x.shape)
    rng.shuffle(x)
    return (x - x.mean(0)) / x.std(0)


def mlp(d_in, hidden, d_out, act):
    return nn.Sequential(nn.Linear(d_in, hidden), act(), nn.Linear(hidden, hidden), act(), nn.Linear(hidden, d_out))


class Coupling(nn.Module):
    def __init__(self, mask, hidden, act, shared):
        super().__init__()
        self.register_buffer("mask", mask)
        self.shared = shared
        if shared:
            self.net = mlp(2, hidden, 4, act)
        else:
            self.s_net, self.t_net = mlp(2, hidden, 2, act), mlp(2, hidden, 2, act)

    def scale_shift(self, v):
        """s, t from the masked input b*v (v is x or z: equal where b = 1)."""
        b = self.mask
        if self.shared:
            st = self.net(v * b)
            s, t = st[:, :2], st[:, 2:]
        else:
            s, t = self.s_net(v * b), self.t_net(v * b)
        return torch.tanh(s) * (1 - b), t * (1 - b)

    def forward(self, x):
        s, t = self.scale_shift(x)
        return x * torch.exp(s) + t, s.sum(1)

    def inverse(self, z):
        s, t = self.scale_shift(z)
        return (z - t) * torch.exp(-s)


class Flow(nn.Module):
    def __init__(self, layers, hidden, act, shared):
        super().__init__()
        self.layers = nn.ModuleList(
            Coupling(torch.tensor([float(k % 2 == 0), float(k % 2 == 1)]), hidden, act, shared) for k in range(layers))

    def log_prob(self, x):
        ld = torch.zeros(x.shape[0], dtype=x.dtype)
        for layer in self.layers:
            x, l = layer(x)
            ld = ld + l
        return (-0.5 * x.pow(2) - 0.5 * math.log(2 * math.pi)).sum(1) + ld

    def sample(self, n):
        z = torch.randn(n, 2)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


# ---- MADE, MAF, IAF and neural spline flows, from the papers ----------------------------
# The same models as speed.cpp's maf_*/nsf_* cases: MADE masks from degrees (Germain et
# al. 2015, eqs. 12-13; cyclic hidden degrees), outputs parameter-major (column p*D + i);
# MAF with alpha = 3 tanh(raw / 3) (Papamakarios et al. 2017); the rational-quadratic
# spline of Durkan et al. 2019 (eqs. 4-8) with minimum bin 1e-3, minimum derivative 1e-3,
# boundary derivatives 1 and identity tails.


class MaskedLinear(nn.Linear):
    def __init__(self, d_in, d_out, mask):
        super().__init__(d_in, d_out)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def made(degrees, hidden, depth, per_dim):
    d = len(degrees)
    deg_in = torch.tensor(degrees)
    layers, previous = [], deg_in
    for _ in range(depth):
        current = torch.arange(hidden) % (d - 1) + 1
        layers += [MaskedLinear(len(previous), hidden, (current[:, None] >= previous[None, :]).float()), nn.ReLU()]
        previous = current
    out = deg_in.repeat(per_dim)
    layers.append(MaskedLinear(len(previous), per_dim * d, (out[:, None] > previous[None, :]).float()))
    return nn.Sequential(*layers)


MIN_BIN, MIN_DERIVATIVE = 1e-3, 1e-3


def rq_spline(v, theta, bins, bound, inverse):
    """v: (N, D); theta: (N, (3K-1) D) parameter-major. Returns out and log|d out / d v| (N, D)."""
    n, d = v.shape
    t = theta.view(n, 3 * bins - 1, d).transpose(1, 2)  # (N, D, 3K-1)
    inside = (v >= -bound) & (v <= bound)
    vc = v.clamp(-bound, bound)
    w = MIN_BIN + (1 - MIN_BIN * bins) * torch.softmax(t[..., :bins], -1)
    h = MIN_BIN + (1 - MIN_BIN * bins) * torch.softmax(t[..., bins:2 * bins], -1)
    xk = nn.functional.pad(torch.cumsum(w, -1), (1, 0)) * 2 * bound - bound
    yk = nn.functional.pad(torch.cumsum(h, -1), (1, 0)) * 2 * bound - bound
    xk[..., -1], yk[..., -1] = bound, bound
    shift = math.log(math.expm1(1 - MIN_DERIVATIVE))
    delta = nn.functional.pad(MIN_DERIVATIVE + nn.functional.softplus(t[..., 2 * bins:] + shift), (1, 1), value=1.0)
    knots = yk if inverse else xk
    k = (torch.searchsorted(knots[..., 1:-1].contiguous(), vc[..., None], right=True)).clamp(0, bins - 1)
    g = lambda a: a.gather(-1, k)[..., 0]  # noqa: E731
    x0, x1, y0, y1, d0, d1 = g(xk), g(xk[..., 1:]), g(yk), g(yk[..., 1:]), g(delta), g(delta[..., 1:])
    wk, hk = x1 - x0, y1 - y0
    s = hk / wk
    if inverse:
        off = vc - y0
        a = hk * (s - d0) + off * (d1 + d0 - 2 * s)
        b = hk * d0 - off * (d1 + d0 - 2 * s)
        c = -s * off
        xi = (2 * c / (-b - torch.sqrt((b * b - 4 * a * c).clamp(min=0)))).clamp(0, 1)
    else:
        xi = (vc - x0) / wk
    both = xi * (1 - xi)
    den = s + (d1 + d0 - 2 * s) * both
    y = y0 + hk * (s * xi * xi + d0 * both) / den
    log_slope = 2 * torch.log(s) + torch.log(d1 * xi * xi + 2 * s * both + d0 * (1 - xi) ** 2) - 2 * torch.log(den)
    out = x0 + xi * wk if inverse else y
    log_slope = -log_slope if inverse else log_slope
    out = torch.where(inside, out, v)
    return out, torch.where(inside, log_slope, torch.zeros_like(v))


class Autoregressive(nn.Module):
    """MAF (affine) or NSF-AR (spline) on a MADE."""

    def __init__(self, degrees, hidden, spline_bins=0, bound=4.0):
        super().__init__()
        self.bins, self.bound, self.d = spline_bins, bound, len(degrees)
        self.net = made(degrees, hidden, 2, 3 * spline_bins - 1 if spline_bins else 2)

    def transform(self, v, theta, inverse):
        if self.bins:
            out, log_slope = rq_spline(v, theta, self.bins, self.bound, inverse)
            return out, log_slope.sum(1)
        mu, alpha = theta[:, :self.d], 3 * torch.tanh(theta[:, self.d:] / 3)
        if inverse:
            return v * torch.exp(alpha) + mu, alpha.sum(1)
        return (v - mu) * torch.exp(-alpha), -alpha.sum(1)

    def forward(self, x):
        return self.transform(x, self.net(x), False)

    def inverse(self, z):
        x = z
        for _ in range(self.d):
            x, log_det = self.transform(z, self.net(x), True)
        return x, log_det


class SplineCoupling(nn.Module):
    def __init__(self, mask, hidden, bins, bound=4.0):
        super().__init__()
        d = len(mask)
        self.register_buffer("mask", mask)
        self.bins, self.bound = bins, bound
        self.net = mlp(d, hidden, (3 * bins - 1) * d, nn.ReLU)

    def forward(self, x, inverse=False):
        b = self.mask
        out, log_slope = rq_spline(x, self.net(x * b), self.bins, self.bound, inverse)
        return b * x + (1 - b) * out, ((1 - b) * log_slope).sum(1)

    def inverse(self, z):
        return self.forward(z, True)


class Stack(nn.Module):
    def __init__(self, layers, d, inverted=False):
        super().__init__()
        self.layers, self.d, self.inverted = nn.ModuleList(layers), d, inverted

    def log_prob(self, x):
        ld = torch.zeros(x.shape[0], dtype=x.dtype)
        for layer in self.layers:
            x, l = layer.inverse(x) if self.inverted else layer(x)
            ld = ld + l
        return (-0.5 * x.pow(2) - 0.5 * math.log(2 * math.pi)).sum(1) + ld

    def sample(self, n):
        z = torch.randn(n, self.d)
        for layer in reversed(self.layers):
            z, _ = layer(z) if self.inverted else layer.inverse(z)
        return z


def autoregressive_stack(kind, d, layers=5, hidden=64, bins=8):
    def degrees(k):
        return list(range(1, d + 1)) if k % 2 == 0 else list(range(d, 0, -1))
    if kind == "nsf":
        half = [float(j < d // 2) for j in range(d)]
        return Stack([SplineCoupling(torch.tensor(half if k % 2 == 0 else [1 - m for m in half]), hidden, bins)
                      for k in range(layers)], d)
    spline = bins if kind == "nsf_ar" else 0
    return Stack([Autoregressive(degrees(k), hidden, spline) for k in range(layers)], d, inverted=(kind == "iaf"))


BLOCKS = 5


class Planar(nn.Module):
    """Rezende & Mohamed (2015) eq. 10-12 in the sampling direction: z' = z + û tanh(wᵀz + b),
    log|det| = log|1 + ûᵀψ|, ψ = (1 − tanh²)w, û = u + (m(wᵀu) − wᵀu) w/‖w‖², m(a) = −1 + softplus(a)."""

    def __init__(self, d):
        super().__init__()
        bound = 1 / math.sqrt(d)
        self.u = nn.Parameter(torch.empty(d).uniform_(-bound, bound))
        self.w = nn.Parameter(torch.empty(d).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, z):
        wu = self.w @ self.u
        u_hat = self.u + (nn.functional.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w)
        h = torch.tanh(z @ self.w + self.b)
        return z + h[:, None] * u_hat, torch.log1p((1 - h * h) * (self.w @ u_hat))


def energy_u1(z):
    """Rezende & Mohamed's U1 (DATASETS.md)."""
    ring = 0.5 * ((z.norm(dim=1) - 2) / 0.4) ** 2
    modes = torch.stack([-0.5 * ((z[:, 0] - 2) / 0.6) ** 2, -0.5 * ((z[:, 0] + 2) / 0.6) ** 2], dim=1)
    return ring - torch.logsumexp(modes, dim=1)


def planar_vi_step_seconds(layers, batch, repeats):
    flows = nn.ModuleList([Planar(2) for _ in range(layers)])
    opt = torch.optim.Adam(flows.parameters(), lr=1e-2)
    log_2pi = math.log(2 * math.pi)

    def step():
        u = torch.randn(batch, 2)
        log_q = -0.5 * (u * u).sum(1) - log_2pi
        z = u
        for layer in flows:
            z, log_det = layer(z)
            log_q = log_q - log_det
        loss = (log_q + energy_u1(z)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    return best_block_seconds(step, repeats)


def best_block_seconds(call, repeats):
    """Seconds per call: the best of BLOCKS blocks of repeats // BLOCKS calls. Other
    tenants of the VM add time and never remove it; speed.cpp times the same way."""
    per_block = max(1, repeats // BLOCKS)
    best = float("inf")
    for _ in range(BLOCKS):
        start = time.perf_counter()
        for _ in range(per_block):
            call()
        best = min(best, (time.perf_counter() - start) / per_block)
    return best


def step_seconds(flow, data, batch, repeats):
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    offset = 0

    def step():
        nonlocal offset
        x = data[offset:offset + batch]
        offset = (offset + batch) % (data.shape[0] - batch + 1)
        opt.zero_grad()
        loss = -flow.log_prob(x).mean()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    return best_block_seconds(step, repeats)


def timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def gemm_gflops(dtype):
    a, b = torch.rand(1024, 1024, dtype=dtype), torch.rand(1024, 1024, dtype=dtype)
    a @ b
    return 2 * 1024 ** 3 / best_block_seconds(lambda: a @ b, 5) / 1e9


def main():
    # argv: intra-op threads, and the suffix of the case names. BLAS threads come
    # from the environment side_by_side.sh sets (OPENBLAS_NUM_THREADS).
    # Further arguments, if any, name the cases to run (as for speed.cpp).
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    suffix = sys.argv[2] if len(sys.argv) > 2 else ""
    cases = set(sys.argv[3:])

    def wanted(name):
        return not cases or name in cases

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    data = two_moons(3000, 0.05, rng)
    if not suffix and wanted("small_step"):  # the small case runs on one thread only
        small = Flow(4, 32, nn.GELU, True)
        print(f"small_step {1e3 * step_seconds(small, torch.tensor(data[:1600], dtype=torch.float32), 32, 2000):.4f} ms")
    large = Flow(6, 128, nn.ReLU, False)
    if wanted(f"large_epoch{suffix}"):
        print(f"large_epoch{suffix} {1e3 * step_seconds(large, torch.tensor(data, dtype=torch.float32), 3000, 30):.3f} ms")
    if wanted(f"double_epoch{suffix}"):
        large64 = Flow(6, 128, nn.ReLU, False).double()
        print(f"double_epoch{suffix} {1e3 * step_seconds(large64, torch.tensor(data, dtype=torch.float64), 3000, 15):.3f} ms")
    with torch.no_grad():
        x = torch.randn(1_000_000, 2)
        if wanted(f"inference_log_prob{suffix}"):
            start = time.perf_counter()
            large.log_prob(x)
            print(f"inference_log_prob{suffix} {1e6 / (time.perf_counter() - start):.0f} points/s")
        if wanted(f"inference_sample{suffix}"):
            start = time.perf_counter()
            large.sample(1_000_000)
            print(f"inference_sample{suffix} {1e6 / (time.perf_counter() - start):.0f} points/s")
    if not suffix:  # autoregressive and spline flows (issue 12), one thread
        for d in (2, 16):
            x = torch.tensor(rng.normal(size=(4096, d)), dtype=torch.float32)
            for kind in ("maf", "nsf", "nsf_ar"):
                if wanted(f"{kind}_step_d{d}"):
                    flow = autoregressive_stack(kind, d)
                    print(f"{kind}_step_d{d} {1e3 * step_seconds(flow, x, 256, 100):.4f} ms")
        with torch.no_grad():
            for kind in ("maf", "iaf"):
                if wanted(f"{kind}_sample_d16"):
                    flow = autoregressive_stack(kind, 16)
                    best = min(timed(lambda: flow.sample(10000)) for _ in range(3))
                    print(f"{kind}_sample_d16 {1e4 / best:.0f} points/s")
    if not suffix and wanted("planar_vi_step"):
        print(f"planar_vi_step {1e3 * planar_vi_step_seconds(32, 256, 2000):.4f} ms")
    if wanted(f"sgemm{suffix}"):
        print(f"sgemm{suffix} {gemm_gflops(torch.float32):.1f} GFLOP/s")
    if wanted(f"dgemm{suffix}"):
        print(f"dgemm{suffix} {gemm_gflops(torch.float64):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
