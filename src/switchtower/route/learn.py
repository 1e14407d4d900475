"""Small numerical helpers for :func:`switchtower.route.policy.fit_policy` (numpy only).

A per-model logistic regression on the router's features with a fixed per-row offset
(the logit of the model's per-operation success rate), L2-regularized towards a centre
(zero, or the parent policy's weights), with the penalty picked by k-fold
cross-validated log-loss. Targets may be fractional (judge score / 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["LAMBDAS", "fit_logistic", "logit", "sigmoid"]

FloatArray = npt.NDArray[np.float64]

#: penalty grid searched by cross-validation (larger = closer to the centre)
LAMBDAS: tuple[float, ...] = (1.0, 10.0, 100.0)
_EPS = 1e-6


def logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return float(np.log(p / (1.0 - p)))


def sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out


def _newton(
    x: FloatArray, y: FloatArray, offset: FloatArray, lam: float, centre: FloatArray
) -> FloatArray:
    w = centre.copy()
    eye = np.eye(x.shape[1])
    for _ in range(25):
        p = sigmoid(offset + x @ w)
        grad = x.T @ (p - y) + lam * (w - centre)
        hess = (x * (p * (1.0 - p))[:, None]).T @ x + lam * eye
        step = np.linalg.solve(hess, grad)
        w = w - step
        if float(np.max(np.abs(step))) < 1e-7:
            break
    return w


def _log_loss(x: FloatArray, y: FloatArray, offset: FloatArray, w: FloatArray) -> float:
    p = np.clip(sigmoid(offset + x @ w), _EPS, 1.0 - _EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def fit_logistic(
    x: FloatArray,
    y: FloatArray,
    offset: FloatArray,
    *,
    centre: FloatArray | None = None,
    lambdas: Sequence[float] = LAMBDAS,
    folds: int = 3,
    seed: int = 0,
) -> tuple[FloatArray, float, float]:
    """Weights, the chosen penalty and its cross-validated log-loss gain over the centre.

    ``x`` is (n, d) standardized features, ``y`` targets in [0, 1], ``offset`` (n,) the
    fixed logit per row. The gain is (loss at the centre - loss of the fit) on held-out
    folds: a non-positive gain means the features do not help and the caller should keep
    the centre.
    """
    n, d = x.shape
    c = np.zeros(d) if centre is None else centre
    order = np.random.default_rng(seed).permutation(n)
    parts = [order[i::folds] for i in range(folds)]
    best_lam, best_loss = lambdas[-1], float("inf")
    base_loss = 0.0
    for lam in lambdas:
        loss = 0.0
        base_loss = 0.0
        for k in range(folds):
            test = parts[k]
            train = np.concatenate([parts[j] for j in range(folds) if j != k])
            w = _newton(x[train], y[train], offset[train], lam, c)
            loss += _log_loss(x[test], y[test], offset[test], w) * len(test)
            base_loss += _log_loss(x[test], y[test], offset[test], c) * len(test)
        loss /= n
        base_loss /= n
        if loss < best_loss:
            best_lam, best_loss = lam, loss
    w = _newton(x, y, offset, best_lam, c)
    return w, best_lam, base_loss - best_loss
