"""When samples happen: the recordings' assumed start and parsing of recording-start settings.

The dataset has no clock: each line is one sample at 50 Hz (``READING_PERIOD_MICROS`` in
``mhealth.core.schema``), so a timestamp is a start time plus ``reading_index`` periods.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

#: When the recordings are taken to start unless the job is told otherwise
#: (``--recording_start``). MHEALTH was published in 2014; the choice only shifts the clock.
DEFAULT_RECORDING_START: Final = "2014-01-01T00:00:00Z"


def parse_recording_start(text: str) -> datetime:
    """An ISO-8601 instant (``Z`` or an offset; a naive value is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"recording start {text!r} is not an ISO-8601 time such as {DEFAULT_RECORDING_START}"
        ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
