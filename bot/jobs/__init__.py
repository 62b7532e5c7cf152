"""Calendar jobs run by APScheduler: shifts and handover, reports, follow-ups (design.md)."""
