"""eigenflow: normalizing flows from numpy, in scikit-learn's density-estimator conventions.

    import eigenflow
    flow = eigenflow.Flow(flow="nsf", epochs=100).fit(X)        # X: (n_samples, n_features)
    log_p = flow.score_samples(X_test)                             # log-density per row
    samples = flow.sample(1000, random_state=0)
    flow.save("model.json")                                        # eigenflow's model file
    same = eigenflow.load("model.json")

`Flow.fit` runs `eigenflow train`'s own training (the same defaults, split, seeds and
model): the same rows and options give the same model file as the command line with
`--test-fraction 0`. Models are eigenflow's JSON model files, in either direction.
Errors: ValueError (shapes, values, options, malformed model files), OSError (files),
RuntimeError (numerical failures).
"""
import os
import sys

import numpy as np

from ._eigenflow import Model
from ._eigenflow import fit_callable as _fit_callable
from ._eigenflow import fit_target as _fit_target
from ._eigenflow import train as _train

__all__ = ["Flow", "Model", "load"]

# Flow's parameters, with eigenflow train's flag of the same meaning. None: the command
# line's default for these data (README, "The command line").
_FLAGS = {
    "flow": "flow", "layers": "layers", "hidden": "hidden", "depth": "depth", "bins": "bins",
    "tail_bound": "tail_bound", "mix": "mix", "actnorm": "actnorm", "activation": "activation",
    "epochs": "epochs", "batch_size": "batch", "patience": "patience", "learning_rate": "lr",
    "weight_decay": "weight_decay", "jitter": "jitter", "average_decay": "average_decay",
    "clip": "clip", "schedule": "schedule", "precision": "precision",
    "validation_fraction": "validation_fraction", "threads": "threads", "active": "active",
    "budget": "budget", "keep_last": "keep_last",
}


class _Quiet:
    """The C++ side prints its lines and progress to the process's stdout and stderr (file
    descriptors 1 and 2): silence both for the duration, except while a Python callback runs,
    so that what the callback prints is seen."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.saved = None

    def __enter__(self):
        if self.enabled:
            self.saved = [os.dup(1), os.dup(2)]
            self._silence()
        return self

    def __exit__(self, *exception):
        if self.enabled:
            self._restore()
            for fd in self.saved:
                os.close(fd)

    def _silence(self):
        sys.stdout.flush()
        sys.stderr.flush()
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)

    def _restore(self):
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)

    def audible(self, callback):
        """callback, heard while it runs; None stays None. Not callable: left for the C++
        side to refuse with its message."""
        if callback is None or not callable(callback) or not self.enabled:
            return callback

        def heard(report):
            self._restore()
            try:
                return callback(report)
            finally:
                self._silence()
        return heard


def _seed(random_state):
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31))
    seed = int(random_state)
    if seed < 0:
        raise ValueError(f"random_state must be non-negative, found {seed}")
    return seed


class Flow:
    """A normalizing flow fitted by maximum likelihood, as `eigenflow train` fits it.

    Parameters (None: eigenflow train's default for the data's size and dimension)
    flow : "realnvp", "nice", "glow", "maf", "iaf", "nsf", "nsf-ar", "cnf", "subspace", ...
        None: realnvp in 2D, beyond 2D the subspace flow (kept only when clearly better
        than nsf on validation).
    layers, hidden, depth, bins, tail_bound, mix, actnorm, activation: the model's shape.
    epochs, batch_size, patience, learning_rate, weight_decay, jitter, average_decay, clip,
    schedule: the training recipe (AdamW, early stopping on validation).
    validation_fraction : float, default 0.1
        Rows of X held out for early stopping when fit gets no X_val.
    precision : "float" or "double", default "float".
    random_state : int, default 0. The split's, the model's and the batches' seed.
    threads : int, default 0 (every core).
    verbose : bool, default False. Print eigenflow train's lines and progress (fit's
        callback gets each report whether or not).
    """

    def __init__(self, flow=None, *, layers=None, hidden=None, depth=None, bins=None, tail_bound=None,
                 mix=None, actnorm=None, activation=None, epochs=None, batch_size=None, patience=None,
                 learning_rate=None, weight_decay=None, jitter=None, average_decay=None, clip=None,
                 schedule=None, validation_fraction=None, precision=None, threads=None, active=None,
                 budget=None, keep_last=None, random_state=0, verbose=False):
        self.flow = flow
        self.layers = layers
        self.hidden = hidden
        self.depth = depth
        self.bins = bins
        self.tail_bound = tail_bound
        self.mix = mix
        self.actnorm = actnorm
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.jitter = jitter
        self.average_decay = average_decay
        self.clip = clip
        self.schedule = schedule
        self.validation_fraction = validation_fraction
        self.precision = precision
        self.threads = threads
        self.active = active
        self.budget = budget
        self.keep_last = keep_last
        self.random_state = random_state
        self.verbose = verbose

    # ---- scikit-learn's estimator protocol --------------------------------------------
    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in [*_FLAGS, "random_state", "verbose"]}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in _FLAGS and name not in ("random_state", "verbose"):
                raise ValueError(f"Flow has no parameter '{name}'")
            setattr(self, name, value)
        return self

    def __repr__(self):
        given = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v is not None and k != "verbose")
        return f"Flow({given})"

    def fit(self, X, y=None, *, context=None, X_val=None, context_val=None, callback=None):
        """Trains on X (n_samples, n_features); y is ignored (scikit-learn's convention).

        callback(report) is called after every epoch with a dict: epoch, epochs, train_nll,
        validation_nll, improved (the best validation NLL so far), seconds, steps_per_second,
        eta_seconds. Returning False stops training there (the kept parameters are chosen as
        after early stopping); an exception it raises ends fit and reaches the caller. Beyond
        2D with the default flow, each candidate of the search counts its epochs from 1.
        Ctrl-C ends training with KeyboardInterrupt at the next epoch's end."""
        options = {flag: getattr(self, name) for name, flag in _FLAGS.items() if getattr(self, name) is not None}
        options["seed"] = _seed(self.random_state)
        with _Quiet(not self.verbose) as quiet:
            text = _train(options, X, context, X_val, context_val, quiet.audible(callback))
        self.model_ = Model.from_json(text)
        self.n_features_in_ = self.model_.dim
        return self

    def fit_target(self, target, *, dim=None, loc=0.0, scale=1.0, steps=40000, anneal=None, samples=100000, callback=None):
        """Variational inference: fits the flow's density q to an unnormalised target by
        reverse KL, as `eigenflow fit` does (flow None: 32 planar layers in the sampling
        direction; learning_rate None: 1e-2; batch_size None: 256; anneal None: half the steps).

        target: a built-in target's name ("u1", "u2", "u3", "u4", "banana", "funnel", "ring"),
        or a callable log_density(x) of an (n, dim) array returning log p~ per row, or the
        pair (log p~, its gradient (n, dim)); without the gradient it is taken by central
        differences (2·dim more calls per step). For a callable give dim, and loc and scale
        (numbers or dim values) to place the base N(0, I) over the target: x = loc + scale·T(u).
        Afterwards elbo_, log_normalizer_ (with log_normalizer_se_), ess_fraction_ and
        pareto_k_ hold the importance-sampling check on `samples` draws (callables only; the
        command line prints them for built-in targets). callback(report), as in fit, is called
        every max(1, min(100, steps / 20)) steps with step, steps, elbo, beta, seconds,
        steps_per_second and eta_seconds."""
        options = {"steps": steps, "samples": samples, "seed": _seed(self.random_state)}
        renamed = {"learning_rate": "fit_lr", "batch_size": "fit_batch", "clip": "fit_clip"}
        for name in ("flow", "layers", "hidden", "depth", "bins", "tail_bound", "mix", "actnorm", "activation",
                     "schedule", "precision", "threads", "learning_rate", "batch_size", "clip"):
            if getattr(self, name) is not None:
                options[renamed.get(name, _FLAGS[name])] = getattr(self, name)
        if anneal is not None:
            options["anneal"] = anneal
        if isinstance(target, str):
            with _Quiet(not self.verbose) as quiet:
                text = _fit_target(options, target, quiet.audible(callback))
        else:
            if not callable(target) or dim is None:
                raise ValueError("fit_target: give a built-in target's name, or a callable and its dim")
            row = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), (int(dim),)).reshape(1, -1)  # noqa: E731
            with _Quiet(not self.verbose) as quiet:
                text, *check = _fit_callable(options, target, int(dim), row(loc), row(scale), quiet.audible(callback))
            self.elbo_, self.log_normalizer_, self.log_normalizer_se_, self.ess_fraction_, self.pareto_k_ = check
        self.model_ = Model.from_json(text)
        self.n_features_in_ = self.model_.dim
        return self

    def _fitted(self):
        if not hasattr(self, "model_"):
            raise ValueError("this Flow is not fitted yet: call fit(X) first (or eigenflow.load a model file)")
        return self.model_

    def score_samples(self, X, context=None):
        """log p(x) per row (log p(x | c) given a context), in the model's precision."""
        return self._fitted().log_prob(X, context)

    def score(self, X, y=None, context=None):
        """The mean log-likelihood per row (as GaussianMixture.score)."""
        return float(np.mean(self.score_samples(X, context), dtype=np.float64))

    def sample(self, n_samples=1, context=None, random_state=None):
        """n_samples draws, (n_samples, n_features)."""
        return self.sample_and_log_prob(n_samples, context, random_state)[0]

    # ---- the flow verbs of Zuko and nflows ----------------------------------------------
    def log_prob(self, X, context=None):
        return self.score_samples(X, context)

    def forward(self, X, context=None):
        """(z, log|det dz/dx|): data to latent."""
        return self._fitted().forward(X, context)

    def inverse(self, Z, context=None):
        """(x, log|det dx/dz|): latent to data."""
        return self._fitted().inverse(Z, context)

    def sample_and_log_prob(self, n_samples=1, context=None, random_state=None):
        return self._fitted().sample_and_log_prob(int(n_samples), context, _seed(random_state))

    # ---- model files ----------------------------------------------------------------------
    def save(self, path):
        self._fitted().save(os.fspath(path))

    def to_json(self):
        return self._fitted().to_json()


def load(path):
    """A fitted Flow of an eigenflow model file (one the command line wrote, say)."""
    flow = Flow()
    flow.model_ = Model.load(os.fspath(path))
    flow.n_features_in_ = flow.model_.dim
    flow.precision = "float" if flow.model_.precision == "float32" else "double"
    return flow
