#!/usr/bin/python3
"""Writes the example replay traces tests/replay/<policy>.csv.

The CSV files are committed; this script documents how they were made
and regenerates them byte for byte (no randomness except a seeded
shuffle). Each trace tells one story for one example policy in
policies/examples; the .expected files next to them are the decisions
`floe replay -c tests/replay/site.json` prints for them, checked by
tests/integration/replay_examples.sh. docs/policies.md walks through them.

    /usr/bin/python3 tests/replay/gen_traces.py
"""
import datetime
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = datetime.timezone.utc


def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(t, offset_h=0):
    tz = datetime.timezone(datetime.timedelta(hours=offset_h))
    s = t.astimezone(tz).isoformat()
    return s.replace("+00:00", "Z")


def num(v):
    """Numbers as a person would write them: 420, 27.5, 24.15."""
    if v is None:
        return ""
    s = ("%.6f" % v).rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def steps(start, minutes, every_s):
    t0 = at(start)
    for k in range(int(minutes * 60 // every_s) + 1):
        yield k * every_s / 60.0, t0 + datetime.timedelta(seconds=k * every_s)


def write(name, rows, header="ts,metric,value"):
    with open(os.path.join(HERE, name + ".csv"), "w", newline="\n") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")


def cooling_shortfall():
    """Chiller 2 trips at 09:10Z, comes back half-way at 09:30Z and fully at
    10:00Z; the IT meter has read errors 09:50-09:58Z."""
    rows = []
    for m, t in steps("2026-01-15T09:00:00Z", 80, 30):
        chiller2 = 300 if m < 10 else 0 if m < 30 else 170 if m < 60 else 300
        load = None if 50 <= m <= 58 else 400
        ts = rfc3339(t)
        rows.append((ts, "cooling.chiller1.capacity_kw", num(300)))
        rows.append((ts, "cooling.chiller2.capacity_kw", num(chiller2)))
        rows.append((ts, "it.load_kw", num(load)))
    write("cooling-shortfall", rows)


def supply_shortfall():
    """Wind falls from 120 to 20 kW between 13:10Z and 13:30Z; its meter
    fails 13:50-14:10Z; wind is back at 150 kW from 14:10Z. Times are
    written in site time (+01:00)."""
    rows = []
    for m, t in steps("2026-02-10T13:00:00Z", 120, 30):
        wind = 120 if m < 10 else max(20, 120 - 5 * (m - 10)) if m < 50 else None if m < 70 else 150
        ts = rfc3339(t, 1)
        rows.append((ts, "power.hydro_kw", num(420)))
        rows.append((ts, "power.wind_kw", num(wind)))
        rows.append((ts, "it.load_kw", num(400)))
    write("supply-shortfall", rows)


def inlet_rising_fast():
    """Inlet air flat at 24 °C, then rising 0.9 °C/min 11:20-11:28Z, then
    flat again. The rows are shuffled: replay sorts them."""
    rows = []
    for m, t in steps("2026-06-20T11:00:00Z", 60, 10):
        rise = min(max(m - 20, 0), 8)
        rows.append((rfc3339(t), "room.inlet_c", num(24 + 0.9 * rise)))
    random.Random(20260620).shuffle(rows)
    write("inlet-rising-fast", rows)


def ups_on_battery():
    """On battery for 20 s at 08:10Z (too short), 08:20-08:24Z, and from
    08:40Z, when the UPS also stops answering until 08:50Z. Times are Unix
    seconds."""
    rows = []
    for m, t in steps("2026-03-10T08:00:00Z", 60, 10):
        s = round(m * 60)
        if 41 * 60 <= s < 50 * 60:
            continue  # no answer: no rows at all, the metric goes stale
        on = (600 <= s < 620) or (1200 <= s < 1440) or (2400 <= s < 2460)
        rows.append((str(int(t.timestamp())), "power.ups.on_battery", "1" if on else "0"))
    write("ups-on-battery", rows)


def overnight_rebalance():
    """The night the clocks go forward (2026-03-29, 02:00 CET -> 03:00 CEST):
    the 01:00-05:00 window is 00:00-03:00Z. The load rises 01:30-01:45Z,
    which takes the headroom away for a quarter of an hour."""
    rows = []
    for m, t in steps("2026-03-28T23:00:00Z", 300, 30):
        load = 480 if 150 <= m < 165 else 400
        ts = rfc3339(t)
        rows.append((ts, "cooling.chiller1.capacity_kw", num(300)))
        rows.append((ts, "cooling.chiller2.capacity_kw", num(300)))
        rows.append((ts, "it.load_kw", num(load)))
    write("overnight-rebalance", rows)


if __name__ == "__main__":
    cooling_shortfall()
    supply_shortfall()
    inlet_rising_fast()
    ups_on_battery()
    overnight_rebalance()
