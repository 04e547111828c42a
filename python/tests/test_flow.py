"""The Python module against the command line and against independent computations.
Run by ctest (test_python) with PYTHONPATH at the build tree's package and EIGENFLOW_CLI
at the command line's binary."""
import math
import os
import pickle
import subprocess
import threading
import time

import numpy as np
import pytest

import eigenflow

CLI = os.environ.get("EIGENFLOW_CLI", "eigenflow")


def two_moons(n, noise, seed):
    """scikit-learn's make_moons, written again (docs/datasets.md)."""
    rng = np.random.default_rng(seed)
    a, b = np.linspace(0, np.pi, n // 2), np.linspace(0, np.pi, n - n // 2)
    x = np.vstack([np.append(np.cos(a), 1 - np.cos(b)), np.append(np.sin(a), 1 - np.sin(b) - 0.5)]).T
    x += rng.normal(scale=noise, size=x.shape)
    return x[rng.permutation(n)]


def gaussian_log_density(train, x):
    """The full-covariance Gaussian fitted to train (maximum likelihood), at x."""
    mean, cov = train.mean(0), np.cov(train, rowvar=False, bias=True)
    diff = x - mean
    solved = np.linalg.solve(cov, diff.T).T
    return -0.5 * (diff * solved).sum(1) - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]


def write_csv(path, x):
    header = ",".join(f"x{j + 1}" for j in range(x.shape[1]))
    np.savetxt(path, x, delimiter=",", header=header, comments="", fmt="%.17g")


def run_cli(*args):
    return subprocess.run([CLI, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def moons():
    return two_moons(1200, 0.05, 1)


@pytest.fixture(scope="module")
def fitted(moons):
    return eigenflow.Flow("realnvp", layers=4, hidden=16, epochs=30, random_state=3).fit(moons[:1000])


def test_fit_beats_the_gaussian_on_held_out_two_moons(moons, fitted):
    held_out = moons[1000:]
    flow_ll = fitted.score(held_out)
    gaussian_ll = gaussian_log_density(moons[:1000], held_out).mean()
    assert flow_ll > gaussian_ll + 0.5, (flow_ll, gaussian_ll)
    assert fitted.score_samples(held_out).shape == (200,)
    assert fitted.score_samples(held_out).dtype == np.float32  # the model's precision


def test_a_model_trained_here_is_the_cli_file_byte_for_byte(tmp_path, moons):
    data = moons[:400]
    write_csv(tmp_path / "train.csv", data)
    for precision in ("float", "double"):
        run_cli("train", "--data", str(tmp_path / "train.csv"), "--flow", "nsf", "--layers", "2", "--hidden", "8",
                "--epochs", "3", "--seed", "7", "--test-fraction", "0", "--precision", precision,
                "--out", str(tmp_path / "cli.json"))
        ours = eigenflow.Flow("nsf", layers=2, hidden=8, epochs=3, precision=precision, random_state=7).fit(data)
        ours.save(tmp_path / "python.json")
        assert (tmp_path / "python.json").read_bytes() == (tmp_path / "cli.json").read_bytes(), precision


def test_fit_target_is_the_cli_fit_byte_for_byte(tmp_path):
    run_cli("fit", "--target", "u1", "--layers", "4", "--steps", "200", "--samples", "1000", "--seed", "3",
            "--out", str(tmp_path / "cli.json"))
    flow = eigenflow.Flow(layers=4, random_state=3).fit_target("u1", steps=200, samples=1000)
    flow.save(tmp_path / "python.json")
    assert (tmp_path / "python.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    # q is a density: its samples score as sample_and_log_prob says
    samples, log_q = flow.sample_and_log_prob(100, random_state=1)
    np.testing.assert_allclose(flow.score_samples(samples), log_q, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="target"):
        eigenflow.Flow().fit_target("u9", steps=10)


def test_fit_target_on_a_python_callable_finds_a_known_gaussian():
    # p~(x) = exp(-½ (x - m)ᵀ S⁻¹ (x - m)): its log Z is log((2π)^(d/2) |S|^½), known exactly
    mean, cov = np.array([1.0, -2.0]), np.array([[1.0, 0.6], [0.6, 0.5]])
    precision = np.linalg.inv(cov)
    log_z = math.log(2 * math.pi) + 0.5 * math.log(np.linalg.det(cov))

    def with_gradient(x):
        d = x - mean
        return -0.5 * np.einsum("ij,jk,ik->i", d, precision, d), -d @ precision

    def value_only(x):
        return with_gradient(x)[0]

    for target in (with_gradient, value_only):
        flow = eigenflow.Flow("realnvp", layers=4, hidden=16, precision="double", random_state=2)
        flow.fit_target(target, dim=2, loc=[1.0, -2.0], steps=1500, samples=20000)
        assert abs(flow.log_normalizer_ - log_z) < 5 * flow.log_normalizer_se_ + 0.01, (flow.log_normalizer_, log_z)
        assert log_z - flow.elbo_ < 0.05  # KL(q || p) = log Z - ELBO
        samples = flow.sample(20000, random_state=3)
        np.testing.assert_allclose(samples.mean(0), mean, atol=0.05)
        np.testing.assert_allclose(np.cov(samples, rowvar=False), cov, atol=0.08)
    with pytest.raises(ValueError, match="rows of 1"):
        eigenflow.Flow(layers=2).fit_target(lambda x: np.zeros(3), dim=2, steps=5)
    with pytest.raises(ZeroDivisionError):  # the callable's own exception comes back
        eigenflow.Flow(layers=2).fit_target(lambda x: 1 / 0, dim=2, steps=5)


def test_densities_agree_with_the_cli(tmp_path, moons, fitted):
    fitted.save(tmp_path / "m.json")
    write_csv(tmp_path / "x.csv", moons[1000:])
    run_cli("logprob", "--model", str(tmp_path / "m.json"), "--in", str(tmp_path / "x.csv"), "--out", str(tmp_path / "lp.csv"))
    theirs = np.loadtxt(tmp_path / "lp.csv", delimiter=",", skiprows=1, ndmin=2)[:, -1]
    np.testing.assert_allclose(fitted.score_samples(moons[1000:]), theirs, rtol=1e-6, atol=1e-6)
    loaded = eigenflow.load(tmp_path / "m.json")  # and a file read back scores the same, exactly
    np.testing.assert_array_equal(loaded.score_samples(moons[1000:]), fitted.score_samples(moons[1000:]))


def test_forward_inverse_and_the_change_of_variables(moons, fitted):
    x = moons[:50]
    z, log_det = fitted.forward(x)
    back, inverse_log_det = fitted.inverse(z)
    np.testing.assert_allclose(back, x, atol=1e-4)
    np.testing.assert_allclose(inverse_log_det, -log_det, atol=1e-4)
    z64 = z.astype(np.float64)
    base = -0.5 * (z64 ** 2).sum(1) - math.log(2 * math.pi)
    np.testing.assert_allclose(fitted.log_prob(x), base + log_det, rtol=1e-5, atol=1e-5)
    samples, log_p = fitted.sample_and_log_prob(300, random_state=4)
    assert samples.shape == (300, 2)
    np.testing.assert_allclose(log_p, fitted.log_prob(samples), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(fitted.sample(5, random_state=9), fitted.sample(5, random_state=9))


def test_the_density_integrates_to_one(fitted):
    grid = np.linspace(-4, 5, 361)
    step = grid[1] - grid[0]
    xx, yy = np.meshgrid(grid, grid)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    mass = np.exp(fitted.score_samples(points).astype(np.float64)).sum() * step * step
    assert abs(mass - 1) < 0.02, mass


def test_pickle_and_params(fitted, moons):
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.score_samples(moons[:20]), fitted.score_samples(moons[:20]))
    params = fitted.get_params()
    assert params["flow"] == "realnvp" and params["layers"] == 4 and params["random_state"] == 3
    clone = eigenflow.Flow(**params)
    assert clone.get_params() == params
    assert clone.set_params(epochs=5) is clone and clone.epochs == 5
    with pytest.raises(ValueError):
        clone.set_params(colour="red")
    sklearn = pytest.importorskip("sklearn.base")
    assert sklearn.clone(fitted).get_params() == params


def test_validation_rows_and_a_conditional_model():
    rng = np.random.default_rng(5)
    c = rng.uniform(-1, 1, size=(600, 1))
    x = np.column_stack([c[:, 0] + 0.1 * rng.normal(size=600), -c[:, 0] + 0.1 * rng.normal(size=600)])
    flow = eigenflow.Flow("nsf", layers=2, hidden=16, epochs=20, random_state=1)
    flow.fit(x[:500], context=c[:500], X_val=x[500:], context_val=c[500:])
    near = flow.score_samples(np.array([[0.5, -0.5]]), context=np.array([[0.5]]))[0]
    far = flow.score_samples(np.array([[0.5, -0.5]]), context=np.array([[-0.5]]))[0]
    assert near > far + 3, (near, far)
    samples = flow.sample(100, context=np.array([[0.3]]), random_state=2)
    assert abs(samples[:, 0].mean() - 0.3) < 0.1 and abs(samples[:, 1].mean() + 0.3) < 0.1
    with pytest.raises(ValueError, match="conditional"):
        flow.score_samples(x[:3])


def test_bad_input_is_a_clear_python_error(tmp_path, fitted):
    with pytest.raises(ValueError, match="expected 2 columns"):
        fitted.score_samples(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="2-D array"):
        fitted.score_samples(np.zeros(4))
    with pytest.raises(ValueError, match="non-finite"):
        fitted.score_samples(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="non-finite"):
        eigenflow.Flow(epochs=1).fit(np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="unknown option"):
        eigenflow._eigenflow.train({"colour": "red"}, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="lr"):
        eigenflow.Flow(learning_rate=-1.0).fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises((TypeError, ValueError)):
        fitted.score_samples(np.array([["a", "b"]]))
    with pytest.raises(OSError, match="cannot open"):
        eigenflow.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "eigenflow-model", "layers": [')
    with pytest.raises(ValueError, match="not valid JSON"):
        eigenflow.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="not fitted"):
        eigenflow.Flow().score_samples(np.zeros((1, 2)))
    # any layout and dtype numpy can cast: a strided float32 view scores as its copy does
    x = np.random.default_rng(1).normal(size=(10, 4)).astype(np.float32)[:, ::2]
    np.testing.assert_array_equal(fitted.score_samples(x), fitted.score_samples(np.ascontiguousarray(x, dtype=np.float64)))


def test_arrays_of_any_layout_in_and_results_without_a_copy(fitted):
    x = np.random.default_rng(3).normal(size=(50, 2))
    expected = fitted.score_samples(x)
    same_rows = [np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2], x.astype(">f8"), x.tolist(),
                 x.astype(np.float32)]  # float32 in, float32 model: the same rounding as float64 in
    for variant in same_rows:
        np.testing.assert_array_equal(fitted.score_samples(variant), expected)
    reversed_rows = x[::-1]  # negative strides; compared with the same rows' copy (a row's bits can depend on its place in a batch)
    np.testing.assert_array_equal(fitted.score_samples(reversed_rows), fitted.score_samples(reversed_rows.copy()))
    whole = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(fitted.score_samples(whole), fitted.score_samples(whole.astype(np.float64)))
    # results are the library's own matrices, handed over: column-major, not numpy's copies
    z, log_det = fitted.forward(x)
    assert z.shape == (50, 2) and z.flags.f_contiguous and not z.flags.owndata and z.flags.writeable
    assert log_det.shape == (50,) and not log_det.flags.owndata
    back, _ = fitted.inverse(z)
    np.testing.assert_allclose(back, x, atol=1e-4)
    samples = fitted.sample(7, random_state=1)
    assert samples.shape == (7, 2) and samples.dtype == np.float32
    samples[0, 0] = 42.0  # the caller's to change
    assert samples[0, 0] == 42.0


def test_threads_score_at_once(fitted):
    x = np.random.default_rng(2).normal(size=(20000, 2))
    expected = fitted.score_samples(x)
    results = [None] * 4

    def work(i):
        results[i] = fitted.score_samples(x)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_a_callback_sees_every_epoch_and_changes_nothing(moons):
    reports = []
    data = moons[:300]
    options = dict(layers=2, hidden=8, epochs=6, patience=100, random_state=4)
    heard = eigenflow.Flow("realnvp", **options).fit(data, callback=reports.append)  # returns None: go on
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4, 5, 6]
    assert all(r["epochs"] == 6 and math.isfinite(r["train_nll"]) and math.isfinite(r["validation_nll"]) for r in reports)
    assert reports[0]["improved"] and all(r["seconds"] >= 0 for r in reports)
    plain = eigenflow.Flow("realnvp", **options).fit(data)
    assert heard.to_json() == plain.to_json()  # listening changes no bit of the model


def test_a_callback_stops_training_or_ends_fit(moons):
    data = moons[:300]
    flow = eigenflow.Flow("realnvp", layers=2, hidden=8, epochs=50, patience=100, random_state=4)
    seen = []
    flow.fit(data, callback=lambda report: seen.append(report["epoch"]) or report["epoch"] < 3)
    assert seen == [1, 2, 3] and flow.score(data) > -10

    class Enough(Exception):
        pass

    def fail_at_two(report):
        if report["epoch"] == 2:
            raise Enough("from the callback")

    again = eigenflow.Flow("realnvp", layers=2, hidden=8, epochs=50, random_state=4)
    with pytest.raises(Enough, match="from the callback"):
        again.fit(data, callback=fail_at_two)
    assert not hasattr(again, "model_")  # no model from a fit that ended in an exception
    with pytest.raises(ValueError, match="callback must be callable"):
        again.fit(data, callback=3)


def test_what_a_callback_prints_is_seen_and_the_library_stays_quiet(capfd, moons):
    eigenflow.Flow("realnvp", layers=2, hidden=8, epochs=2, random_state=4).fit(
        moons[:200], callback=lambda report: print(f"heard epoch {report['epoch']}"))
    out, err = capfd.readouterr()
    assert "heard epoch 1" in out and "heard epoch 2" in out
    assert "train flow=" not in out + err and "final" not in out + err  # eigenflow train's own lines: silenced


def test_a_signal_ends_training_at_the_next_epoch(moons):
    import signal

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    began = time.monotonic()
    try:
        timer.start()  # while the library trains without the GIL, no callback given
        with pytest.raises(Interrupted):  # a million epochs: about two minutes when not interrupted
            eigenflow.Flow("realnvp", layers=2, hidden=8, epochs=1000000, patience=0, random_state=4).fit(moons[:200])
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - began < 10  # raised in training, not after it


def test_fit_target_reports_its_steps():
    reports = []
    eigenflow.Flow(layers=2, random_state=1).fit_target("u1", steps=100, samples=100, callback=reports.append)
    assert [r["step"] for r in reports] == list(range(5, 101, 5))  # every steps / 20
    assert all(math.isfinite(r["elbo"]) and 0 <= r["beta"] <= 1 for r in reports)
    stopped = []
    eigenflow.Flow(layers=2, random_state=1).fit_target(
        lambda x: -0.5 * (x * x).sum(1), dim=2, steps=100, samples=100, callback=lambda r: stopped.append(r) or False)
    assert len(stopped) == 1
