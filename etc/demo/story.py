#!/usr/bin/python3
"""The story `make demo` tells, as it happens, and its report.

etc/demo/run.sh starts the processes (two floe-sims with their agents, a
third floe-sim that nobody acts on, PowerDNS) and runs this script, which
drives the simulators (POST /sim/set: the chiller's trip and repair),
opens the night (PUT /v1/policies at falkenberg-1) and watches: the
agents' policies, decisions and migrations, the simulators' rooms and
data versions, and PowerDNS's answers (dig). It prints one line per
event, at most 80 columns, with the time since the demo started, then the
report (also written to --report). Exit 0 when every step of the story
happened, 1 when a step did not (the report says which), 2 when the sites never came up, 130 on Ctrl-C.

    story.py --lulea-agent URL --falkenberg-agent URL --lulea-sim URL
             --falkenberg-sim URL --shadow-sim URL --dns-port P
             --scenario sim/scenarios/demo-lulea-1.json --lulea-config FILE
             --falkenberg-config FILE --rebalance policies/examples/overnight-rebalance.json
             --operator-token T [--start UNIX_TIME] [--report FILE]

The shadow simulator runs lulea-1's scenario with the same chiller trip
and repair and no agent: its room is what lulea-1's would have been had
floe moved nothing, which is what makes the room's peak a test of the
loop and not a number.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import zoneinfo

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from configure import strip_comments  # noqa: E402

WIDTH = 80
PREFIX = 19  # "MM:SS site________ "
ASHRAE_A1_ALLOWABLE_C = 32.0
LIMIT_POLICY = "room-inlet-high"
COOLING_POLICY = "cooling-shortfall"
REBALANCE_POLICY = "overnight-rebalance"
# Every wait ends by then, so that a story that goes wrong still ends
# well within the 5 minutes the demo may take.
STORY_BUDGET_S = 250

# The story, in order: key, what the report calls it (at most 60 columns).
STEPS = [
    ("trip", "lulea-1's chiller2 trips"),
    ("fires", f"{COOLING_POLICY} fires at lulea-1"),
    ("placed", "workloads chosen and reserved at falkenberg-1"),
    ("out", "migrated to falkenberg-1: 1 stateless, 2 stateful"),
    ("dns_out", "DNS answers falkenberg-1 for all three"),
    ("data_out", "no write lost on the way out"),
    ("room", "room inlet stayed below the limit"),
    ("recovers", "lulea-1's room back at its setpoint"),
    ("clears", f"{COOLING_POLICY} clears at lulea-1"),
    ("shadow", "without floe the room would have passed the limit"),
    ("repaired", "chiller2 repaired, lulea-1 accepts work again"),
    ("night", f"night: {REBALANCE_POLICY} fires at falkenberg-1"),
    ("home", "workloads fail back to lulea-1"),
    ("dns_home", "DNS answers lulea-1 again"),
    ("data_home", "no write lost on the way home"),
]


def fmt_rel(seconds):
    if seconds is None:
        return "-"
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def fmt_dur(seconds):
    """3.6s, 42s, 1m49s."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


def parse_ts(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return None


def wrap(w, text, indent, first=None):
    """Writes TEXT wrapped to the width, each line indented (the first by FIRST)."""
    for line in textwrap.wrap(text, WIDTH, initial_indent=indent if first is None else first,
                              subsequent_indent=indent) or [indent]:
        w(line)


class Http:
    """JSON over HTTP; None (never an exception) when there is no usable answer."""

    def __init__(self):
        self.last_error = ""

    def call(self, method, url, body=None, token=None, timeout=2):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            self.last_error = f"{method} {url}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}"
        except (OSError, ValueError) as e:
            self.last_error = f"{method} {url}: {e}"
        return None

    def get(self, url):
        return self.call("GET", url)


class Timeline:
    """One line per event. Events seen in one poll are printed in the
    order they happened (agents' times where they give one)."""

    def __init__(self, start):
        self.start = start
        self.pending = []

    def rel(self, wall=None):
        return (time.time() if wall is None else wall) - self.start

    def event(self, site, text, wall=None):
        self.pending.append((time.time() if wall is None else wall, len(self.pending), site, text))

    def flush(self):
        for wall, _, site, text in sorted(self.pending):
            line = f"{fmt_rel(self.rel(wall)):>5} {site:<12} {text}"
            if len(line) > WIDTH:
                line = line[:WIDTH - 1] + "…"
            print(line, flush=True)
        self.pending = []

    def say(self, site, text, wall=None):
        self.event(site, text, wall)
        self.flush()

    def note(self, text):
        """The demo's own words (not an event): wrapped, not cut."""
        wrap(lambda line: print(line, flush=True), text, " " * PREFIX)


class Site:
    def __init__(self, name, agent, sim):
        self.name, self.agent, self.sim = name, agent, sim
        self.ingress = None
        self.policies = {}      # name -> /v1/policies entry
        self.decisions = {}     # id -> decision
        self.migrations = {}    # id -> migration
        self.phases_said = {}   # migration id -> phases printed
        self.state = None       # /sim/state values
        self.capacity = {}      # /v1/status "capacity"
        self.cluster = {}       # namespace -> /sim/cluster entry, as last seen

    def policy_state(self, name):
        return (self.policies.get(name) or {}).get("state")


class Story:
    def __init__(self, args):
        self.args = args
        self.http = Http()
        self.start = args.start or time.time()
        self.tl = Timeline(self.start)
        scenario = json.loads(strip_comments(open(args.scenario, encoding="utf-8").read()))
        self.speedup = float(scenario.get("speedup", 1))
        self.limit_c = self.limit_of(args.lulea_config)
        self.lulea = Site("lulea-1", args.lulea_agent, args.lulea_sim)
        self.falk = Site("falkenberg-1", args.falkenberg_agent, args.falkenberg_sim)
        self.sites = [self.lulea, self.falk]
        self.workloads = []     # lulea-1's movable workloads (its inventory's entries)
        self.steps = {}         # key -> (result, wall time or None, detail)
        self.dns = {}           # hostname -> address
        self.dns_ttl = {}
        self.peak = (None, None)            # lulea-1's room: (°C, wall time)
        self.shadow = None                  # the shadow's /sim/state values
        self.shadow_peak = (None, None)
        self.shadow_cross = {}              # °C -> wall time the shadow's room passed it
        self.limit_fired = None             # when room-inlet-high fired at lulea-1
        self.last_room_line = 0.0
        self.last_dns = 0.0
        self.trip_wall = self.repair_wall = None
        self.versions = {}      # (site, migration id) -> data versions
        self.budget_end = time.time() + STORY_BUDGET_S

    @staticmethod
    def limit_of(config):
        """N of room-inlet-high's `when` ("room.inlet_c > N") in lulea-1's config."""
        cfg = json.loads(strip_comments(open(config, encoding="utf-8").read()))
        when = next(p["when"] for p in cfg["policies"] if p["name"] == LIMIT_POLICY)
        left, op, right = when.partition(">")
        if left.strip() != "room.inlet_c" or not op:
            raise ValueError(f"{config}: {LIMIT_POLICY}: expected `room.inlet_c > N`, not {when}")
        return float(right)

    # ---- observing ------------------------------------------------------

    def poll(self):
        now = time.time()
        for site in self.sites:
            self.poll_sim(site)
            self.poll_policies(site)
            self.poll_decisions(site)
            self.poll_migrations(site)
        self.poll_shadow(now)
        if now - self.last_dns >= 1:
            self.last_dns = now
            self.poll_dns()
        every = 8 if self.trip_wall and not self.repair_wall else 20
        if self.lulea.state and now - self.last_room_line >= every:
            self.room_line()
        self.tl.flush()

    def poll_sim(self, site):
        st = self.http.get(site.sim + "/sim/state")
        if st:
            site.state = st["values"]
            if site is self.lulea:
                c = site.state["room.inlet_c"]
                if self.peak[0] is None or c > self.peak[0]:
                    self.peak = (c, time.time())
        cl = self.http.get(site.sim + "/sim/cluster")
        if cl:
            for ns in cl["namespaces"]:
                site.cluster[ns["name"]] = ns

    def poll_shadow(self, now):
        st = self.http.get(self.args.shadow_sim + "/sim/state")
        if not st:
            return
        self.shadow = st["values"]
        c = self.shadow["room.inlet_c"]
        if self.shadow_peak[0] is None or c > self.shadow_peak[0]:
            self.shadow_peak = (c, now)
        for threshold in (self.limit_c, ASHRAE_A1_ALLOWABLE_C):
            if c > threshold and threshold not in self.shadow_cross:
                self.shadow_cross[threshold] = now

    def room_line(self):
        v = self.lulea.state
        self.last_room_line = time.time()
        text = (f"room {v['room.inlet_c']:.1f} °C, load {v['it.load_kw']:.0f}, "
                f"cooling {v['cooling.available_kw']:.0f} kW")
        if self.trip_wall and self.shadow:
            text += f"; no floe: {self.shadow['room.inlet_c']:.1f} °C"
        self.tl.event(self.lulea.name, text)

    def poll_policies(self, site):
        ans = self.http.get(site.agent + "/v1/policies")
        if not ans:
            return
        for p in ans["policies"]:
            old = site.policy_state(p["name"])
            site.policies[p["name"]] = p
            if site is self.lulea and p["name"] == LIMIT_POLICY and p["state"] == "firing" and not self.limit_fired:
                self.limit_fired = parse_ts(p.get("since")) or time.time()
            if (old is not None and old != p["state"]) or (old is None and p["state"] != "ok"):
                self.tl.event(site.name, f"policy {p['name']}: {old + ' -> ' if old else ''}{p['state']}",
                              parse_ts(p.get("since")))

    def poll_decisions(self, site):
        ans = self.http.get(site.agent + "/v1/decisions?limit=50")
        if not ans:
            return
        for d in ans["decisions"]:
            old = site.decisions.get(d["id"])
            site.decisions[d["id"]] = d
            if d["status"] != "placing" and (not old or old["status"] != d["status"]):
                self.tl.event(site.name, self.decision_line(d), parse_ts(d["ts"]) if not old else None)

    @staticmethod
    def decision_line(d):
        """decision 1 cooling-shortfall: placed 120 kW of 95 kW needed"""
        head = f"decision {d['id']} {d['policy']}: "
        why = d["reasons"][-1].split(":")[0] if d.get("reasons") else ""
        if why.startswith(d["status"]) or (d["status"] == "no-need" and why):
            return head + why
        return head + d["status"] + (", " + why if why else "")

    def poll_migrations(self, site):
        ans = self.http.get(site.agent + "/v1/migrations?limit=50")
        if not ans:
            return
        for m in ans["migrations"]:
            old = site.migrations.get(m["id"])
            site.migrations[m["id"]] = m
            said = site.phases_said.setdefault(m["id"], set())
            for ev in m["events"]:
                if ev["phase"] not in said:
                    said.add(ev["phase"])
                    self.tl.event(site.name, f"{m['workload']}: {ev['phase']}: {self.phase_words(m, ev['phase'])}",
                                  parse_ts(ev["ts"]))
            if m.get("error") and (not old or old.get("error") != m["error"]):
                self.tl.event(site.name, f"{m['workload']}: {m['error']}")
            if m.get("result") and (site.name, m["id"]) not in self.versions:
                self.record_versions(site, m)

    def phase_words(self, m, phase):
        stateful = not m["stateless"]
        if phase == "reserved":
            return f"{m['kw']:g} kW at {m['to']} (migration {m['id']})"
        if phase == "precopy":
            return f"initial backup of {m['data_gb']:g} GB" if stateful else "backup of its resources"
        if phase == "delta":
            return "delta backups until the final one is short"
        if phase == "switchover":
            return "writes stop, final backup, scaled to 0"
        if phase == "restoring":
            return f"import at {m['to']}" + ("" if stateful else f", {m['from']} still serving")
        if phase == "cutover":
            return f"DNS -> {m['to']}"
        if phase == "done":
            if not stateful or m["downtime_s"] is None:
                return "no downtime" if not stateful else "done"
            return (f"downtime {fmt_dur(m['downtime_s'])} (x{self.speedup:g} "
                    f"{fmt_dur(m['downtime_s'] * self.speedup)}, est. {fmt_dur(m.get('estimated_downtime_s'))})")
        return m.get("error") or ""

    def poll_dns(self):
        owners = {s.ingress: s.name for s in self.sites}
        for w in self.workloads:
            host = w["hostname"]
            addr = self.dig(host)
            if addr != self.dns.get(host):
                self.dns[host] = addr
                self.tl.event("dig", f"{host}: {addr or 'no answer'} ({owners.get(addr, '?')}), "
                              f"TTL {self.dns_ttl.get(host, '?')}")

    def dig(self, host):
        try:
            out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.args.dns_port), "+tries=1", "+time=1",
                                  "+noall", "+answer", host, "A"], capture_output=True, text=True,
                                 timeout=5).stdout.split()
        except (OSError, subprocess.SubprocessError):
            return None
        if len(out) >= 5 and out[3] == "A":  # NAME TTL IN A ADDRESS
            self.dns_ttl[host] = out[1]
            return out[4]
        return None

    def record_versions(self, site, m):
        """The data versions that prove no write was lost, read as the
        migration ends (the source keeps its copy for retain_source): the
        version the source stopped at, the one its final backup holds and
        the one the target restored."""
        dst = self.lulea if site is self.falk else self.falk
        ns = m["namespace"]
        rec = {"stateless": m["stateless"]}
        if not m["stateless"] and m["result"] == "done":
            frozen = site.cluster.get(ns) or {}
            rec["stopped"] = frozen.get("data_version")
            rec["source_writing"] = frozen.get("writing")
            sv = self.http.get(site.sim + "/sim/velero") or {}
            dv = self.http.get(dst.sim + "/sim/velero") or {}
            rec["backup"] = next((b["namespaces"][ns]["version"] for b in sv.get("backups", [])
                                  if b["name"] == m["backup"] and ns in b["namespaces"]), None)
            rec["restored"] = next((r["namespaces"][ns]["version"] for r in reversed(dv.get("restores", []))
                                    if r["backup"] == m["backup"] and ns in r["namespaces"]), None)
            now = (self.http.get(dst.sim + "/sim/cluster") or {}).get("namespaces", [])
            rec["target_now"] = next((n["data_version"] for n in now if n["name"] == ns), None)
        self.versions[(site.name, m["id"])] = rec

    # ---- waiting and steps ----------------------------------------------

    def wait(self, seconds, cond):
        """Polls until cond() holds (True), or SECONDS or the story's budget
        have passed (False)."""
        end = min(time.time() + seconds, self.budget_end)
        while True:
            self.poll()
            if cond():
                return True
            if time.time() >= end:
                return False
            time.sleep(max(0.0, min(0.5, end - time.time())))

    def step(self, key, ok, detail="", wall=None):
        result = "ok" if ok is True else "FAILED"
        self.steps[key] = (result, time.time() if wall is None else wall, detail)
        if result != "ok":
            self.tl.say("demo", f"{result}: {dict(STEPS)[key]}")
        return ok is True

    def rest(self, result, detail=""):
        """Every step not taken yet gets RESULT."""
        for key, _ in STEPS:
            if key not in self.steps:
                self.steps[key] = (result, None, detail)

    def exit_code(self):
        return 0 if all(r == "ok" for r, _, _ in self.steps.values()) else 1

    # ---- acting ---------------------------------------------------------

    def sim_set(self, body):
        """The same change at lulea-1 and at its shadow."""
        return all(self.http.call("POST", url + "/sim/set", body) is not None
                   for url in (self.lulea.sim, self.args.shadow_sim))

    def open_night(self):
        """overnight-rebalance at falkenberg-1, with a window around now."""
        policy = json.loads(strip_comments(open(self.args.rebalance, encoding="utf-8").read()))
        cfg = json.loads(strip_comments(open(self.args.falkenberg_config, encoding="utf-8").read()))
        tz_name = cfg["site"].get("timezone", "UTC")
        tz = zoneinfo.ZoneInfo(tz_name)
        begin = datetime.datetime.now(tz).replace(second=0, microsecond=0) - datetime.timedelta(minutes=1)
        window = f"{begin:%H:%M}-{begin + datetime.timedelta(minutes=15):%H:%M}"
        policy["schedule"] = {"window": window}
        policy["action"]["max_migrations"] = len(self.workloads)
        policy["action"]["min_residency"] = "10s"
        policy["cooldown"] = "2m"
        self.tl.say("demo", f"night: PUT /v1/policies/{REBALANCE_POLICY} at falkenberg-1")
        self.tl.note(f"The simulators' clocks run {self.speedup:g}x, the agents' do not: the demo opens the "
                     f"night itself, with policies/examples/overnight-rebalance.json and the window {window} "
                     f"({tz_name}, around now), max_migrations {len(self.workloads)}, "
                     f"min_residency 10s (the workloads came a minute ago), cooldown 2m.")
        return self.http.call("PUT", f"{self.falk.agent}/v1/policies/{REBALANCE_POLICY}", policy,
                              token=self.args.operator_token) is not None

    # ---- the story ------------------------------------------------------

    def run(self):
        try:
            return self.tell()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 -- an answer the story cannot read
            # The report still comes, naming the step it stopped at.
            for key, _ in STEPS:
                if key not in self.steps:
                    self.steps[key] = ("FAILED", None, f"{type(e).__name__}: {e}")
                    break
            self.rest("not reached")
            return 1
        finally:
            # The limit holds for the whole story, the way home included.
            peak, when = self.peak
            if "room" in self.steps and self.steps["room"][0] == "ok" and \
                    (self.limit_fired or (peak is not None and peak >= self.limit_c)):
                self.steps["room"] = ("FAILED", when, f"peak {peak:.1f} °C, {self.limit_words()}")

    def tell(self):
        lulea, falk = self.lulea, self.falk
        self.tl.say("demo", "two sites: lulea-1 (home) and falkenberg-1 (its peer)")
        self.tl.note(f"The simulators' clocks run {self.speedup:g}x real time; the agents keep real time. "
                     f"Times are since the demo started.")
        movable = []

        def ready():
            for s in self.sites:
                st = self.http.get(s.agent + "/v1/status")
                if not st or not st.get("capacity"):
                    return False
                s.ingress = st["capacity"].get("ingress")
                s.capacity = st["capacity"]
            inv = self.http.get(lulea.agent + "/v1/workloads") or {}
            movable[:] = [w for w in inv.get("workloads", []) if w.get("movable")]
            return (falk.capacity.get("accepting") and len(movable) == 3 and lulea.state and self.shadow
                    and falk.capacity.get("spare_kw", 0) >= sum(w["power_kw"] for w in movable))

        self.last_room_line = time.time()
        if not self.wait(30, ready):
            print(f"demo: the sites did not come up: falkenberg-1 accepting work, lulea-1's three movable "
                  f"workloads known ({self.http.last_error or 'not yet'})", flush=True)
            return 2
        self.workloads = sorted(movable, key=lambda w: w["priority"])
        for w in self.workloads:
            kind = "stateless" if w["stateless"] else f"stateful ({w['data_gb']:g} GB of data)"
            self.tl.event(lulea.name, f"{w['name']}: {kind}, {w['power_kw']:.0f} kW, priority {w['priority']}")
        self.poll_dns()
        self.room_line()
        self.tl.flush()
        want = sorted(w["name"] for w in self.workloads)

        # ---- the chiller trips ----
        self.wait(2, lambda: False)
        self.tl.say(lulea.name, "chiller2 trips (POST /sim/set, here and at the shadow site)")
        self.trip_wall = time.time()
        if not self.step("trip", self.sim_set({"chiller2.running": False, "chiller2.fault": True}),
                         self.http.last_error):
            return self.rest("not reached") or 1
        self.room_line()
        if not self.step("fires", self.wait(30, lambda: lulea.policy_state(COOLING_POLICY) == "firing"),
                         f"{COOLING_POLICY} is {lulea.policy_state(COOLING_POLICY)}"):
            return self.rest("not reached") or 1
        self.wait(15, lambda: (self.first_decision(lulea, COOLING_POLICY) or {}).get("status") not in
                  (None, "placing"))
        d = self.first_decision(lulea, COOLING_POLICY)
        chosen = sorted(w["name"] for w in (d or {}).get("workloads", []) if w.get("chosen"))
        if not self.step("placed", d is not None and d["status"] == "placed" and chosen == want,
                         f"decision {d and d['id']}: {d and d['status']}, chosen {chosen}",
                         parse_ts(d and d["ts"])):
            return self.rest("not reached") or 1

        # ---- out to falkenberg-1 ----
        self.leg(lulea, falk, want, "out", "dns_out", "data_out")
        self.wait(60, lambda: lulea.state["room.inlet_c"] <= lulea.state["room.setpoint_c"] + 0.05 or
                  lulea.policy_state(LIMIT_POLICY) != "ok")
        peak, peak_wall = self.peak
        self.step("room", peak < self.limit_c and not self.limit_fired,
                  f"peak {peak:.1f} °C, limit {self.limit_c:g} °C, {self.limit_words()}", peak_wall)
        self.step("recovers", lulea.state["room.inlet_c"] <= lulea.state["room.setpoint_c"] + 0.05,
                  f"room {lulea.state['room.inlet_c']:.1f} °C")
        if not self.step("clears", self.wait(60, lambda: lulea.policy_state(COOLING_POLICY) == "ok"),
                         f"{COOLING_POLICY} is {lulea.policy_state(COOLING_POLICY)}",
                         parse_ts(lulea.policies.get(COOLING_POLICY, {}).get("since"))):
            return self.rest("not reached") or 1
        self.step("shadow", self.limit_c in self.shadow_cross,
                  f"the shadow site's room reached {self.shadow_peak[0]:.1f} °C only: the scenario does "
                  f"not test the loop", self.shadow_cross.get(self.limit_c))

        # ---- repair, then night ----
        repaired = self.sim_set({"chiller2.running": True, "chiller2.fault": False})
        self.repair_wall = time.time()
        self.tl.say(lulea.name, "chiller2 repaired (here and at the shadow site)")
        self.poll_sim(lulea)
        self.room_line()

        def accepting():
            cap = (self.http.get(lulea.agent + "/v1/status") or {}).get("capacity") or {}
            return cap.get("accepting") and cap.get("spare_kw", 0) >= sum(w["power_kw"] for w in self.workloads)
        if not self.step("repaired", repaired and self.wait(20, accepting), self.http.last_error):
            return self.rest("not reached") or 1
        if not self.open_night():
            self.step("night", False, self.http.last_error)
            return self.rest("not reached") or 1
        self.wait(30, lambda: self.first_decision(falk, REBALANCE_POLICY) is not None)
        d = self.first_decision(falk, REBALANCE_POLICY)
        if not self.step("night", d is not None, f"{REBALANCE_POLICY} is {falk.policy_state(REBALANCE_POLICY)}",
                         parse_ts(d and d["ts"])):
            return self.rest("not reached") or 1
        # ---- home again ----
        self.leg(falk, lulea, want, "home", "dns_home", "data_home")
        return self.exit_code()

    def leg(self, src, dst, names, moved_key, dns_key, data_key):
        """Waits for the migrations of NAMES from SRC to DST to end, then for
        DNS to answer DST, and checks their data versions."""
        done = self.wait(150, lambda: self.moved(src, dst.name, names))
        ms = self.moves(src, dst.name, names)
        self.step(moved_key, done and all(m["result"] == "done" for m in ms),
                  ", ".join(f"{m['workload']} {m['phase']}" + (f" ({m['error']})" if m.get("error") else "")
                            for m in ms) or "none started")
        self.step(dns_key, self.wait(20, lambda: self.dns_all(dst.ingress)),
                  ", ".join(f"{h} {a}" for h, a in self.dns.items()))
        self.step(data_key, *self.versions_ok(src, dst.name, names))

    # ---- helpers --------------------------------------------------------

    def limit_words(self):
        if self.limit_fired:
            return f"{LIMIT_POLICY} fired at {fmt_rel(self.tl.rel(self.limit_fired))}"
        return f"{LIMIT_POLICY}: never fired"

    @staticmethod
    def first_decision(site, policy):
        ds = [d for d in site.decisions.values() if d["policy"] == policy]
        return min(ds, key=lambda d: d["id"]) if ds else None

    @staticmethod
    def moves(site, to, names):
        """The latest migration of each of NAMES from SITE to TO."""
        latest = {}
        for m in site.migrations.values():
            if m["to"] == to and m["workload"] in names and \
                    (m["workload"] not in latest or m["id"] > latest[m["workload"]]["id"]):
                latest[m["workload"]] = m
        return [latest[n] for n in names if n in latest]

    def moved(self, site, to, names):
        ms = self.moves(site, to, names)
        return len(ms) == len(names) and all(m.get("result") and (site.name, m["id"]) in self.versions
                                             for m in ms)

    def dns_all(self, address):
        return address is not None and all(self.dns.get(w["hostname"]) == address for w in self.workloads)

    def versions_ok(self, site, to, names):
        good, bad = [], []
        for m in self.moves(site, to, names):
            v = self.versions.get((site.name, m["id"]))
            if v and not v["stateless"] and m["result"] == "done":
                same = v["stopped"] is not None and v["stopped"] == v["backup"] == v["restored"] \
                    and v["source_writing"] is False
                (good if same else bad).append(
                    f"{m['workload']}: stopped {v['stopped']}, backup {v['backup']}, restored {v['restored']}")
        if len(good) + len(bad) != sum(1 for w in self.workloads if not w["stateless"]):
            return False, "not every stateful migration ended done"
        return not bad, "; ".join(bad + good)

    # ---- the report -----------------------------------------------------

    def report(self):
        out = []
        w = out.append
        rel = self.tl.rel
        w("")
        w("=" * 30 + " floe demo: report " + "=" * 31)
        w(f"Story, {fmt_rel(rel())} (simulators at {self.speedup:g}x real time)")
        for key, name in STEPS:
            result, wall, detail = self.steps.get(key, ("not reached", None, ""))
            w(f"  {result:<11} {name:<60}{fmt_rel(rel(wall)) if wall else '':>5}".rstrip())
            if result != "ok" and detail:
                wrap(w, detail, " " * 14)
        w("")
        w("Decisions")
        for site in self.sites:
            for d in sorted(site.decisions.values(), key=lambda d: d["id"]):
                self.report_decision(w, site, d)
        w("")
        w(f"Migrations (downtime: the agents' clock, x{self.speedup:g} the sites' clock)")
        for site in self.sites:
            for m in sorted(site.migrations.values(), key=lambda m: m["id"]):
                self.report_migration(w, site, m)
        w("")
        self.report_room(w)
        text = "\n".join(out)
        print(text, flush=True)
        if self.args.report:
            with open(self.args.report, "w", encoding="utf-8") as f:
                f.write(text.lstrip("\n") + "\n")

    def report_decision(self, w, site, d):
        head = f"  {site.name} #{d['id']} {fmt_rel(self.tl.rel(parse_ts(d['ts'])))} {d['policy']} " \
               f"({d['kind']}): {d['status']}"
        if d.get("need_kw") is not None:
            head += f", need {d['need_kw']:.0f} kW"
        if d.get("placed_kw") is not None:
            head += f", placed {d['placed_kw']:.0f} kW"
        wrap(w, head, "      ", "")
        inputs = ", ".join(f"{i['name']} {'unknown' if i['value'] is None else format(i['value'], 'g')}"
                           for i in d.get("inputs", []))
        if inputs:
            wrap(w, "inputs: " + inputs, "      ")
        for r in d.get("reasons", []):
            wrap(w, r, "      ", "    - ")
        for x in d.get("workloads", []):
            wrap(w, f"{x['name']} {'-> ' + x['to'] if x.get('chosen') else 'left'}: {x.get('reason') or ''}",
                 "      ", "    * ")
        for p in d.get("peers", []):
            wrap(w, f"peer {p['name']}: {p.get('reason') or ''}", "      ", "    * ")

    def report_migration(self, w, site, m):
        kind = "stateless" if m["stateless"] else f"{m['data_gb']:g} GB"
        w(f"  {site.name} #{m['id']} {m['workload']} -> {m['to']} ({kind}, {m['kw']:g} kW): {m['phase']}")
        if m.get("error"):
            wrap(w, m["error"], "      ")
        phases, seen = [], set()
        for ev in m["events"]:
            if ev["phase"] not in seen:
                seen.add(ev["phase"])
                phases.append(f"{ev['phase']} {fmt_rel(self.tl.rel(parse_ts(ev['ts'])))}")
        wrap(w, ", ".join(phases), "      ")
        if m["stateless"]:
            if m["downtime_s"] is not None:
                w(f"      downtime {m['downtime_s']:g} s: {m['from']} served until DNS had moved")
        elif m["downtime_s"] is not None:
            real, est = m["downtime_s"], m.get("estimated_downtime_s")
            w(f"      downtime {fmt_dur(real)}, x{self.speedup:g} = {fmt_dur(real * self.speedup)} "
              f"on the site's clock; estimated {fmt_dur(est)}")
        v = self.versions.get((site.name, m["id"]))
        if v and "stopped" in v:
            known = v["stopped"] is not None and not v.get("source_writing")
            lost = "no write lost" if known and v["stopped"] == v["backup"] == v["restored"] else "WRITES LOST"
            w(f"      data version: writes stopped at {v['stopped']}, final backup holds {v['backup']},")
            w(f"      {m['to']} restored {v['restored']} (writes on: {v['target_now']}): {lost}")

    def report_room(self, w):
        peak, peak_wall = self.peak
        w("Room inlet at lulea-1")
        if peak is None:
            w("  never read")
            return
        w(f"  peak {peak:.1f} °C at {fmt_rel(self.tl.rel(peak_wall))}: limit {self.limit_c:g} °C "
          f"({self.limit_words()}),")
        w(f"  {ASHRAE_A1_ALLOWABLE_C - peak:.1f} K below ASHRAE A1's allowable {ASHRAE_A1_ALLOWABLE_C:g} °C")
        sp, sp_wall = self.shadow_peak
        if sp is None or not self.trip_wall:
            return
        crossed = ", ".join(f"{t:g} °C at {fmt_rel(self.tl.rel(c))}" for t, c in sorted(self.shadow_cross.items()))
        until = "when chiller2 was repaired" if self.repair_wall else "at the end"
        wrap(w, f"without floe (the shadow site: the same scenario, trip and repair, nobody moving load): "
             f"{sp:.1f} °C {until} ({fmt_rel(self.tl.rel(sp_wall))}); "
             + (f"passed {crossed}" if crossed else f"never above {self.limit_c:g} °C"), "  ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for a in ("lulea-agent", "falkenberg-agent", "lulea-sim", "falkenberg-sim", "shadow-sim", "scenario",
              "lulea-config", "falkenberg-config", "rebalance", "operator-token"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--dns-port", type=int, required=True)
    ap.add_argument("--start", type=float)
    ap.add_argument("--report")
    args = ap.parse_args()
    try:
        story = Story(args)
        rc = story.run()
        if rc == 2:
            return rc
        story.report()
    except KeyboardInterrupt:
        return 130
    failed = [name for key, name in STEPS if story.steps.get(key, ("",))[0] != "ok"]
    if failed:
        print(f"demo: the story failed at: {failed[0]}"
              + (f" (and {len(failed) - 1} steps after it)" if len(failed) > 1 else ""), flush=True)
        return rc or 1  # run() may have marked a step FAILED after tell() returned
    return rc


if __name__ == "__main__":
    sys.exit(main())
