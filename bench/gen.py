#!/usr/bin/python3
"""Configurations for one `make bench` scenario, from one device map.

    bench/gen.py SCENARIO OUTDIR key=value...

builds the scenario's device map (which devices, which registers or OIDs,
which interval) and writes, from that one map, every file the scenario
runs on, so floe and its peer poll the same things by construction:

    OUTDIR/map.json       the map itself (run.sh and measure.py count points from it)
    OUTDIR/floe.json      floe's configuration (docs/config.md)
    OUTDIR/collectd.conf  collectd's, with only the plugins the map needs
    OUTDIR/snmpd.conf     the SNMP agent's objects (SNMP scenarios)
    OUTDIR/sim.json       floe-sim's scenario (scenario "sim", alone: ports 0,
                          started once for every Modbus scenario)

Scenarios and their keys (all given by run.sh):
    sim                                                   floe-sim's scenario only
    modbus  devices= points= interval= port= http= dir= [policy=1]   floe-sim's registers
    snmp    scalars= rows= interval= port= http= dir=     snmpd's objects
    latency interval= for= port= http= dir= [tick=]       one device, one policy

collectd writes nowhere: it loads no write plugin, only unixsock, through
which run.sh checks that its values are fresh (LISTVAL). floe keeps its
history in SQLite as always, so collectd does strictly less work per point.
"""
import json
import os
import sys

# floe-sim's holding registers 100..1399 hold 20 cooling units (100 + 20*i)
# and zeros; 100 float32 points take registers 100..299. Every device of a
# scenario reads the same registers (floe-sim answers any unit id).
MB_BASE = 100
# An enterprise subtree of our own in snmpd (override directives):
# scalars E.10.i.0 and one table column E.31.1.1.i.
E = "1.3.6.1.4.1.99999"
SNMP_SCALAR = E + ".10"
SNMP_COLUMN = E + ".31.1.1"
LAT_METRIC = "bench.lat.capacity_kw"


def modbus_map(a):
    devices = []
    for d in range(int(a["devices"])):
        points = [{"metric": "bench.dev%d.p%03d" % (d, p), "address": MB_BASE + 2 * p,
                   "type": "float32"} for p in range(int(a["points"]))]
        devices.append({"name": "dev%d" % d, "protocol": "modbus", "host": "127.0.0.1",
                        "port": int(a["port"]), "unit_id": d + 1, "points": points,
                        "values": len(points)})
    return devices


def snmp_map(a):
    scalars, rows = int(a.get("scalars", 0)), int(a.get("rows", 0))
    points = [{"metric": "bench.agent.s%03d" % i, "oid": "%s.%d.0" % (SNMP_SCALAR, i)}
              for i in range(1, scalars + 1)]
    if rows:
        points.append({"metric": "bench.agent.row{index}", "walk": SNMP_COLUMN, "rows": rows})
    return [{"name": "agent", "protocol": "snmp", "host": "127.0.0.1", "port": int(a["port"]),
             "community": "public", "points": points, "values": scalars + rows}]


def floe_config(m, a):
    cfg = {"site": {"name": "bench"},
           "store": {"path": os.path.join(a["dir"], "floe.db")},
           "http": {"listen": "127.0.0.1:%d" % int(a["http"]), "anonymous_read": True}}
    iv = "%gs" % m["interval_s"]
    mb = [{"name": d["name"], "host": d["host"], "port": d["port"], "unit_id": d["unit_id"],
           "interval": iv,
           "points": [{"metric": p["metric"], "table": "holding", "address": p["address"],
                       "type": p["type"]} for p in d["points"]]}
          for d in m["devices"] if d["protocol"] == "modbus"]
    sn = [{"name": d["name"], "host": d["host"], "port": d["port"], "version": "2c",
           "community": d["community"], "interval": iv,
           "points": [{"metric": p["metric"], "walk": p["walk"]} if "walk" in p else
                      {"metric": p["metric"], "oid": p["oid"]} for p in d["points"]]}
          for d in m["devices"] if d["protocol"] == "snmp"]
    if mb:
        cfg["modbus"] = mb
    if sn:
        cfg["snmp"] = sn
    if m.get("policies"):
        cfg["policies"] = m["policies"]
    if m.get("policy_tick"):
        cfg["policy_tick"] = m["policy_tick"]
    return json.dumps(cfg, indent=1) + "\n"


def collectd_config(m, a):
    out = ['# collectd for the bench scenario "%s" (bench/gen.py); no write plugin.' % m["scenario"],
           'Hostname "bench"', "FQDNLookup false", 'BaseDir "%s"' % a["dir"],
           'PIDFile "%s"' % os.path.join(a["dir"], "collectd.pid"),
           'TypesDB "/usr/share/collectd/types.db"', "Interval %g" % m["interval_s"],
           "LoadPlugin logfile", "<Plugin logfile>", "  LogLevel notice",
           '  File "%s"' % os.path.join(a["dir"], "collectd.log"), "</Plugin>",
           "LoadPlugin unixsock", "<Plugin unixsock>",
           '  SocketFile "%s"' % os.path.join(a["dir"], "collectd.sock"), "</Plugin>"]
    mb = [d for d in m["devices"] if d["protocol"] == "modbus"]
    sn = [d for d in m["devices"] if d["protocol"] == "snmp"]
    if mb:
        out += ["LoadPlugin modbus", "<Plugin modbus>"]
        # One Data block per register (collectd reads each with its own
        # request); the devices share them, as they share the addresses.
        for p in mb[0]["points"]:
            out += ['  <Data "r%d">' % p["address"], "    RegisterBase %d" % p["address"],
                    "    RegisterType Float", "    RegisterCmd ReadHolding", "    Type gauge",
                    '    Instance "r%d"' % p["address"], "  </Data>"]
        for d in mb:
            out += ['  <Host "%s">' % d["name"], '    Address "%s"' % d["host"],
                    '    Port "%d"' % d["port"], "    Interval %g" % m["interval_s"],
                    "    <Slave %d>" % d["unit_id"], '      Instance "%s"' % d["name"]]
            out += ['      Collect "r%d"' % p["address"] for p in d["points"]]
            out += ["    </Slave>", "  </Host>"]
        out += ["</Plugin>"]
    if sn:
        out += ["LoadPlugin snmp", "<Plugin snmp>"]
        d = sn[0]
        names = []
        for p in d["points"]:
            if "walk" in p:
                out += ['  <Data "walk">', '    Type "gauge"', "    Table true",
                        '    Values "%s"' % p["walk"], "  </Data>"]
                names.append("walk")
            else:
                n = p["metric"].rsplit(".", 1)[1]
                out += ['  <Data "%s">' % n, '    Type "gauge"', "    Table false",
                        '    Instance "%s"' % n, '    Values "%s"' % p["oid"], "  </Data>"]
                names.append(n)
        out += ['  <Host "%s">' % d["name"], '    Address "%s:%d"' % (d["host"], d["port"]),
                "    Version 2", '    Community "%s"' % d["community"],
                "    Interval %g" % m["interval_s"], "    Timeout 1", "    Retries 1",
                "    BulkSize 25"]
        out += ['    Collect "%s"' % n for n in names]
        out += ["  </Host>", "</Plugin>"]
    return "\n".join(out) + "\n"


def snmpd_config(m, a):
    d = [d for d in m["devices"] if d["protocol"] == "snmp"][0]
    out = ["agentAddress udp:%s:%d" % (d["host"], d["port"]),
           "rocommunity %s 127.0.0.1" % d["community"]]
    for p in d["points"]:
        if "walk" in p:
            out += ["override %s.%d integer %d" % (p["walk"], i, 1000 + i)
                    for i in range(1, p["rows"] + 1)]
        else:
            i = int(p["oid"].split(".")[-2])
            out.append("override %s integer %d" % (p["oid"], 10 * i))
    return "\n".join(out) + "\n"


def sim_scenario(m, a):
    # 20 chillers fill the registers the points read with non-zero values.
    return json.dumps({
        "site": {"name": "bench-sim"}, "listen": "127.0.0.1",
        "modbus": {"port": 0}, "http": {"port": 0}, "snmp": {"port": 0}, "speedup": 1,
        "chillers": [{"name": "chiller%d" % (i + 1), "capacity_kw": 200 + i} for i in range(20)],
        "it": {"base_kw": 400}, "supply": {"hydro_kw": 500, "wind_kw": 100, "grid_kw": 0},
        "events": []}, indent=1) + "\n"


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    scenario, outdir = argv[1], argv[2]
    a = dict(kv.split("=", 1) for kv in argv[3:])
    a.setdefault("dir", outdir)
    m = {"scenario": scenario, "interval_s": float(a.get("interval", 1))}
    if scenario == "sim":
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "sim.json"), "w") as f:
            f.write(sim_scenario(m, a))
        return
    if scenario == "modbus":
        m["devices"] = modbus_map(a)
        if a.get("policy"):
            # An agent at rest still has a policy to evaluate.
            m["policies"] = [{"name": "bench-watch", "when": "bench.dev0.p000 < 0", "for": "1m",
                              "mode": "observe", "action": {"type": "notify"}}]
    elif scenario == "snmp":
        m["devices"] = snmp_map(a)
    elif scenario == "latency":
        # chiller1's capacity_kw (holding 100, float32): run.sh trips it
        # through floe-sim's /sim/set and puts it back.
        m["devices"] = [{"name": "lat", "protocol": "modbus", "host": "127.0.0.1",
                         "port": int(a["port"]), "unit_id": 1, "values": 1,
                         "points": [{"metric": LAT_METRIC, "address": MB_BASE, "type": "float32"}]}]
        m["policies"] = [{"name": "bench-trip", "when": LAT_METRIC + " < 100",
                          "for": "%gs" % float(a["for"]), "mode": "observe", "cooldown": "1h",
                          "action": {"type": "notify"}}]
        if a.get("tick"):
            m["policy_tick"] = a["tick"]
    else:
        sys.exit("gen.py: unknown scenario %r" % scenario)
    m["points_per_poll"] = sum(d["values"] for d in m["devices"])
    files = {"map.json": json.dumps(m, indent=1) + "\n", "floe.json": floe_config(m, a),
             "collectd.conf": collectd_config(m, a)}
    if scenario == "snmp":
        files["snmpd.conf"] = snmpd_config(m, a)
    os.makedirs(outdir, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(outdir, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main(sys.argv)
