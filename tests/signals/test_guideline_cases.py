"""Cases of the labelling guideline the rules used to get wrong on requests written blind
(2026-11-26): each pair shows the rule firing where it should and not where it should not."""

from __future__ import annotations

import pytest

from switchtower.signals import compute_failure_modes


def score(name: str, text: str) -> float:
    return compute_failure_modes(text)[name].score


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # a table and its columns are data, not code
        ("Create an index on invoices(account_id, issued_at) in Postgres, 300M rows.", False),
        ("Fix the crash in parse_config(path, strict) when the file is empty.", True),
        # a record's fields in an agent's task header are not symbols
        ("[agent] job_id=4412 requested_by: billing-bot\nrun the nightly export", False),
        # a support ticket is not code; a pull request is
        ("Refund order 7781 for the customer in support ticket 3310.", False),
        ("Review PR #482 and tell me if the retry logic is right.", True),
        # an endpoint being written is not one being referred to
        ("Write a FastAPI endpoint POST /orders that stores the body in Redis.", False),
        ("Why does POST /documents/{id} return 500 since yesterday?", True),
    ],
)
def test_missing_repo_context(text: str, fires: bool) -> None:
    assert (score("missing_repo_context", text) >= 0.5) is fires


@pytest.mark.parametrize(
    "text",
    [
        "Primero exporta los pedidos, luego calcula el total por cliente, después compara "
        "con la semana pasada y al final envíame un resumen.",
        "Zuerst die Logs herunterladen, danach die Fehler zählen, anschließend die Top 5 "
        "auswählen und schließlich ein Ticket anlegen.",
    ],
)
def test_sequence_markers_in_other_languages(text: str) -> None:
    assert score("long_dependency_chain", text) >= 0.5
    first_step = text.split(",", maxsplit=1)[0]
    assert score("long_dependency_chain", first_step) < 0.5  # one step is no chain


def test_security_vocabulary() -> None:
    assert score("security_sensitive", "Add a search box; make sure it is not injectable.") >= 0.5
    assert score("security_sensitive", "Set up Postgres row-level security per tenant.") >= 0.5
    assert score("security_sensitive", "Add a search endpoint to the catalogue page.") < 0.5


def test_dns_record_changes_and_incident_docs() -> None:
    assert (
        score("high_consequence_write", "Point the CNAME for shop.example.com at the new LB.")
        >= 0.5
    )
    # writing the postmortem of a force-push is writing a document, not force-pushing
    doc = "Write a blameless postmortem for last week's force-push to main: timeline, impact."
    assert score("high_consequence_write", doc) < 0.5
    assert score("high_consequence_write", "Force-push the rebased history to main now.") >= 0.5


# the third blind set's dev half (2026-11-26): written in other words than the rules knew
@pytest.mark.parametrize(
    ("name", "text", "fires"),
    [
        # a verb after a dash stands where an instruction's verb stands; "addresses" is
        # not "add", so a match starting there no longer hides the verb after it
        (
            "high_consequence_write",
            "Backfill region from the addresses table — run it on prod.",
            True,
        ),
        ("high_consequence_write", "Block 185.220.101.0/24 on the prod WAF now.", True),
        (
            "high_consequence_write",
            "Desactiva la cuenta de Carlos en el panel de producción.",
            True,
        ),
        ("high_consequence_write", "Block the spammy sender in my local mail filter.", False),
        ("risky_migration", "Drop the deprecated legacy_orders table on prod.", True),
        (
            "risky_migration",
            "Change price from FLOAT to NUMERIC(12,2) on the products table.",
            True,
        ),
        ("risky_migration", "Swap Jest for Vitest in the admin dashboard repo.", True),
        ("risky_migration", "Write the job that moves user uploads from NFS into S3.", True),
        ("risky_migration", "Explain what swapping Jest for Vitest would mean for us.", False),
        ("security_sensitive", "Is this safe against XSS? `s.replace(/<script>/g, '')`", True),
        (
            "security_sensitive",
            "Make sure invited users can only ever see their own org's data.",
            True,
        ),
        ("security_sensitive", "Generate a Content-Security-Policy for the marketing site.", True),
        ("security_sensitive", "Are we accidentally logging DATABASE_URL anywhere?", True),
        ("security_sensitive", "Revoca sus claves SSH del bastión hoy.", True),
        ("security_sensitive", "Which S3 buckets hold the most objects?", False),
        (
            "missing_repo_context",
            "Write a Kubernetes CronJob manifest for the nightly report.",
            False,
        ),
        ("missing_repo_context", "Napisz nowy plik docker-compose.yml z Postgresem.", False),
        (
            "long_dependency_chain",
            "Eerst de export ophalen, daarna koppelen aan het CRM, vervolgens de NPS berekenen "
            "en ten slotte een rapport schrijven.",
            True,
        ),
    ],
)
def test_third_blind_set_cases(name: str, text: str, fires: bool) -> None:
    assert (score(name, text) >= 0.5) is fires
