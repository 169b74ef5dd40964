#!/usr/bin/env python3
"""Load figures of periodize plan files, computed independently of the Rust code.

For each plan file given: CTL start -> peak -> end, the largest weekly CTL ramp, the largest
ACWR (ATL / CTL), the time in each Coggan zone, and the longest ride.

CTL and ATL use the TrainingPeaks update (CTL_t = CTL_{t-1} + (TSS_t - CTL_{t-1}) / 42, ATL with
7), seeded with the athlete's `current_ctl` when the profile gives it, else with the CTL week 1
implies (its TSS / 7, a steady state). The ACWR is the rolling 7-day over 28-day load read on
each Sunday, the weeks before the plan at the starting CTL every day. Workout TSS is recomputed from the segments (hours x IF^2
x 100, IF the midpoint of the power range, repeats expanded), so a plan file's own figures are
not trusted.

Usage: plan_metrics.py [--markdown] PLAN.json...
"""

import datetime
import json
import sys

ZONES = [(55, "Z1"), (75, "Z2"), (90, "Z3"), (105, "Z4"), (120, "Z5"), (150, "Z6"), (1e9, "Z7")]


def steps(segment):
    """The flat (minutes, low %, high %) steps of a segment, repeats expanded."""
    sets = segment.get("sets")
    work = segment.get("work")
    if sets and work:
        parts = [work] + ([segment["recovery"]] if segment.get("recovery") else [])
        for _ in range(int(sets)):
            for part in parts:
                yield from steps(part)
        return
    low = float(segment["power_low_pct"])
    high = segment.get("power_high_pct")
    high = low if high is None else float(high)
    yield float(segment["duration_min"]), low, high


def zone(pct):
    for limit, name in ZONES:
        if pct <= limit:
            return name
    return "Z7"


def metrics(plan):
    profile = plan.get("athlete_profile", {})
    daily = {}
    zone_min = {name: 0.0 for _, name in ZONES}
    longest = 0.0
    week_tss = []
    start = datetime.date.fromisoformat(plan["plan_metadata"]["start_date"])
    for week in plan["weekly_plan"]:
        total = 0.0
        for workout in week.get("workouts", []):
            minutes = 0.0
            tss = 0.0
            for segment in workout["segments"]:
                for duration, low, high in steps(segment):
                    intensity = (low + high) / 200.0
                    tss += duration / 60.0 * intensity * intensity * 100.0
                    minutes += duration
                    zone_min[zone((low + high) / 2.0)] += duration
            date = datetime.date.fromisoformat(workout["date"])
            daily[date] = daily.get(date, 0.0) + tss
            total += tss
            longest = max(longest, minutes)
        week_tss.append(total)
    weeks = len(plan["weekly_plan"])
    seed = profile.get("current_ctl")
    ctl = float(seed) if seed is not None else week_tss[0] / 7.0
    atl = ctl
    ctl_start = ctl
    ctl_peak = ctl
    week_end_ctl = [ctl]
    max_acwr = 0.0
    history = [ctl] * 28
    ctl_on = {}
    for day in range(weeks * 7):
        date = start + datetime.timedelta(days=day)
        tss = daily.get(date, 0.0)
        history.append(tss)
        ctl += (tss - ctl) / 42.0
        atl += (tss - atl) / 7.0
        ctl_on[date] = ctl
        ctl_peak = max(ctl_peak, ctl)
        if day % 7 == 6:
            week_end_ctl.append(ctl)
            chronic = sum(history[-28:]) / 4.0
            if chronic > 0:
                max_acwr = max(max_acwr, sum(history[-7:]) / chronic)
    ramps = [b - a for a, b in zip(week_end_ctl, week_end_ctl[1:])]
    # A plan that ends on its event ends there, not on the Sunday after it.
    event = plan["weekly_plan"][-1].get("event") if plan["weekly_plan"] else None
    if event:
        ctl = ctl_on[datetime.date.fromisoformat(event["date"])]
    total_min = sum(zone_min.values()) or 1.0
    return {
        "ctl_start": ctl_start,
        "ctl_peak": ctl_peak,
        "ctl_end": ctl,
        "max_ramp": max(ramps) if ramps else 0.0,
        "max_acwr": max_acwr,
        "low": (zone_min["Z1"] + zone_min["Z2"]) / total_min * 100,
        "mid": (zone_min["Z3"] + zone_min["Z4"]) / total_min * 100,
        "high": (zone_min["Z5"] + zone_min["Z6"] + zone_min["Z7"]) / total_min * 100,
        "threshold": zone_min["Z4"] / total_min * 100,
        "above_120": (zone_min["Z6"] + zone_min["Z7"]) / total_min * 100,
        "longest_min": longest,
        "weeks": weeks,
    }


def main(argv):
    markdown = "--markdown" in argv
    paths = [arg for arg in argv if arg != "--markdown"]
    if markdown:
        print("| plan | weeks | CTL start → peak → end | max ramp/wk | max ACWR | zones low/mid/high % | Z4 % | >120 % | longest ride |")
        print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            m = metrics(json.load(handle))
        figures = (
            f"{m['weeks']} | {m['ctl_start']:.1f} → {m['ctl_peak']:.1f} → {m['ctl_end']:.1f} | "
            f"{m['max_ramp']:+.1f} | {m['max_acwr']:.2f} | "
            f"{m['low']:.0f}/{m['mid']:.0f}/{m['high']:.0f} | {m['threshold']:.1f} | "
            f"{m['above_120']:.1f} | {m['longest_min']:.0f} min"
        )
        print(f"| {path} | {figures} |" if markdown else f"{path}: {figures}")


if __name__ == "__main__":
    main(sys.argv[1:])
