#!/usr/bin/python3
"""Measurements and table rows for `make bench` (bench/run.sh).

    measure.py cpu      RESULTS key=value...   CPU per 1,000 points (and RSS) side by side
    measure.py idle     RESULTS key=value...   wake-ups/s and CPU ms/s of an idle process
    measure.py http     RESULTS key=value...   one endpoint: wrk against floe and nginx
    measure.py polling  RESULTS key=value...   floe's polls during the HTTP load
    measure.py store    RESULTS key=value...   bytes written per sample (bench/store_write)
    measure.py latency  RESULTS key=value...   value change at the device -> decision ts
    measure.py fail     RESULTS label=... why=...   a row that could not be measured
    measure.py fresh    SOCK COUNT MAX_AGE_S   collectd's values all fresh? (exit 0/1)
    measure.py polls    URL                    floe's finished polls, ok polls (one line)
    measure.py table    RESULTS                prints the table; exit 0

Each row subcommand appends one JSON object to RESULTS: label, floe, peer,
ratio, goal, met (true, false, or null when not measured), note.

How a process is read (Linux /proc, every thread in /proc/PID/task):
  CPU       the sum of the threads' schedstat run time (ns); when
            utime+stime of /proc/PID/stat (which keeps the time of threads
            that have exited, in clock ticks) is clearly larger, that one
  wake-ups  the sum of the threads' voluntary + nonvoluntary context switches
  RSS       VmRSS of /proc/PID/status
Load on the machine makes CPU time noisy (caches, frequency): a CPU figure
is taken over the whole span (30 s by default, three of the store's 10-s
writes), and the notes give the spread of its windows; the wake-up and RSS
figures do not depend on load. Idle CPU is the best of its windows: an
idle agent has nothing periodic but its polls (every 10 s, in each window).
"""
import json
import math
import os
import re
import socket
import statistics
import sys
import time
import urllib.request

TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")
# The goals of issue 11, as the table shows them.
GOAL_CPU = "≤ 0.33"
GOAL_HTTP = "≥ 0.5, p99 < 10 ms"
GOAL_STORE = "≤ 200"


# ---- /proc -----------------------------------------------------------------

def proc_sample(pid):
    """CPU ns, wake-ups and RSS KiB of process pid (all its threads)."""
    sched_ns = 0
    wakeups = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s" % (pid, tid)
        try:
            with open(base + "/schedstat") as f:
                sched_ns += int(f.read().split()[0])
            with open(base + "/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        wakeups += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended while we read
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks_ns = (int(fields[11]) + int(fields[12])) * TICK_NS  # utime, stime
    rss_kib = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return {"t": time.monotonic(), "sched_ns": sched_ns, "ticks_ns": ticks_ns,
            "wakeups": wakeups, "rss_kib": rss_kib}


def started_at(pid):
    """time.monotonic() at which process pid started."""
    with open("/proc/%d/stat" % pid) as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks * TICK_NS / 1e9
    return time.monotonic() - age


def cpu_between(a, b):
    """CPU ns used between two samples of one process."""
    sched = b["sched_ns"] - a["sched_ns"]
    ticks = b["ticks_ns"] - a["ticks_ns"]
    # Threads that ended took their schedstat with them; ticks keep it.
    if ticks > sched * 1.1 + 3 * TICK_NS:
        return ticks
    return sched


# ---- floe and collectd -------------------------------------------------------

def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def floe_polls(url):
    """{device: (finished polls, failed polls)} from floe's /metrics."""
    text = http_get(url.rstrip("/") + "/metrics")
    done, failed = {}, {}
    # floe_collector_polls_total is floe's own; SPEC's histogram
    # floe_poll_duration_seconds counts the polls too.
    for family in ("floe_collector_polls_total", "floe_poll_duration_seconds_count"):
        for m in re.finditer(r'^%s\{device="([^"]+)"[^}]*\} (\S+)$' % family, text, re.M):
            done[m.group(1)] = float(m.group(2))
        if done:
            break
    for m in re.finditer(r'^floe_collector_poll_failures_total\{device="([^"]+)"[^}]*\} (\S+)$', text,
                         re.M):
        failed[m.group(1)] = float(m.group(2))
    return {d: (done[d], failed.get(d, 0.0)) for d in done}


def ok_points(polls_a, polls_b, dmap):
    """Points floe read successfully between two /metrics scrapes."""
    n = 0.0
    for d in dmap["devices"]:
        a = polls_a.get(d["name"], (0, 0))
        b = polls_b.get(d["name"], (0, 0))
        n += ((b[0] - a[0]) - (b[1] - a[1])) * d["values"]
    return n


def collectd_values(sock_path):
    """[(time, identifier)] of every value in collectd's cache (unixsock LISTVAL)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.write("LISTVAL\n")
    f.flush()
    head = f.readline().split(" ", 1)
    n = int(head[0])
    if n < 0:
        raise RuntimeError("collectd LISTVAL: " + head[1].strip())
    vals = []
    for _ in range(n):
        t, ident = f.readline().split(" ", 1)
        vals.append((float(t), ident.strip()))
    s.close()
    return vals


def collectd_fresh(sock_path, count, max_age_s):
    """None when collectd holds `count` values, each younger than max_age_s;
    else why not."""
    try:
        vals = collectd_values(sock_path)
    except (OSError, RuntimeError, ValueError) as e:
        return "collectd's unixsock %s: %s" % (sock_path, e)
    now = time.time()
    fresh = sum(1 for t, _ in vals if now - t <= max_age_s)
    if fresh < count:
        return "collectd holds %d fresh values of the %d it polls" % (fresh, count)
    return None


# ---- rows ----------------------------------------------------------------

def add_row(results, label, floe="", peer="", ratio=None, goal="", met=None, note=""):
    with open(results, "a") as f:
        f.write(json.dumps({"label": label, "floe": floe, "peer": peer, "ratio": ratio,
                            "goal": goal, "met": met, "note": note}) + "\n")


def fmt_num(x, digits=1):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    if abs(x) >= 100:
        return "%.0f" % x
    return ("%%.%df" % digits) % x


def fmt_ratio(r):
    if r is None:
        return "—"
    return "%.3f" % r if r < 0.1 else "%.2f" % r


def sleep_until(t):
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


def cmd_cpu(results, a):
    """CPU per 1,000 points of floe and its peer polling the same map side
    by side; optionally their RSS at given times since both started."""
    dmap = json.load(open(a["map"]))
    fpid, ppid = int(a["floe_pid"]), int(a["peer_pid"])
    url, sock = a["floe_url"], a["peer_sock"]
    warmup, nwin, win_s = float(a["warmup"]), int(a["windows"]), float(a["window_s"])
    started = started_at(fpid)  # floe and its peer start together
    rss_at = [float(x) for x in a.get("rss_at", "").split(",") if x]
    per_s = dmap["points_per_poll"] / dmap["interval_s"]

    # Window boundaries: after each, floe's polls are scraped; the scrape's
    # own CPU (floe serves /metrics) is kept out by sampling floe again
    # after it: a window runs from after one scrape to before the next.
    t0 = time.monotonic()
    bounds = [t0 + warmup + k * win_s for k in range(nwin + 1)]
    events = sorted([(t, "win") for t in bounds] + [(started + r, "rss") for r in rss_at])
    before, after, polls, rss = [], [], [], []
    for t, kind in events:
        sleep_until(t)
        if kind == "rss":
            rss.append((t - started, proc_sample(fpid)["rss_kib"], proc_sample(ppid)["rss_kib"]))
            continue
        fb, pb = proc_sample(fpid), proc_sample(ppid)
        polls.append(floe_polls(url))
        fa = proc_sample(fpid)
        before.append((fb, pb))
        after.append((fa, pb))
    why = a.get("peer_missing") or collectd_fresh(sock, dmap["points_per_poll"],
                                                  2 * dmap["interval_s"] + 1.5)
    cpu_row(results, a["label"], dmap, url, why, before, after, polls, nwin, win_s, per_s)
    if rss and a.get("rss_label"):
        rss_row(results, a, rss, why)


def cpu_row(results, label, dmap, url, why, before, after, polls, nwin, win_s, per_s):
    """The CPU row of cmd_cpu, from its samples."""
    good = sum(1 for m in json.loads(http_get(url.rstrip("/") + "/v1/telemetry"))["metrics"]
               if m["quality"] == "good")
    if good < dmap["points_per_poll"]:
        add_row(results, label, goal=GOAL_CPU, note="floe holds %d good metrics of the %d it polls" %
                (good, dmap["points_per_poll"]))
        return
    # The figure is over the whole span, not the best window: floe does
    # some work less often than each poll (the store writes every 10 s),
    # and a window that missed it would flatter floe. The spread of the
    # windows shows the noise.
    fwin, pwin = [], []
    ftot = [0.0, 0.0]  # CPU ms, points
    ptot = [0.0, 0.0]
    for k in range(nwin):
        fa, pa = after[k]
        fb, pb = before[k + 1]
        pts = ok_points(polls[k], polls[k + 1], dmap)
        if pts <= 0:
            add_row(results, label, goal=GOAL_CPU, note="floe finished no good poll in %g s" % win_s)
            return
        fcpu = cpu_between(fa, fb) / 1e6
        fwin.append(fcpu / pts * 1000)
        ftot[0] += fcpu
        ftot[1] += pts
        ppts = (pb["t"] - pa["t"]) * per_s
        pcpu = cpu_between(pa, pb) / 1e6
        pwin.append(pcpu / ppts * 1000)
        ptot[0] += pcpu
        ptot[1] += ppts
    f = ftot[0] / ftot[1] * 1000
    spread = lambda w: "%s–%s" % (fmt_num(min(w)), fmt_num(max(w)))
    if why:
        add_row(results, label, floe="%s ms" % fmt_num(f), goal=GOAL_CPU,
                note="over %g s; windows of %g s: %s ms; peer not measured: %s" %
                (nwin * win_s, win_s, spread(fwin), why))
    else:
        p = ptot[0] / ptot[1] * 1000
        r = f / p if p > 0 else None
        add_row(results, label, floe="%s ms" % fmt_num(f), peer="collectd: %s ms" % fmt_num(p),
                ratio=r, goal=GOAL_CPU, met=r is not None and r <= 1 / 3 + 1e-9,
                note="over %g s; windows of %g s: floe %s, collectd %s ms" %
                (nwin * win_s, win_s, spread(fwin), spread(pwin)))


def rss_row(results, a, rss, peer_why):
    """RSS at the sample times; goal: floe <= 2 x peer + SQLite's page cache,
    and flat after the first sample (at most +max(1 MiB, 5 %))."""
    cache_kib = float(a["cache_kib"])
    (t1, f1, p1), (t2, f2, p2) = rss[0], rss[-1]
    mib = lambda k: k / 1024.0
    floe = "%s MiB at %g s, %s at %g s" % (fmt_num(mib(f1)), t1, fmt_num(mib(f2)), t2)
    if peer_why:
        add_row(results, a["rss_label"], floe=floe, goal="≤ 2 × peer + page cache; flat",
                note="peer not measured: " + peer_why)
        return
    limit = 2 * p2 + cache_kib
    growth = f2 - f1
    flat = growth <= max(1024, 0.05 * f1)
    met = f2 <= limit and flat
    add_row(results, a["rss_label"], floe=floe,
            peer="collectd: %s MiB, %s" % (fmt_num(mib(p1)), fmt_num(mib(p2))),
            ratio=f2 / p2 if p2 else None,
            goal="≤ 2 × peer + %s MiB page cache (%s MiB); flat after %g s" %
            (fmt_num(mib(cache_kib)), fmt_num(mib(limit)), t1),
            met=met, note="page cache: %s; growth after %g s: floe %+.1f MiB, collectd %+.1f MiB" %
            (a.get("cache_note", ""), t1, mib(growth), mib(p2 - p1)))


def cmd_idle(results, a):
    """Wake-ups/s and CPU ms/s of floe and its peer, nothing else touching them."""
    fpid, ppid = int(a["floe_pid"]), int(a["peer_pid"])
    warmup, nwin, win_s = float(a["warmup"]), int(a["windows"]), float(a["window_s"])
    t0 = time.monotonic()
    samples = []
    for k in range(nwin + 1):
        sleep_until(t0 + warmup + k * win_s)
        samples.append((proc_sample(fpid), proc_sample(ppid)))
    span = samples[-1][0]["t"] - samples[0][0]["t"]

    def rates(i):
        wk = (samples[-1][i]["wakeups"] - samples[0][i]["wakeups"]) / span
        cpu = cpu_between(samples[0][i], samples[-1][i]) / 1e6 / span
        return wk, cpu
    (fw, fc), (pw, pc) = rates(0), rates(1)
    why = a.get("peer_missing")
    if not why:
        why = collectd_fresh(a["peer_sock"], int(a["peer_values"]), 2 * float(a["interval"]) + 1.5)
    peer = lambda s: "" if why else s
    note = "over %.0f s, nothing else asking either process anything" % span
    if why:
        note += "; collectd not shown: " + why
    add_row(results, a["label"] + ": wake-ups/s", floe=fmt_num(fw, 2), peer=peer("collectd: " + fmt_num(pw, 2)),
            ratio=None if why or pw == 0 else fw / pw, goal="≤ 5", met=fw <= 5, note=note)
    add_row(results, a["label"] + ": CPU ms/s", floe=fmt_num(fc, 3), peer=peer("collectd: " + fmt_num(pc, 3)),
            ratio=None if why or pc == 0 else fc / pc, goal="≤ 0.2", met=fc <= 0.2, note=note)


def parse_wrk(path):
    """req/s, p99 ms, and problems (errors, non-2xx) from wrk --latency output."""
    text = open(path).read()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    if not rps or not p99:
        raise ValueError("no Requests/sec or 99%% line in wrk's output %s" % path)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    problems = []
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        problems.append("%s non-2xx answers" % m.group(1))
    m = re.search(r"Socket errors: (.*)", text)
    if m:
        problems.append("socket errors: " + m.group(1).strip())
    return float(rps.group(1)), float(p99.group(1)) * scale, problems


def cmd_http(results, a):
    label = a["label"]
    try:
        frps, fp99, fprob = parse_wrk(a["floe_out"])
    except (OSError, ValueError) as e:
        add_row(results, label, goal=GOAL_HTTP, note="floe not measured: %s" % e)
        return
    floe = "%s req/s, p99 %s ms" % (fmt_num(frps), fmt_num(fp99, 2))
    if a.get("peer_missing"):
        add_row(results, label, floe=floe, goal=GOAL_HTTP, note="nginx not measured: " + a["peer_missing"])
        return
    try:
        nrps, np99, nprob = parse_wrk(a["peer_out"])
    except (OSError, ValueError) as e:
        add_row(results, label, floe=floe, goal=GOAL_HTTP, note="nginx not measured: %s" % e)
        return
    r = frps / nrps if nrps else None
    met = r is not None and r >= 0.5 and fp99 < 10 and not fprob
    note = "%s bytes, %s" % (a.get("bytes", "?"), a.get("ctype", "?"))
    if fprob:
        note += "; floe: " + ", ".join(fprob)
    if nprob:
        note += "; nginx: " + ", ".join(nprob)
    add_row(results, label, floe=floe, peer="nginx: %s req/s, p99 %s ms" % (fmt_num(nrps), fmt_num(np99, 2)),
            ratio=r, goal=GOAL_HTTP, met=met, note=note)


def cmd_polling(results, a):
    """floe's polls during its wrk runs: done against due."""
    dmap = json.load(open(a["map"]))
    pa, pb = json.load(open(a["before"])), json.load(open(a["after"]))
    span = float(a["span_s"])
    due = span / dmap["interval_s"] * len(dmap["devices"])
    done = sum(pb[d][0] - pa[d][0] - (pb[d][1] - pa[d][1]) for d in pb if d in pa)
    frac = done / due if due else 0
    # A poll on either side of the span may land inside it.
    what = ("all %d due polls done (%d)" % (round(due), done) if done >= round(due) else
            "%d of %d due polls done (%.0f %%)" % (done, round(due), 100 * frac))
    add_row(results, a["label"], floe=what,
            goal="≥ 95 % of due polls", met=frac >= 0.95,
            note="%d devices at %g s, over %.0f s of wrk" % (len(dmap["devices"]), dmap["interval_s"], span))


def cmd_store(results, a):
    label = a["label"]
    try:
        text = open(a["out"]).read()
    except OSError as e:
        add_row(results, label, goal=GOAL_STORE, note="not measured: %s" % e)
        return
    m = (re.search(r"bytes written per sample:\s*([\d.]+)", text) or
         re.search(r"([\d.]+) bytes written per sample", text))
    if not m:
        add_row(results, label, goal=GOAL_STORE, note="not measured: store_write printed no 'bytes written per sample' line")
        return
    b = float(m.group(1))
    add_row(results, label, floe="%s bytes" % fmt_num(b, 0), goal=GOAL_STORE, met=b <= 200,
            note=a.get("note", ""))


def parse_ts(s):
    """RFC 3339 UTC (floe's form: ...Z, optional .mmm) -> epoch seconds."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z$", s)
    if not m:
        raise ValueError("not an RFC 3339 UTC time: %r" % s)
    import calendar
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    return secs + (float(m.group(7)) if m.group(7) else 0.0)


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def policy_state(floe, name):
    for p in json.loads(http_get(floe + "/v1/policies"))["policies"]:
        if p["name"] == name:
            return p["state"]
    return None


def wait_for(pred, deadline):
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def cmd_latency(results, a):
    """Trips chiller1's capacity_kw at floe-sim and times the decision."""
    label, floe, sim = a["label"], a["floe_url"].rstrip("/"), a["sim_url"].rstrip("/")
    policy, value, normal = a["policy"], a["value"], a["normal"]
    interval, for_s = float(a["interval"]), float(a["for"])
    changes, budget = int(a["changes"]), float(a["budget_s"])
    goal_ms = (interval + for_s) * 1000 + 100
    end = time.monotonic() + budget
    lat = []
    problem = None
    seen = {d["id"] for d in json.loads(http_get(floe + "/v1/decisions?limit=1000"))["decisions"]}
    for i in range(changes):
        if time.monotonic() > end - (goal_ms / 1000 + 5) and lat:
            break
        if not wait_for(lambda: policy_state(floe, policy) == "ok", time.monotonic() + 60):
            problem = "policy %s not back to ok within 60 s" % policy
            break
        # Changes land at different phases of the poll period.
        time.sleep(0.5 + interval * ((i * 0.37) % 1.0))
        t0 = time.time()
        post(sim + "/sim/set", {value: 50})
        t0 = (t0 + time.time()) / 2

        def new_decision():
            for d in json.loads(http_get(floe + "/v1/decisions?limit=50"))["decisions"]:
                if d["id"] not in seen and d["policy"] == policy:
                    return d
            return None
        d = wait_for(new_decision, time.monotonic() + max(60, 4 * goal_ms / 1000))
        post(sim + "/sim/set", {value: float(normal)})
        if not d:
            problem = "no decision within %.0f s of change %d" % (max(60, 4 * goal_ms / 1000), i + 1)
            break
        seen.add(d["id"])
        lat.append((parse_ts(d["ts"]) - t0) * 1000)
    if not lat:
        add_row(results, label, goal="≤ %s ms" % fmt_num(goal_ms, 0),
                note="not measured: " + (problem or "no change made"))
        return
    med, mx = statistics.median(lat), max(lat)
    note = "%d changes: %s ms" % (len(lat), ", ".join("%.0f" % x for x in lat))
    if problem:
        note += "; then " + problem
    add_row(results, label, floe="median %s ms, max %s ms" % (fmt_num(med, 0), fmt_num(mx, 0)),
            goal="≤ %s ms" % fmt_num(goal_ms, 0), met=mx <= goal_ms and not problem, note=note)


def cmd_table(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    head = ["measurement", "floe", "peer", "ratio", "goal", "met?"]
    table = []
    for r in rows:
        if r["met"] is None:
            met = "not measured"
        else:
            met = "yes" if r["met"] else "**goal missed**"
        table.append([r["label"], r["floe"] or "—", r["peer"] or "—", fmt_ratio(r["ratio"]),
                      r["goal"] or "—", met])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for t in table:
        print("| " + " | ".join(t) + " |")
    print()
    for i, r in enumerate(rows, 1):
        if r["note"]:
            print("%2d. %s: %s" % (i, r["label"], r["note"]))
    met = sum(1 for r in rows if r["met"])
    print()
    print("%d of %d goals met" % (met, len(rows)))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "table":
        return cmd_table(argv[2])
    if cmd == "fresh":
        why = collectd_fresh(argv[2], int(argv[3]), float(argv[4]))
        if why:
            print(why)
        return 1 if why else 0
    if cmd == "polls":
        print(json.dumps(floe_polls(argv[2])))
        return 0
    results, a = argv[2], dict(kv.split("=", 1) for kv in argv[3:])
    if cmd == "fail":
        add_row(results, a["label"], goal=a.get("goal", ""), note="not measured: " + a["why"])
        return 0
    fn = {"cpu": cmd_cpu, "idle": cmd_idle, "http": cmd_http, "polling": cmd_polling,
          "store": cmd_store, "latency": cmd_latency}.get(cmd)
    if not fn:
        sys.exit("measure.py: unknown command %r" % cmd)
    try:
        fn(results, a)
    except Exception as e:  # a scenario's failure is its row, not the run's
        add_row(results, a.get("label", cmd), goal=a.get("goal", ""),
                note="not measured: %s: %s" % (type(e).__name__, e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
