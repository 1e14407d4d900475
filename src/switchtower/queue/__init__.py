"""The job queue: requests routed to a provider batch API (the async tier's batch
entries) are stored as jobs, sent in batches, polled, and answered later.

``jobs.py`` the typed job and its JSON forms, ``store.py`` the durable table (SQLite or
PostgreSQL, claims safe across processes), ``worker.py`` the loop that submits, polls
and rescues, ``webhooks.py`` the signed events sent when a job finishes. See
docs/queue.md.
"""

from switchtower.queue.jobs import JOB_STATUSES, Job, JobStatus
from switchtower.queue.store import JobStore
from switchtower.queue.worker import QueueWorker, TickReport

__all__ = ["JOB_STATUSES", "Job", "JobStatus", "JobStore", "QueueWorker", "TickReport"]
