"""The shared backoff schedule (camerahub.retry) that the uploader and the recorder use."""

from __future__ import annotations

import itertools

from camerahub.retry import Backoff
from camerahub.storage import RetryPolicy
from camerahub.video import Backoff as ReconnectBackoff


def test_delays_follow_delay_and_start_over_with_a_new_iterator():
    policy = Backoff(initial_s=1, max_s=8, factor=2, jitter=0)
    assert list(itertools.islice(policy.delays(), 6)) == [1, 2, 4, 8, 8, 8]
    assert next(policy.delays()) == 1


def test_a_very_long_outage_stays_at_the_cap():
    """2.0 ** 1100 overflows a float: an uploader retrying for ~17 h must not crash on it."""
    policy = Backoff(initial_s=1, max_s=60, jitter=0)
    assert policy.delay(1100) == 60
    assert Backoff(initial_s=1, max_s=60, factor=2, jitter=0).delay(10**6) == 60


def test_both_users_keep_their_parameters():
    assert RetryPolicy() == Backoff(initial_s=1, max_s=60, factor=2, jitter=0.25)
    reconnect = ReconnectBackoff()
    assert (reconnect.initial_s, reconnect.max_s, reconnect.factor, reconnect.jitter) == (
        1, 60, 2, 0.2)
    for attempt in (1, 3, 20):
        assert 0.8 * min(2 ** (attempt - 1), 60) <= reconnect.delay(attempt) <= 1.2 * min(
            2 ** (attempt - 1), 60)
