"""eigenflow from Python against its PyTorch twin (pytorch_tabular.py: the same models and
recipe, written from the papers), on the same real-data splits, one thread each: the
whole fit's seconds (eigenflow: Flow.fit; PyTorch: its training loop) as a ratio, and the
test NLL of each. Run by python_side_by_side.sh.

usage: python_side_by_side.py SPLITS_DIR FLOW SEED...
prints one line per set: set flow seeds, eigenflow seconds, PyTorch seconds, ratio, NLLs
"""
import os
import subprocess
import sys
import time

import numpy as np

import eigenflow

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def main():
    root, flow, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
    for name in ("wine", "breast_cancer", "diabetes"):
        ours, theirs, ours_nll, theirs_nll = [], [], [], []
        for seed in seeds:
            folder = os.path.join(root, name, str(seed))
            train, val, test = (load(os.path.join(folder, p + ".csv")) for p in ("train", "validation", "test"))
            start = time.perf_counter()
            model = eigenflow.Flow(flow, random_state=seed, threads=1).fit(train, X_val=val)
            ours.append(time.perf_counter() - start)
            ours_nll.append(-model.score(test))
            line = subprocess.run([sys.executable, os.path.join(HERE, "pytorch_tabular.py"), flow,
                                   *(os.path.join(folder, p + ".csv") for p in ("train", "validation", "test")), str(seed)],
                                  check=True, capture_output=True, text=True).stdout.split()
            theirs_nll.append(float(line[1]))
            theirs.append(float(line[3]))
        a, b = np.mean(ours), np.mean(theirs)
        print(f"| {name} | {flow} | {a:.2f} | {b:.2f} | {b / a:.1f} | {np.mean(ours_nll):.2f} | {np.mean(theirs_nll):.2f} |")


if __name__ == "__main__":
    main()
