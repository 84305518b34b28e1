"""Times as the project's rows carry them: epoch milliseconds, UTC."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_ms(value) -> int:
    """A time in epoch milliseconds: a datetime (naive read as UTC), or an object with `to_epoch_milli()` (a
    Java Instant, as PyFlink hands TIMESTAMP_LTZ over)."""
    if hasattr(value, "to_epoch_milli"):
        return int(value.to_epoch_milli())
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // timedelta(milliseconds=1)
