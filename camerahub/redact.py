"""Secrets never reach a log line: one redaction for URLs, headers, tokens and passwords.

`redact()` cleans any text; `install()` puts it in front of every log record of the process
(ours, uvicorn's, botocore's, PyAV's FFmpeg messages), through the log record factory, so a
logger added later or one that does not propagate is covered too. This module imports
nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import logging
import re
import traceback

MASK = "***"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://***@host (FFmpeg repeats the URL it opened)
    # (greedy to the last @ before the path: a password may hold a raw, unencoded @)
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s'\"<>]*@"), rf"\1{MASK}@"),
    # Authorization / Proxy-Authorization / X-API-Key headers, in text or repr'd dicts
    (re.compile(r"(?i)((?:proxy-)?authorization|x-api-key)(['\"]?\s*[:=]\s*['\"]?)"
                r"(?:(?:basic|bearer|digest)\s+)?[^'\"\r\n,}]+"), rf"\1\2{MASK}"),
    # access_token=..., token=..., password=..., secret=... in queries, forms and reprs
    (re.compile(r"(?i)\b(access_token|refresh_token|token|password|passwd|secret|api_key|"
                r"apikey|signature)(['\"]?\s*[:=]\s*['\"]?)[^&\s'\",;}]+"), rf"\1\2{MASK}"),
    # ONVIF WS-Security: <wsse:Password ...>digest</wsse:Password>, and the nonce
    (re.compile(r"(?i)(<(?:\w+:)?(?:Password|Nonce)\b[^>]*>)[^<]*"), rf"\1{MASK}"),
)


def redact(text: str) -> str:
    """The text with every credential-looking part replaced by ***."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted_record_factory(base):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = base(*args, **kwargs)
        _scrub(record)
        return record
    factory.camerahub_redacting = True  # type: ignore[attr-defined]
    return factory


def _scrub(record: logging.LogRecord) -> None:
    """Format the message now, redacted, so no handler or formatter sees the original."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken %-format must not lose the record
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info))
                                 .rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Redact every log record this process creates from now on (idempotent)."""
    base = logging.getLogRecordFactory()
    if not getattr(base, "camerahub_redacting", False):
        logging.setLogRecordFactory(_redacted_record_factory(base))
