"""Reads iCalendar files with the icalendar package, an independent parser of the export
tests, and prints what it read as JSON: one object per file (in the order given) with the
calendar's properties and every VEVENT's uid, dtstamp, dtstart, dtend (ISO dates), summary
and description (unfolded and unescaped). Exits non-zero when a file does not parse, a
component reports a parse error, or an event lacks a property every event needs.

    check_ics.py FILE.ics [FILE.ics ...]
"""

import datetime
import json
import sys

import icalendar

REQUIRED = ("uid", "dtstamp", "dtstart", "summary")


def iso(value):
    if not isinstance(value, datetime.date):
        raise ValueError(f"{value!r} is not a date or a date-time")
    return value.isoformat()


def read(path):
    with open(path, "rb") as handle:
        calendar = icalendar.Calendar.from_ical(handle.read())
    problems = []
    for component in calendar.walk():
        for prop, error in getattr(component, "errors", []):
            problems.append(f"{component.name} {prop}: {error}")
    events = []
    for event in calendar.walk("VEVENT"):
        missing = [name for name in REQUIRED if name not in event]
        if missing:
            problems.append(f"VEVENT {event.get('uid')}: missing {', '.join(missing)}")
            continue
        events.append(
            {
                "uid": str(event["uid"]),
                "dtstamp": iso(event.decoded("dtstamp")),
                "dtstart": iso(event.decoded("dtstart")),
                "dtend": iso(event.decoded("dtend")) if "dtend" in event else None,
                "summary": str(event["summary"]),
                "description": str(event.get("description", "")),
            }
        )
    if problems:
        raise ValueError("; ".join(problems))
    return {
        "version": str(calendar.get("version", "")),
        "prodid": str(calendar.get("prodid", "")),
        "calscale": str(calendar.get("calscale", "")),
        "name": str(calendar.get("x-wr-calname", "")),
        "events": events,
    }


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    results = []
    for path in paths:
        try:
            results.append(read(path))
        except Exception as error:  # every failure to read is the file's failure
            print(f"{path}: {error}", file=sys.stderr)
            return 1
    json.dump(results, sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
