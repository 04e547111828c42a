"""Forward KL(p(.|c) || q(.|c)) of a conditional eigenflow model on rotated moons, at fixed angles.

p is written again here from docs/datasets.md (the 1000 make_moons centres, noise 0.05, turned
by c about (1/2, 1/4)); points drawn from it at each c are scored with `eigenflow logprob`.
    python3 conditional_kl.py MODEL.json PATH/TO/eigenflow [DRAWS]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

model, exe = sys.argv[1], sys.argv[2]
draws = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
M, noise = 1000, 0.05
t_out, t_in = np.linspace(0, np.pi, M // 2), np.linspace(0, np.pi, M - M // 2)
centres = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
centre = np.array([0.5, 0.25])


def rotate(p, a):
    c, s = np.cos(a), np.sin(a)
    u = p - centre
    return centre + np.c_[c * u[:, 0] - s * u[:, 1], s * u[:, 0] + c * u[:, 1]]


def log_p(x, a):  # log p(x | a): the equal mixture of N(centre_k, noise² I) at the unrotated point
    y = rotate(x, -a)
    terms = -((y[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * noise**2) - np.log(2 * np.pi * noise**2)
    top = terms.max(1)
    return top + np.log(np.exp(terms - top[:, None]).mean(1))


rng = np.random.default_rng(5)
with tempfile.TemporaryDirectory() as work:
    points, scores = os.path.join(work, "points.csv"), os.path.join(work, "log_q.csv")
    for a in [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]:
        x = rotate(centres[rng.integers(0, M, draws)] + noise * rng.standard_normal((draws, 2)), a)
        np.savetxt(points, np.c_[x, np.full(draws, a)], delimiter=",", header="x0,x1,c0", comments="")
        subprocess.run([exe, "logprob", "--model", model, "--in", points, "--out", scores], check=True)
        print("c = %.4f: forward KL = %.4f nats" % (a, (log_p(x, a) - np.loadtxt(scores, skiprows=1)).mean()))
