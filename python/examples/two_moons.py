"""Fit a flow to two moons from Python, score held-out points, draw samples, and save a
picture (data | samples | density) with matplotlib (Debian's python3-matplotlib).

    PYTHONPATH=build/python /usr/bin/python3 python/examples/two_moons.py [OUT.png]
"""
import sys

import matplotlib

matplotlib.use("Agg")  # a file, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import eigenflow  # noqa: E402


def two_moons(n, noise, rng):
    a, b = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    x = np.vstack([np.append(np.cos(a), 1 - np.cos(b)), np.append(np.sin(a), 1 - np.sin(b) - 0.5)]).T
    return (x + rng.normal(scale=noise, size=x.shape))[rng.permutation(n)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "two_moons_python.png"
    rng = np.random.default_rng(0)
    data = two_moons(3000, 0.05, rng)
    train, test = data[:2700], data[2700:]
    flow = eigenflow.Flow(random_state=0, verbose=True).fit(train)  # eigenflow train's 2D defaults: realnvp
    print(f"held-out NLL {-flow.score(test):.4f} nats per point")
    samples = flow.sample(2000, random_state=1)
    grid = np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 200)
    xx, yy = np.meshgrid(*grid)
    density = np.exp(flow.score_samples(np.column_stack([xx.ravel(), yy.ravel()]))).reshape(xx.shape)
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharex=True, sharey=True)
    axes[0].scatter(*train.T, s=1)
    axes[0].set_title("data")
    axes[1].scatter(*samples.T, s=1, color="tab:orange")
    axes[1].set_title("samples")
    axes[2].pcolormesh(xx, yy, density, shading="auto")
    axes[2].set_title("model density")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    flow.save("two_moons_python.json")  # eigenflow's model file: `eigenflow sample --model ...` reads it
    print(f"wrote {out} and two_moons_python.json")


if __name__ == "__main__":
    main()
