from __future__ import annotations

import numpy as np

from switchtower.classify.calibrate import ece, fit_temperature, pick_threshold, softmax


def test_temperature_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2
    y = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    t = fit_temperature(true_logits * 3.0, y)  # over-confident by a factor 3
    assert 2.5 < t < 3.5


def test_ece_is_small_when_calibrated_and_large_when_not() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.2, 1.0, 20000)
    correct = rng.uniform(size=conf.shape) < conf
    assert ece(conf, correct) < 0.02
    assert ece(np.ones_like(conf), correct) > 0.2


def test_threshold_separates_and_defaults_to_zero_without_oos() -> None:
    conf_in = np.array([0.9, 0.95, 0.8, 0.85])
    correct = np.ones(4, dtype=bool)
    conf_oos = np.array([0.1, 0.2, 0.3])
    t = pick_threshold(conf_in, correct, conf_oos)
    assert 0.3 < t <= 0.8
    assert pick_threshold(conf_in, correct, np.zeros(0)) == 0.0


def test_one_standard_error_rule_takes_the_lowest_threshold_within_the_noise() -> None:
    """Scores that barely move over a range of thresholds: the plain maximum sits high in
    it, the standard-error rule at its bottom, and never below a clearly worse one."""
    rng = np.random.default_rng(0)
    conf_in = rng.uniform(0.3, 1.0, 400)
    correct = rng.uniform(size=400) < 0.95
    conf_oos = np.concatenate([rng.uniform(0.0, 0.3, 90), rng.uniform(0.3, 0.6, 10)])
    plain = pick_threshold(conf_in, correct, conf_oos)
    lenient = pick_threshold(conf_in, correct, conf_oos, standard_errors=1.0)
    assert lenient < plain
    assert lenient > 0.2  # rejecting most out-of-scope requests is still clearly better
    assert pick_threshold(conf_in, correct, conf_oos, standard_errors=0.0) == plain
