"""The meter's clock.

Dutch, Belgian and Luxembourg meters show local time (CET/CEST) with a flag:
W = winter (UTC+1), S = summer (UTC+2).  We compute the EU rule directly
(summer time from the last Sunday of March 01:00 UTC to the last Sunday of
October 01:00 UTC) so that neither the host's TZ nor its tz database matters.
All times here are integer Unix seconds (UTC).
"""

import calendar
import datetime as _dt
import functools

_UTC = _dt.timezone.utc


@functools.lru_cache(maxsize=64)
def _last_sunday_0100_utc(year, month):
    """Unix time of 01:00 UTC on the last Sunday of `month` (31-day months only)."""
    last = _dt.date(year, month, 31)
    # date.weekday(): Monday = 0 ... Sunday = 6
    sunday = last - _dt.timedelta(days=(last.weekday() - 6) % 7)
    return calendar.timegm((sunday.year, sunday.month, sunday.day, 1, 0, 0))


def is_summer(unix):
    """True when Europe/Amsterdam observes summer time (CEST) at `unix`."""
    year = _dt.datetime.fromtimestamp(unix, _UTC).year
    return _last_sunday_0100_utc(year, 3) <= unix < _last_sunday_0100_utc(year, 10)


def local_offset(unix):
    """Seconds east of UTC for Europe/Amsterdam at `unix` (3600 or 7200)."""
    return 7200 if is_summer(unix) else 3600


def local_time(unix):
    """Naive datetime of the wall clock in Europe/Amsterdam at `unix`."""
    return _dt.datetime.fromtimestamp(unix + local_offset(unix), _UTC).replace(tzinfo=None)


def stamp(unix, flag=True):
    """The meter's `YYMMDDhhmmssX` (X = W/S) for `unix`; without X if not `flag`."""
    text = local_time(unix).strftime("%y%m%d%H%M%S")
    if flag:
        text += "S" if is_summer(unix) else "W"
    return text


def iso_utc(unix):
    """`2024-03-31T00:30:00Z`."""
    return _dt.datetime.fromtimestamp(unix, _UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """Parse an ISO 8601 date-time to Unix seconds.  `Z` or `+hh:mm` are honoured;
    a time without an offset is taken as UTC (never as the host's local time)."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = _dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.timestamp()


def parse_stamp(text):
    """Inverse of stamp() for `YYMMDDhhmmssX`: Unix seconds, or None if it does
    not parse.  Without a W/S flag the EU rule decides (ambiguous hour -> S)."""
    if len(text) not in (12, 13) or not text[:12].isdigit():
        return None
    try:
        wall = _dt.datetime.strptime("20" + text[:12], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    wall_unix = calendar.timegm(wall.timetuple())
    flag = text[12:]
    if flag in ("S", "s"):
        return wall_unix - 7200
    if flag in ("W", "w"):
        return wall_unix - 3600
    for offset in (7200, 3600):
        if local_offset(wall_unix - offset) == offset:
            return wall_unix - offset
    return wall_unix - 3600  # in the spring gap: no such wall time; pick winter
