"""The nightly closed loop: score yesterday's traces, fit an updated policy for the
router and the selector, publish it only if it predicts held-out outcomes better, keep
every version so any can be restored.

``scoring.py`` traces -> scored examples (what the learner sees: never the prompt),
``history.py`` the published versions and rollback, ``run.py`` one nightly pass. See
docs/nightly.md.
"""

from switchtower.nightly.history import PolicyHistory, PolicyVersion
from switchtower.nightly.run import NightlyReport, run_nightly
from switchtower.nightly.scoring import ScoredTrace, score_trace

__all__ = [
    "NightlyReport",
    "PolicyHistory",
    "PolicyVersion",
    "ScoredTrace",
    "run_nightly",
    "score_trace",
]
