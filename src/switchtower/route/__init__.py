"""The router (label + features -> tier) and its versioned policy artifact."""

from switchtower.route.policy import (
    FEATURES,
    OutcomeExample,
    Policy,
    feature_vector,
    features_of,
    fit_policy,
)

__all__ = [
    "FEATURES",
    "OutcomeExample",
    "Policy",
    "feature_vector",
    "features_of",
    "fit_policy",
]
