from datetime import UTC, datetime, timedelta

import pytest

from analyzer.timeutil import WindowError, fmt_duration, fmt_utc, parse_duration, resolve_window

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("48h", 172800), ("2h30m", 9000), ("7d", 604800), ("1w", 604800)],
)
def test_durations_like_kubectl_and_logcli(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5x", "48", "", "-5m", "0s", "h", "2 h"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(WindowError, match=r"^--since: "):
        parse_duration(text)


def test_since_counts_back_from_until():
    w = resolve_window(since="48h", until="2026-01-31T12:00:00+02:00", now=NOW)
    assert w.start == datetime(2026, 1, 29, 10, 0, tzinfo=UTC)
    assert w.end == datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


def test_since_defaults_to_now():
    w = resolve_window(since="2h30m", now=NOW)
    assert (w.start, w.end) == (NOW - timedelta(hours=2, minutes=30), NOW)


def test_absolute_bounds_and_open_window():
    w = resolve_window(from_="2026-01-28T00:00:00Z", to="2026-01-30T00:00:00Z")
    assert w.end - w.start == timedelta(days=2)
    assert resolve_window() == resolve_window(now=NOW)  # open on both sides, now unused
    assert resolve_window().start is None and resolve_window().end is None


def test_until_before_start_is_an_error_naming_the_flag():
    with pytest.raises(WindowError, match=r"^--to: 2026-01-27T00:00:00Z is not after"):
        resolve_window(from_="2026-01-28T00:00:00Z", to="2026-01-27T00:00:00Z")
    with pytest.raises(WindowError, match=r"^--until: "):
        resolve_window(from_="2026-01-28T00:00:00Z", until="2026-01-28T00:00:00Z")


def test_conflicting_flags_and_bad_times():
    with pytest.raises(WindowError, match="--since and --from"):
        resolve_window(since="1h", from_="2026-01-28T00:00:00Z")
    with pytest.raises(WindowError, match=r"^--until: cannot read 'yesterday'"):
        resolve_window(since="1h", until="yesterday")
    with pytest.raises(WindowError, match="no time zone"):
        resolve_window(from_="2026-01-28T00:00:00")


def test_printed_times_are_utc_with_z():
    t = datetime(2026, 1, 31, 18, 19, 5, tzinfo=UTC)
    assert fmt_utc(t) == "2026-01-31T18:19:05Z"
    assert fmt_utc(t.astimezone()).endswith("Z")
    assert fmt_duration(45) == "45s"
    assert fmt_duration(72) == "1m 12s"
    assert fmt_duration(2700, lower_bound=True) == "≥ 45m 00s"
    assert fmt_duration(7500) == "2h 05m"
