"""Calibration maths: softmax, temperature scaling, the unknown threshold, ECE.

All of it works on plain numpy arrays of out-of-fold logits, so that the same code
calibrates every backend.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["ece", "fit_temperature", "log_softmax", "pick_threshold", "softmax"]

FloatArray = npt.NDArray[np.float64]


def log_softmax(z: npt.NDArray[np.floating]) -> FloatArray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return out


def softmax(z: npt.NDArray[np.floating]) -> FloatArray:
    return np.exp(log_softmax(z))


def fit_temperature(logits: npt.NDArray[np.floating], y: npt.NDArray[np.integer]) -> float:
    """The temperature T minimising the NLL of ``softmax(logits / T)`` (golden search)."""
    if len(y) == 0:
        return 1.0
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        return float(-log_softmax(z / math.exp(log_t))[rows, y].mean())

    lo, hi = math.log(1e-3), math.log(1e3)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return math.exp((lo + hi) / 2)


def pick_threshold(
    conf_in: npt.NDArray[np.floating],
    correct_in: npt.NDArray[np.bool_],
    conf_oos: npt.NDArray[np.floating],
    *,
    oos_weight: float = 1.0,
    standard_errors: float = 0.0,
) -> float:
    """The confidence below which the answer is ``unknown``.

    Maximises ``accepted_correct_rate(in-scope) + oos_weight * rejected_rate(out-of-scope)``
    over held-out data: an in-scope request counts as a success only if it is both kept
    and right, an out-of-scope one only if it is rejected. Without out-of-scope data the
    threshold is 0 (never answer ``unknown`` on confidence alone).

    With ``standard_errors`` > 0 it takes the *lowest* threshold whose score is within that
    many standard errors (binomial, of the best score) of the best, the one-standard-error
    rule: a threshold tuned on held-out folds of the training data overfits it, and on
    requests unlike the training examples confidences drop, so a higher threshold than the
    data firmly supports turns right answers into ``unknown``.
    """
    conf_in = np.asarray(conf_in, dtype=np.float64)
    conf_oos = np.asarray(conf_oos, dtype=np.float64)
    if len(conf_oos) == 0 or len(conf_in) == 0:
        return 0.0
    candidates = np.unique(np.concatenate([conf_in, conf_oos, [0.0]]))
    ok_sorted = np.sort(conf_in[np.asarray(correct_in, dtype=bool)])
    oos_sorted = np.sort(conf_oos)
    # kept-and-right: correct in-scope with conf >= t; rejected OOS: conf < t
    kept = len(ok_sorted) - np.searchsorted(ok_sorted, candidates, side="left")
    rejected = np.searchsorted(oos_sorted, candidates, side="left")
    score = kept / len(conf_in) + oos_weight * rejected / len(conf_oos)
    best = float(score.max())
    if standard_errors > 0:
        top = int(np.argmax(score))
        p_kept = kept[top] / len(conf_in)
        p_rej = rejected[top] / len(conf_oos)
        se = np.sqrt(
            p_kept * (1 - p_kept) / len(conf_in)
            + oos_weight**2 * p_rej * (1 - p_rej) / len(conf_oos)
        )
        best -= standard_errors * float(se)
    # any t in (previous candidate, winner] scores the same: take the middle
    i = int(np.argmax(score >= best - 1e-12))
    if i == 0:
        return 0.0
    return float((candidates[i - 1] + candidates[i]) / 2)


def ece(conf: npt.NDArray[np.floating], correct: npt.NDArray[np.bool_], bins: int = 15) -> float:
    """Expected calibration error of top-1 confidences (equal-width bins)."""
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(conf[mask].mean() - correct[mask].mean())
    return float(total)
