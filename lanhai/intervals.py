"""The business dates an Airflow run covers, and the week a weekly review reports on.

Business dates are Asia/Shanghai days. Airflow hands out pendulum datetimes in UTC and gives
asset-triggered runs no data interval, so every task asks `interval_of(context)` instead of
reading the data interval itself, and passes its interval on in its asset events
(`interval_extra`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

PARAMS_DOC = """
Run it by hand over a range (e.g. everything that has arrived) with the params
`interval_start` / `interval_end` (YYYY-MM-DD); a scheduled run or a backfill uses its data
interval (Asia/Shanghai days)."""


def params() -> dict:
    """The `interval_start` / `interval_end` params of a DAG run by hand over a range."""
    from airflow.sdk import Param

    return {"interval_start": Param(None, type=["null", "string"], format="date",
                                    description="first business date (default: the data "
                                                "interval)"),
            "interval_end": Param(None, type=["null", "string"], format="date",
                                  description="last business date, inclusive")}


def _day(value) -> date | None:
    """A business date as a plain `datetime.date` (Airflow hands out pendulum objects, which
    PySpark's DateType refuses: it checks the exact type)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return date.fromisoformat(str(value)[:10])


def interval_of(context) -> tuple[date | None, date | None]:
    """The business dates a run covers, inclusive.

    1. `interval_start` / `interval_end` params (a manual run over everything that arrived);
    2. an asset-triggered run: the union of the intervals its triggering events carry (Airflow
       3 gives such runs no data interval);
    3. a scheduled run or a backfill: its data interval in Asia/Shanghai (end exclusive).
    """
    given = context.get("params") or {}
    if given.get("interval_start") and given.get("interval_end"):
        return _day(given["interval_start"]), _day(given["interval_end"])
    events = context.get("triggering_asset_events") or {}
    starts, ends = [], []
    for evs in events.values():
        for ev in evs:
            extra = getattr(ev, "extra", None) or {}
            if extra.get("interval_start"):
                starts.append(_day(extra["interval_start"]))
                ends.append(_day(extra["interval_end"]))
    if starts:
        return min(starts), max(ends)
    lo, hi = context.get("data_interval_start"), context.get("data_interval_end")
    if lo is None or hi is None:
        return None, None
    end = _day(hi)
    if isinstance(hi, datetime) and hi.astimezone(SHANGHAI).time() == datetime.min.time():
        end -= timedelta(days=1)
    return _day(lo), max(end, _day(lo))


def interval_extra(start: date, end: date, **more) -> dict:
    """An asset event's extra: the interval it covers (and any counts)."""
    return {"interval_start": start.isoformat(), "interval_end": end.isoformat(), **more}


def review_week(context) -> str:
    """The ISO week a weekly-review run reports on: the `week` param, else the week that ended
    on the Sunday before the run (a Monday 09:00 run reports on last week)."""
    given = context.get("params") or {}
    if given.get("week"):
        return str(given["week"])
    when = context.get("logical_date") or context.get("data_interval_end") or datetime.now(
        SHANGHAI)
    return last_complete_week(when.astimezone(SHANGHAI).date() - timedelta(days=1))


def review_quarter(context) -> str:
    """The calendar quarter a quarterly-review run reports on: the `quarter` param, else the
    quarter that ended before the run (the first Monday of April reports on Q1)."""
    given = context.get("params") or {}
    if given.get("quarter"):
        return str(given["quarter"])
    when = context.get("logical_date") or context.get("data_interval_end") or datetime.now(
        SHANGHAI)
    day = when.astimezone(SHANGHAI).date()
    q = (day.month - 1) // 3 + 1
    return f"{day.year - 1}Q4" if q == 1 else f"{day.year}Q{q - 1}"


def last_complete_week(day: date) -> str:
    """The ISO week of the last Sunday on or before `day`: the latest week that data up to and
    including `day` covers (the one place this is computed from a date; from the marts it is
    `lanhai.summary.latest_complete_week`)."""
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    year, week, _ = sunday.isocalendar()
    return f"{year}-W{week:02d}"
