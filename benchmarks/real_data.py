"""Writes the real data sets that ship inside Debian's python3-sklearn (no
download) as CSV splits for real_data.sh: for each set and seed, a shuffled
80/10/10 split into OUT/NAME/SEED/{train,validation,test}.csv.

usage: real_data.py OUT SEED...
prints one line per set: name rows columns integer|real
"""
import os
import sys

import numpy as np
from sklearn import datasets

SETS = {
    "wine": datasets.load_wine,                    # 178 x 13, chemical measurements
    "breast_cancer": datasets.load_breast_cancer,  # 569 x 30, cell-nucleus features
    "diabetes": datasets.load_diabetes,            # 442 x 10, scaled patient features
    "digits": datasets.load_digits,                # 1797 x 64, 8x8 images, integers 0..16
}


def main():
    out, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
    for name, load in SETS.items():
        x = load().data.astype(float)
        integer = bool(np.all(x == np.floor(x)))
        header = ",".join(f"x{j}" for j in range(x.shape[1]))
        for seed in seeds:
            order = np.random.default_rng(seed).permutation(len(x))
            n_test = n_val = int(round(0.1 * len(x)))
            parts = {"test": order[:n_test], "validation": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
            folder = os.path.join(out, name, str(seed))
            os.makedirs(folder, exist_ok=True)
            for part, rows in parts.items():
                np.savetxt(os.path.join(folder, part + ".csv"), x[rows], delimiter=",", header=header, comments="", fmt="%.17g")
        print(name, x.shape[0], x.shape[1], "integer" if integer else "real")


if __name__ == "__main__":
    main()
