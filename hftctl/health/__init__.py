"""``hftctl health``: is my setup alive? Connectors, their streams, books and bots, collectors,
and leftovers of dead processes in shared memory."""

from hftctl.health.gather import clean, gather
from hftctl.health.model import HealthReport

__all__ = ["clean", "gather", "HealthReport", "check"]


def check(connector: str | None = None, do_clean: bool = False) -> HealthReport:
    """Gather (after removing leftovers if ``do_clean``) and judge."""
    removed = clean(connector) if do_clean else []
    report = gather(connector)
    report.cleaned = removed
    return report
