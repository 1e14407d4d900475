"""The router (label + features -> tier) and its versioned policy artifact."""

from switchtower.route.features import FEATURES, feature_vector, features_of
from switchtower.route.policy import OutcomeExample, Policy, fit_policy
from switchtower.route.router import PolicyRouter

__all__ = [
    "FEATURES",
    "OutcomeExample",
    "Policy",
    "PolicyRouter",
    "feature_vector",
    "features_of",
    "fit_policy",
]
