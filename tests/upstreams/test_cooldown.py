"""An upstream's health: allowed fails in a row, a cool-down that doubles while it keeps failing,
one probe after it, Retry-After, and rpm."""

from __future__ import annotations

from gateway.upstreams.cooldown import COOLDOWN_CAP, Health


def test_it_cools_down_after_allowed_fails_in_a_row_and_a_success_between_resets_the_count() -> None:
    health = Health("a", allowed_fails=3, cooldown_time=10)
    assert health.failed(None, 0) is None and health.failed(None, 0) is None
    health.succeeded()
    assert health.failed(None, 1) is None and health.failed(None, 1) is None
    assert health.failed(None, 1) == 10
    assert health.state(5) == "cooling" and not health.available(5)
    assert health.state(11) == "ok" and health.available(11)


def test_one_request_probes_it_after_and_each_failed_probe_doubles_the_cool_down() -> None:
    health = Health("a", allowed_fails=1, cooldown_time=10)
    assert health.failed(None, 0) == 10
    health.sending(10)  # the probe
    assert health.state(10) == "probing" and not health.available(10)  # the others keep away
    assert health.failed(None, 10) == 20  # one failure after a cool-down is enough
    health.done()
    health.sending(30)
    assert health.failed(None, 30) == 40
    health.done()
    health.sending(70)
    health.succeeded()
    health.done()
    assert health.state(70) == "ok" and health.available(70) and health.in_flight == 0
    assert health.failed(None, 71) == 10  # well again: back to the first cool-down


def test_the_cool_down_stops_doubling_at_its_cap() -> None:
    health = Health("a", allowed_fails=1, cooldown_time=100)
    now = 0.0
    for _ in range(8):
        seconds = health.failed(None, now)
        assert seconds is not None
        now += seconds
    assert seconds == COOLDOWN_CAP


def test_a_retry_after_cools_it_down_for_that_long_at_the_first_failure() -> None:
    health = Health("a", allowed_fails=3, cooldown_time=30)
    assert health.failed(2.0, 100) == 2.0
    assert health.state(101.9) == "cooling" and health.state(102.0) == "ok"


def test_a_cool_down_time_of_zero_never_cools_it_down() -> None:
    health = Health("a", allowed_fails=1, cooldown_time=0)
    assert health.failed(None, 0) is None and health.available(0)


def test_at_its_rpm_it_takes_no_more_requests_until_a_minute_has_passed() -> None:
    health = Health("a", allowed_fails=3, cooldown_time=30, rpm=2)
    health.sending(0)
    health.sending(1)
    assert not health.available(30)
    assert health.available(60.5)  # the first of the two is over a minute old


def test_an_answer_to_a_request_sent_before_the_cool_down_leaves_it_and_a_last_resort_ends_it() -> None:
    health = Health("a", allowed_fails=3, cooldown_time=30)
    assert health.sending(100) is False  # sent while well
    health.failed(5.0, 100)  # another request's 429, Retry-After: 5
    assert health.succeeded(sent_cooling=False) is False
    assert health.state(101) == "cooling"  # the Retry-After holds
    assert health.sending(101) is True  # a last resort, while it cools
    assert health.succeeded(sent_cooling=True) is True and health.state(101) == "ok"
