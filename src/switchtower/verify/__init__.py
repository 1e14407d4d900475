"""Second opinions: check a cheap answer against another cheap model's, escalate on doubt.

``answers`` finds the final answer a response commits to and compares two; ``plan``
decides (in the selector) which models give second opinions and which answer when they
disagree; ``run`` executes a checked request. See ``docs/routing.md``.
"""

from switchtower.verify.answers import agreement, final_answer
from switchtower.verify.plan import plan_checks
from switchtower.verify.run import execute_checked

__all__ = ["agreement", "execute_checked", "final_answer", "plan_checks"]
