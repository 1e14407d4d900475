"""Per-signal positives and hard negatives (written apart from the benchmark set)."""

from __future__ import annotations

import pytest

from switchtower.signals import compute_failure_modes
from switchtower.types import FAILURE_MODES

FIRE = 0.5

POSITIVES = [
    (
        "security_sensitive",
        "Store the webhook signing secret in Vault and verify the HMAC on each call.",
    ),
    (
        "security_sensitive",
        "Patch the SQL injection in the search handler by using parameterized queries.",
    ),
    (
        "security_sensitive",
        "Give the reporting role read-only permissions checks on every admin endpoint.",
    ),
    (
        "high_consequence_write",
        "Delete the inactive tenants' records from the production database now.",
    ),
    ("high_consequence_write", "Force-push the squashed history to origin/main."),
    ("high_consequence_write", "Email every subscriber the new pricing announcement."),
    (
        "risky_migration",
        "Write an Alembic migration that renames the email column and backfills it.",
    ),
    ("risky_migration", "Upgrade the service from Django 3.2 to 5.0."),
    ("risky_migration", "Move the job queue from RabbitMQ to Kafka."),
    (
        "missing_repo_context",
        "Why does load_settings() in app/settings.py ignore the env override?",
    ),
    ("missing_repo_context", "Fix the bug in this function so it stops double counting."),
    (
        "long_dependency_chain",
        "First export the failing builds, then group them by error, then for each "
        "group find the commit that caused it, and finally file a ticket using those results.",
    ),
]

NEGATIVES = [
    ("security_sensitive", "How many tokens fit in the model's context window?"),
    ("security_sensitive", "Change the font of the sign-in button to bold."),
    ("security_sensitive", "Explain in general how TLS handshakes work, for a talk."),
    (
        "high_consequence_write",
        "Draft an email to subscribers about the new pricing; I'll send it.",
    ),
    ("high_consequence_write", "Don't deploy anything, just list what changed since Friday."),
    ("high_consequence_write", "Add a delete button to the todo list component."),
    ("high_consequence_write", "What would happen if I force-pushed to main?"),
    ("risky_migration", "Explain what a database migration is, in two sentences."),
    ("risky_migration", "Bump requests from 2.31.0 to 2.31.1."),
    ("risky_migration", "Write a story about geese migrating south."),
    ("missing_repo_context", "Write a Python function that merges two sorted lists."),
    ("missing_repo_context", "What does Python's zip() do with lists of unequal length?"),
    ("long_dependency_chain", "Fix the typos: teh, adn, recieve."),
    ("long_dependency_chain", "What is a dependency chain in package managers?"),
]


@pytest.mark.parametrize(("signal", "text"), POSITIVES)
def test_positive_fires_with_evidence(signal: str, text: str) -> None:
    sig = compute_failure_modes(text)[signal]
    assert sig.score >= FIRE, (text, sig)
    assert sig.evidence, "a fired signal must quote what triggered it"
    assert all(isinstance(e, str) and 0 < len(e) <= 80 for e in sig.evidence)


@pytest.mark.parametrize(("signal", "text"), NEGATIVES)
def test_hard_negative_stays_below_threshold(signal: str, text: str) -> None:
    sig = compute_failure_modes(text)[signal]
    assert sig.score < FIRE, (text, sig)


def test_exactly_the_five_failure_modes_in_order() -> None:
    out = compute_failure_modes("anything at all")
    assert tuple(out) == FAILURE_MODES
    assert all(out[name].name == name for name in FAILURE_MODES)


def test_negation_cancels_an_action() -> None:
    text = "Deploy the billing service to production."
    assert compute_failure_modes(text)["high_consequence_write"].score >= FIRE
    negated = "Do not deploy the billing service to production."
    assert compute_failure_modes(negated)["high_consequence_write"].score < FIRE


@pytest.mark.parametrize(
    ("code_edit", "data_delete"),
    [
        (
            "Remove the else branch in validate_email, it can never run.",
            "Delete the old feature branches that were merged last quarter.",
        ),
        (
            "Remove the deprecated methods from the User class.",
            "Remove all inactive users from the accounts table.",
        ),
        (
            "Remove the empty strings from the tags array in the request payload.",
            "Remove the old release tags from the repository.",
        ),
        (
            "Remove the unused keys from the settings dict.",
            "Delete the unused keys from the production key vault.",
        ),
    ],
)
def test_deleting_code_constructs_is_not_a_consequential_write(
    code_edit: str, data_delete: str
) -> None:
    """A branch of an if, a key of a dict or a method of a class is code being edited;
    the same verbs on git branches, tables, repositories or production stay writes."""
    assert compute_failure_modes(code_edit)["high_consequence_write"].score < FIRE
    assert compute_failure_modes(data_delete)["high_consequence_write"].score >= FIRE


def test_staging_is_discounted_against_production() -> None:
    prod = compute_failure_modes("Truncate the sessions table in production.")
    staging = compute_failure_modes("Truncate the sessions table in staging.")
    assert staging["high_consequence_write"].score < prod["high_consequence_write"].score


def test_missing_context_reads_all_messages() -> None:
    """The code may come in an earlier turn: then the reference is satisfied."""
    ask = {"role": "user", "content": "Why does parse_config() return None?"}
    alone = compute_failure_modes(messages=[ask])
    assert alone["missing_repo_context"].score >= FIRE
    code = "```python\ndef parse_config(path):\n    data = load(path)\n```"
    with_code = compute_failure_modes(
        messages=[{"role": "user", "content": code}, {"role": "assistant", "content": "ok"}, ask]
    )
    assert with_code["missing_repo_context"].score < FIRE


def test_tool_result_counts_as_attached_file() -> None:
    msgs = [
        {"role": "user", "content": "Refactor src/util/dates.py to use zoneinfo."},
        {"role": "tool", "content": "# src/util/dates.py\nimport pytz\ndef now(): ..."},
    ]
    assert compute_failure_modes(messages=msgs)["missing_repo_context"].score < FIRE


def test_attached_code_not_containing_reference_counts_half() -> None:
    text = "Why does handle_refund() crash?\n```python\ndef unrelated():\n    pass\n```"
    none = compute_failure_modes("Why does handle_refund() crash?")["missing_repo_context"]
    partial = compute_failure_modes(text)["missing_repo_context"]
    assert 0.0 < partial.score < none.score


def test_a_literal_pasted_on_its_own_line_is_attached_code() -> None:
    """``settings = {...}`` on a line of its own gives the names it holds; a file the
    request does not give still counts, as beside any attached code."""
    literal = "settings = {'debug': True, 'legacy_mode': False, 'old_flag': None}"
    pasted = f"Remove the unused keys from the settings dict below.\n\n{literal}"
    assert compute_failure_modes(pasted)["missing_repo_context"].score == 0.0
    named = compute_failure_modes(
        f"Remove the unused keys from load_settings in config/settings.py.\n\n{literal}"
    )["missing_repo_context"]
    assert named.score > 0.0
    assert named.evidence[0] == "file config/settings.py"
    assert named.evidence[-1] == "attached code lacks them"


def test_three_dependent_steps_are_a_chain() -> None:
    """Three imperative steps whose later ones use the earlier results are a chain; three
    independent requests in one sentence are not."""
    chain = (
        "Find the services that pin the old auth library, check which version each one "
        "pins, then upgrade those below 2.0 and rerun their tests."
    )
    assert compute_failure_modes(chain)["long_dependency_chain"].score >= FIRE
    single = "Fix the typo in the README."
    assert compute_failure_modes(single)["long_dependency_chain"].score < FIRE


def test_pointing_back_at_something_the_request_named_is_not_missing_code() -> None:
    back = "Write a function that parses ISO dates, then add tests for this function."
    assert compute_failure_modes(back)["missing_repo_context"].score < FIRE
    out = "Add tests for this function and make them pass."
    assert compute_failure_modes(out)["missing_repo_context"].score >= FIRE


def test_a_minor_upgrade_the_request_calls_breaking_is_a_risky_migration() -> None:
    k8s = "Upgrade the cluster from 1.26 to 1.29 and update the deprecated API versions."
    assert compute_failure_modes(k8s)["risky_migration"].score >= FIRE
    bump = "Bump requests from 2.28 to 2.31."
    assert compute_failure_modes(bump)["risky_migration"].score < FIRE
