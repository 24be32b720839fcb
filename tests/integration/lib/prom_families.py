"""prom_families.py FILE [--all-samples]: the families SPEC 4 lists for
/metrics (and the additions this version documents) are in FILE, a
Prometheus text page: each with exactly one TYPE line of the right type,
and every sample with exactly the family's label names (a histogram's
buckets also `le`). With --all-samples every family must have a sample
(a running agent whose policy fired has them all). Prints what it found,
or each problem; exits 1 on any problem."""
import re
import sys

# family: (type, label names)
FAMILIES = {
    "floe_metric_value": ("gauge", {"metric", "unit", "source"}),
    "floe_metric_quality": ("gauge", {"metric"}),
    "floe_collector_up": ("gauge", {"device", "protocol"}),
    "floe_poll_duration_seconds": ("histogram", {"device"}),
    "floe_policy_state": ("gauge", {"policy", "state", "severity"}),
    "floe_policy_unknown": ("gauge", {"policy"}),
    "floe_decisions_total": ("counter", {"kind", "status"}),
    "floe_migrations_total": ("counter", {"result"}),
    "floe_migration_downtime_seconds": ("histogram", set()),
    "floe_spare_kw": ("gauge", set()),
    "floe_peer_up": ("gauge", {"peer"}),
}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def main():
    path, all_samples = sys.argv[1], "--all-samples" in sys.argv[2:]
    types, samples, problems = {}, {}, []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in types:
                problems.append(f"{name}: two TYPE lines")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"cannot read the sample line {line!r}")
            continue
        name, labels = m.group(1), set(k for k, _ in LABEL.findall(m.group(3) or ""))
        samples.setdefault(name, []).append(labels)
    for family, (kind, labels) in FAMILIES.items():
        if types.get(family) != kind:
            problems.append(f"{family}: TYPE {types.get(family)}, expected {kind}")
            continue
        if kind == "histogram":
            series = [(f"{family}_bucket", labels | {"le"}), (f"{family}_sum", labels),
                      (f"{family}_count", labels)]
        else:
            series = [(family, labels)]
        for name, want in series:
            for got in samples.get(name, []):
                if got != want:
                    problems.append(f"{name}: labels {sorted(got)}, expected {sorted(want)}")
                    break
            if all_samples and not samples.get(name):
                problems.append(f"{name}: no sample")
    if problems:
        print("; ".join(problems))
        return 1
    print(f"{len(FAMILIES)} families with their types and labels")
    return 0


sys.exit(main())
