"""Reads FIT workout files with Garmin's own FIT SDK decoder, the independent reader of the
FIT export tests: for each file given, one JSON line with its file_id, its workout message
and its workout steps as the SDK decodes them (raw values: durations in milliseconds, power
targets in percent of FTP; type names as the SDK's profile names them). Exits 1, naming the
file, on anything the SDK does not read cleanly: not a FIT file, a bad header or file CRC, a
decode error, or no workout message.

    check_fit.py FILE.fit [FILE.fit ...]
"""

import json
import sys

from garmin_fit_sdk import Decoder, Stream


def fail(path, message):
    print(f"{path}: {message}", file=sys.stderr)
    sys.exit(1)


def plain(value):
    """A decoded value as JSON holds it: dates as ISO 8601 text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def read(path):
    decoder = Decoder(Stream.from_file(path))
    if not decoder.is_fit():
        fail(path, "not a FIT file")
    if not decoder.check_integrity():
        fail(path, "integrity check failed (header, size or CRC)")
    # A new decoder: the checks above consumed the stream.
    decoder = Decoder(Stream.from_file(path))
    messages, errors = decoder.read(
        apply_scale_and_offset=False,
        merge_heart_rates=False,
        enable_crc_check=True,
    )
    if errors:
        fail(path, f"decode errors: {errors}")
    file_ids = messages.get("file_id_mesgs", [])
    workouts = messages.get("workout_mesgs", [])
    if len(file_ids) != 1 or len(workouts) != 1:
        fail(path, f"{len(file_ids)} file_id and {len(workouts)} workout messages, expected 1 each")
    workout = workouts[0]
    steps = []
    for step in messages.get("workout_step_mesgs", []):
        steps.append(
            {
                "message_index": step.get("message_index"),
                "name": step.get("wkt_step_name"),
                "notes": step.get("notes"),
                "duration_type": step.get("duration_type"),
                "duration_ms": step.get("duration_time"),
                "target_type": step.get("target_type"),
                "target_value": step.get("target_value"),
                "target_low": step.get("custom_target_power_low"),
                "target_high": step.get("custom_target_power_high"),
                "intensity": step.get("intensity"),
                "duration_step": step.get("duration_step"),
                "repeat_steps": step.get("repeat_steps"),
            }
        )
    return {
        "file": path,
        "file_id": {key: plain(value) for key, value in file_ids[0].items()},
        "workout": {
            "name": workout.get("wkt_name"),
            "description": workout.get("wkt_description"),
            "sport": workout.get("sport"),
            "num_valid_steps": workout.get("num_valid_steps"),
        },
        "steps": steps,
    }


def main(paths):
    if not paths:
        fail("check_fit.py", "no FIT file given")
    for path in paths:
        print(json.dumps(read(path), ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
