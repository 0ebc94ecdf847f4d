"""API secrets that cannot leak by accident: redacted reprs and a log filter as a second fence."""

from __future__ import annotations

import logging

REDACTED = "***"


class Secret:
    """A credential; ``str()``/``repr()`` never show it, only ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __reduce__(self):  # pickling would write the value somewhere we do not control
        raise TypeError("Secret cannot be pickled")


class RedactingFilter(logging.Filter):
    """Replaces any known secret value in a log record's final text with ``***``.

    Reprs already redact; this catches secrets that reach a log line some other way (an
    exchange echoing a request URL, an exception message quoting a header).
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        clean = text
        for s in self._secrets:
            if s in clean:
                clean = clean.replace(s, REDACTED)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_text is None:
            # Render the traceback now so the redaction also covers it.
            formatted = logging.Formatter().formatException(record.exc_info)
            for s in self._secrets:
                formatted = formatted.replace(s, REDACTED)
            record.exc_text, record.exc_info = formatted, None
        return True


def install_redaction(secrets: list[Secret]) -> None:
    """Attach the filter to every root handler, so all loggers' output is covered."""
    filt = RedactingFilter([s.reveal() for s in secrets])
    for handler in logging.getLogger().handlers:
        handler.addFilter(filt)
