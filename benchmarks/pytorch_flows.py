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


BLOCKS = 5


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


def gemm_gflops(dtype):
    a, b = torch.rand(1024, 1024, dtype=dtype), torch.rand(1024, 1024, dtype=dtype)
    a @ b
    return 2 * 1024 ** 3 / best_block_seconds(lambda: a @ b, 5) / 1e9


def main():
    # argv: intra-op threads, and the suffix of the case names. BLAS threads come
    # from the environment side_by_side.sh sets (OPENBLAS_NUM_THREADS).
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    suffix = sys.argv[2] if len(sys.argv) > 2 else ""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    data = two_moons(3000, 0.05, rng)
    if not suffix:  # the small case runs on one thread only
        small = Flow(4, 32, nn.GELU, True)
        print(f"small_step {1e3 * step_seconds(small, torch.tensor(data[:1600], dtype=torch.float32), 32, 2000):.4f} ms")
    large = Flow(6, 128, nn.ReLU, False)
    print(f"large_epoch{suffix} {1e3 * step_seconds(large, torch.tensor(data, dtype=torch.float32), 3000, 30):.3f} ms")
    large64 = Flow(6, 128, nn.ReLU, False).double()
    print(f"double_epoch{suffix} {1e3 * step_seconds(large64, torch.tensor(data, dtype=torch.float64), 3000, 15):.3f} ms")
    with torch.no_grad():
        x = torch.randn(1_000_000, 2)
        start = time.perf_counter()
        large.log_prob(x)
        print(f"inference_log_prob{suffix} {1e6 / (time.perf_counter() - start):.0f} points/s")
        start = time.perf_counter()
        large.sample(1_000_000)
        print(f"inference_sample{suffix} {1e6 / (time.perf_counter() - start):.0f} points/s")
    print(f"sgemm{suffix} {gemm_gflops(torch.float32):.1f} GFLOP/s")
    print(f"dgemm{suffix} {gemm_gflops(torch.float64):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
