"""One redaction layer: no secret survives into a log line, whichever logger writes it."""

from __future__ import annotations

import io
import logging

import pytest

from camerahub import redact

SECRET = "s3cr%40t-Pa55"
LEAKS = [
    f"rtsp://admin:{SECRET}@127.0.0.1:8554/main: Server returned 401 Unauthorized",
    f"rtsps://admin:{SECRET}@cam.example/stream",
    "rtsp://admin:raw@pa55@127.0.0.1/x",  # an unencoded @ inside the password
    f"{{'Authorization': 'Basic {SECRET}'}}",
    f"Authorization: Bearer {SECRET}",
    f"x-api-key: {SECRET}",
    f"GET /api/v1/cameras/a/clip.mp4?access_token={SECRET}&start=1 HTTP/1.1",
    f"password={SECRET}",
    f'{{"password": "{SECRET}"}}',
    f"<wsse:Password Type='#PasswordDigest'>{SECRET}</wsse:Password>",
]


@pytest.mark.parametrize("text", LEAKS)
def test_redact_removes_the_secret(text):
    cleaned = redact.redact(text)
    assert SECRET not in cleaned and "pa55" not in cleaned
    assert redact.MASK in cleaned


def test_redact_leaves_ordinary_text_alone():
    text = "camera hq-1f-01 at http://127.0.0.1:8080/onvif/device_service: token refused"
    assert redact.redact(text) == text


@pytest.fixture
def installed():
    """redact.install() for one test, with the factory restored afterwards."""
    before = logging.getLogRecordFactory()
    redact.install()
    redact.install()  # idempotent
    yield
    logging.setLogRecordFactory(before)


def _capture(logger: logging.Logger) -> io.StringIO:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return out


def test_every_logger_is_covered_including_non_propagating_ones(installed):
    lonely = logging.getLogger("camerahub-test.lonely")
    lonely.propagate = False  # as uvicorn.access does
    out = _capture(lonely)
    lonely.info('%s - "GET /x?access_token=%s HTTP/1.1" %d', "127.0.0.1", SECRET, 200)
    lonely.warning("camera: %s", LEAKS[0])
    lonely.error({"password": SECRET})
    assert SECRET not in out.getvalue() and out.getvalue().count(redact.MASK) == 3


def test_tracebacks_are_redacted(installed):
    logger = logging.getLogger("camerahub-test.traceback")
    logger.propagate = False
    out = _capture(logger)
    try:
        raise RuntimeError(f"cannot open rtsp://admin:{SECRET}@127.0.0.1/main")
    except RuntimeError:
        logger.exception("recording failed")
    assert "RuntimeError" in out.getvalue() and SECRET not in out.getvalue()


def test_a_broken_format_string_still_logs(installed):
    logger = logging.getLogger("camerahub-test.broken")
    logger.propagate = False
    out = _capture(logger)
    logger.info("%d cameras at %s", "not-a-number", f"rtsp://u:{SECRET}@h/")
    assert "not-a-number" in out.getvalue() and SECRET not in out.getvalue()
