"""A small Gaussian process regression in numpy/scipy: the response model's engine.

Kernel: an ARD squared-exponential (one lengthscale per input column) times a signal
variance, plus a noise variance; a constant mean, estimated by generalized least squares
with its uncertainty in every interval. Inputs are expected scaled to about [0, 1] per
column (`sweeps.report.encoding`), outputs are standardized here (their mean and SD), so
the hyperparameter priors below mean the same for every metric.

Hyperparameters are the *maximum a posteriori* of the marginal likelihood under weak
log-normal priors (lengthscale about 0.7 of a searched span, signal variance about the
data's, noise wide), found by L-BFGS-B with analytic gradients from a few fixed starts: a
handful of trials cannot pin down a lengthscale, and the priors keep a fit from collapsing
onto the data or onto a constant. A few trials do not pin the MAP down either, so
predictions average over it and settings drawn around it (the Laplace approximation):
without that, eight trials often explain the seed noise as signal and the intervals are too
narrow. The noise variance has a floor, the measured seed-to-seed variance when one is
known: a new run cannot be predicted more closely than the seeds agree.

Everything is deterministic: fixed starts, no random restarts, a fixed seed for draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG_LENGTH_PRIOR = (math.log(0.7), 1.0)
"""log lengthscale ~ N(mean, sd), in units of the scaled inputs (a searched span is 1)."""
LOG_SIGNAL_PRIOR = (0.0, 1.0)
"""log signal variance ~ N(mean, sd), in units of the standardized outputs."""
LOG_NOISE_PRIOR = (math.log(0.2), 1.5)
"""log noise variance ~ N(mean, sd), standardized."""
BOUNDS = {"length": (0.03, 30.0), "signal": (1e-3, 30.0), "noise": (1e-6, 4.0)}
STARTS = ((0.7, 1.0, 0.1), (2.0, 1.0, 0.5), (0.25, 1.0, 0.01))
"""(lengthscale, signal variance, noise variance) the optimizer starts from, standardized;
beyond ONE_START observations only the first (more data, one clear optimum, n³ each)."""
ONE_START = 60
JITTER = 1e-9
SAMPLES = 17
"""Hyperparameter settings a prediction averages over: the MAP and 8 antithetic pairs."""


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m, d): squared differences per column."""
    return (a[:, None, :] - b[None, :, :]) ** 2


def _kernel(d2: np.ndarray, length: np.ndarray, signal: float) -> np.ndarray:
    return signal * np.exp(-0.5 * np.sum(d2 / length**2, axis=-1))


def _chol(k: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor, with as little jitter on the diagonal as it takes."""
    from scipy.linalg import cholesky

    jitter = JITTER
    for _ in range(8):
        try:
            return cholesky(k + jitter * np.eye(len(k)), lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            jitter *= 100
    raise np.linalg.LinAlgError("kernel matrix is not positive definite")


def _inverse(chol: np.ndarray) -> np.ndarray:
    """K⁻¹ from K's lower Cholesky factor."""
    return _solve(chol, np.eye(len(chol)))


def _log_prior(theta: np.ndarray, d: int) -> tuple[float, np.ndarray]:
    """Log density (up to a constant) of the priors on log-hyperparameters, and its gradient."""
    means = np.array([LOG_LENGTH_PRIOR[0]] * d + [LOG_SIGNAL_PRIOR[0], LOG_NOISE_PRIOR[0]])
    sds = np.array([LOG_LENGTH_PRIOR[1]] * d + [LOG_SIGNAL_PRIOR[1], LOG_NOISE_PRIOR[1]])
    z = (theta - means) / sds
    return float(-0.5 * z @ z), -z / sds


def _objective(theta: np.ndarray, d2: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The negative log posterior of the log-hyperparameters and its gradient."""
    n, d = len(y), d2.shape[-1]
    length, signal, noise = np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])
    kf = _kernel(d2, length, signal)
    try:
        chol = _chol(kf + noise * np.eye(n))
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = _solve(chol, y)
    kinv = _inverse(chol)
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
    w = np.outer(alpha, alpha) - kinv
    grad = np.empty_like(theta)
    for j in range(d):
        grad[j] = -0.5 * np.sum(w * kf * d2[..., j] / length[j] ** 2)
    grad[d] = -0.5 * np.sum(w * kf)
    grad[d + 1] = -0.5 * noise * np.trace(w)
    lp, dlp = _log_prior(theta, d)
    return float(nll - lp), grad - dlp


def _solve(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import cho_solve

    return cho_solve((chol, True), b, check_finite=False)


@dataclass(frozen=True)
class _Draw:
    """The process at one setting of its hyperparameters."""

    length: np.ndarray
    signal: float
    """Signal variance, standardized."""
    noise: float
    """Noise variance, standardized."""
    chol: np.ndarray
    alpha: np.ndarray
    """K⁻¹ (y - beta), standardized."""
    beta: float
    """The constant mean's generalized least-squares estimate, standardized."""
    kinv1: np.ndarray
    """K⁻¹ 1: the mean's estimate is uncertain, by 1 / (1ᵀ K⁻¹ 1) (a flat prior on it)."""

    def mean_var(self, ks: np.ndarray) -> np.ndarray:
        """The constant mean's share of the variance at points with cross-kernel `ks`."""
        u = 1.0 - ks @ self.kinv1
        return u * u / float(np.sum(self.kinv1))


@dataclass(frozen=True)
class GP:
    """A fitted Gaussian process; `predict` and `draws` are in the outputs' own units. Its
    hyperparameters' uncertainty is kept: predictions average over `SAMPLES` settings drawn
    from the Laplace approximation of their posterior (a Gaussian in log space around the
    MAP, with the curvature there as precision), so a noise level or lengthscale that a few
    trials cannot pin down widens the interval instead of being taken as known."""

    x: np.ndarray
    y: np.ndarray
    offset: float
    """The outputs' mean (standardization)."""
    scale: float
    """The outputs' SD (standardization)."""
    theta: np.ndarray
    """The MAP log-hyperparameters: lengthscales, signal variance, noise variance."""
    settings: tuple[_Draw, ...]

    @property
    def noise(self) -> float:
        """The noise variance of one observation (one run), in the outputs' units squared
        (averaged over the hyperparameters' draws)."""
        return float(np.mean([s.noise for s in self.settings])) * self.scale**2

    def _parts(self, xs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, _Draw]]:
        """(standardized mean, latent variance) per hyperparameter setting."""
        xs = np.atleast_2d(xs)
        d2 = _sqdist(xs, self.x)
        out = []
        for s in self.settings:
            ks = _kernel(d2, s.length, s.signal)
            v = _solve_lower(s.chol, ks.T)
            var = s.signal - np.sum(v * v, axis=0) + s.mean_var(ks)
            out.append((s.beta + ks @ s.alpha, np.maximum(var, 0.0), s))
        return out

    def predict(self, xs: np.ndarray, run: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(mean, variance) of the mean response at each row of `xs`, or with `run` of one
        new run there (its noise added): moments of the mixture over hyperparameters."""
        parts = self._parts(xs)
        means = np.array([m for m, _, _ in parts])
        vars_ = np.array([v + (s.noise if run else 0.0) for _, v, s in parts])
        mean = means.mean(axis=0)
        var = (vars_ + means**2).mean(axis=0) - mean**2
        return self.offset + self.scale * mean, np.maximum(var, 0.0) * self.scale**2

    def draws(self, xs: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
        """(n, len(xs)) joint draws of the mean response at `xs` (for the argmax of a curve
        and differences between its points), the hyperparameter settings taken in turn."""
        xs = np.atleast_2d(xs)
        rng = np.random.default_rng(seed)
        out = np.empty((n, len(xs)))
        d2x = _sqdist(xs, self.x)
        for i, s in enumerate(self.settings):
            rows = np.arange(i, n, len(self.settings))
            if not len(rows):
                continue
            ks = _kernel(d2x, s.length, s.signal)
            v = _solve_lower(s.chol, ks.T)
            u = 1.0 - ks @ s.kinv1
            cov = _kernel(_sqdist(xs, xs), s.length, s.signal) - v.T @ v
            cov += np.outer(u, u) / float(np.sum(s.kinv1))
            root = _chol(0.5 * (cov + cov.T) + 1e-9 * s.signal * np.eye(len(xs)))
            z = rng.standard_normal((len(rows), len(xs)))
            out[rows] = s.beta + ks @ s.alpha + z @ root.T
        return self.offset + self.scale * out


def _solve_lower(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(chol, b, lower=True, check_finite=False)


def _standardize(y: np.ndarray, noise_floor: float) -> tuple[float, float]:
    offset = float(np.mean(y))
    sd = float(np.std(y))
    scale = sd if sd > 1e-12 else max(math.sqrt(noise_floor), 1e-6)
    return offset, scale


def _bounds(d: int, floor: float) -> np.ndarray:
    """(p, 2): the log-hyperparameters' bounds; the noise's lower one is the floor."""
    lo_n = max(BOUNDS["noise"][0], floor)
    hi_n = max(BOUNDS["noise"][1], 1.01 * lo_n)
    return np.log([BOUNDS["length"]] * d + [BOUNDS["signal"], (lo_n, hi_n)])


def fit(
    x: np.ndarray,
    y: np.ndarray,
    noise_floor: float = 0.0,
    start: np.ndarray | None = None,
) -> GP:
    """The fit on inputs `x` (n, d) and outputs `y` (n,). `noise_floor`: the smallest noise
    variance allowed, in the outputs' units squared (the seed-to-seed variance). `start`:
    log-hyperparameters to start from instead of the fixed starts (a refit)."""
    from scipy.optimize import minimize

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(y) < 2:
        raise ValueError("a response model needs at least two observations")
    offset, scale = _standardize(y, noise_floor)
    ys = (y - offset) / scale
    d = x.shape[1]
    d2 = _sqdist(x, x)
    bounds = _bounds(d, noise_floor / scale**2)
    fixed = STARTS if len(y) <= ONE_START else STARTS[:1]
    starts = [start] if start is not None else [np.log([ell] * d + [s, n]) for ell, s, n in fixed]
    best = None
    for theta0 in starts:
        res = minimize(
            _objective, np.clip(theta0, *bounds.T), args=(d2, ys), jac=True,
            method="L-BFGS-B", bounds=bounds, options={"maxiter": 200},
        )  # fmt: skip
        if best is None or res.fun < best.fun:
            best = res
    thetas = _laplace(best.x, d2, ys, bounds)
    return GP(x, y, offset, scale, best.x, tuple(_setting(t, d2, ys) for t in thetas))


def _laplace(theta: np.ndarray, d2: np.ndarray, ys: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(SAMPLES, p): the MAP and draws around it from the Laplace approximation (antithetic
    pairs, a fixed seed), inside the bounds."""
    p = len(theta)
    eps = 1e-4
    hess = np.empty((p, p))
    for j in range(p):
        step = np.zeros(p)
        step[j] = eps
        hess[:, j] = (_objective(theta + step, d2, ys)[1] - _objective(theta - step, d2, ys)[1]) / (
            2 * eps
        )
    vals, vecs = np.linalg.eigh(0.5 * (hess + hess.T))
    root = vecs / np.sqrt(np.clip(vals, 1.0, None))  # the priors' precision is at least 1
    z = np.random.default_rng(0).standard_normal(((SAMPLES - 1) // 2, p))
    draws = theta + np.vstack([z, -z]) @ root.T
    return np.vstack([theta, np.clip(draws, *bounds.T)])


def _setting(theta: np.ndarray, d2: np.ndarray, ys: np.ndarray) -> _Draw:
    d = d2.shape[-1]
    length, signal, noise = np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])
    chol = _chol(_kernel(d2, length, signal) + noise * np.eye(len(ys)))
    kinv1 = _solve(chol, np.ones(len(ys)))
    beta = float(kinv1 @ ys / np.sum(kinv1))
    return _Draw(length, signal, noise, chol, _solve(chol, ys - beta), beta, kinv1)


@dataclass(frozen=True)
class Held:
    """Leave-one-group-out predictions: for each observation, the mean and the variance of a
    new run predicted by a model that did not see its group."""

    mean: np.ndarray
    var: np.ndarray
    method: str


def held_out(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    noise_floor: float,
    full: GP,
    refit_max: int,
) -> Held:
    """Each group (a configuration and its replicates) left out in turn. Up to `refit_max`
    observations the model is refitted on the rest, hyperparameters and standardization included
    (started from `full`'s); beyond, the closed form with `full`'s hyperparameters
    (Rasmussen & Williams, eq. 5.12, for a block)."""
    ids = list(dict.fromkeys(groups.tolist()))
    mean, var = np.empty(len(y)), np.empty(len(y))
    if len(y) <= refit_max:
        for g in ids:
            out = groups == g
            mean[out], var[out] = fit(x[~out], y[~out], noise_floor, full.theta).predict(
                x[out], run=True
            )
        return Held(mean, var, "each configuration left out, the model refitted on the rest")
    ys = (y - full.offset) / full.scale
    means, second = np.zeros(len(y)), np.zeros(len(y))
    for s in full.settings:
        kinv = _inverse(s.chol)
        for g in ids:
            idx = np.flatnonzero(groups == g)
            block = np.linalg.inv(kinv[np.ix_(idx, idx)])
            m = ys[idx] - block @ s.alpha[idx]
            means[idx] += m / len(full.settings)
            second[idx] += (np.diag(block) + m**2) / len(full.settings)
    mean = full.offset + full.scale * means
    var = np.maximum(second - means**2, 0.0) * full.scale**2
    return Held(
        mean, var, "each configuration left out, closed form with the full fit's hyperparameters"
    )
