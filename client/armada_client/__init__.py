"""The agents' client of the Armada tracking service (standard library only).

    from armada_client import MonitoringClient

    client = MonitoringClient(run_uuid, agent_number, job_uuid).create_job()
    client.record_success_event("Page loaded")
    client.record_finalsuccess_event("Done")     # or: client.record_failed_event("Error: ...")

Every call queues its report and returns at once; a background thread sends the queue,
events batched (README.md beside this package says how, and what happens in an outage).
"""

from armada_client.aio import AsyncMonitoringClient
from armada_client.client import (
    DEFAULT_BASE_URL,
    STATUSES,
    ArmadaMonitoringClient,
    MonitoringClient,
)
from armada_client.errors import (
    ArmadaClientError,
    ConflictError,
    NotFoundError,
    RequestRejected,
    ServiceUnavailable,
)
from armada_client.transport import (
    TOKEN_VARIABLE,
    backoff_delay,
    clean_token,
    retry_after_seconds,
)
from armada_client.version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "STATUSES",
    "TOKEN_VARIABLE",
    "ArmadaClientError",
    "ArmadaMonitoringClient",
    "AsyncMonitoringClient",
    "ConflictError",
    "MonitoringClient",
    "NotFoundError",
    "RequestRejected",
    "ServiceUnavailable",
    "__version__",
    "backoff_delay",
    "clean_token",
    "retry_after_seconds",
]
