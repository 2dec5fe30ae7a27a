#!/usr/bin/env python3
"""Turns the text scripts/bench printed into JSON: every figure with the anchor it is measured
against in the same run (the Redis row of the same workload, or the in-memory row for the
durable queues), so that runs can be compared.   bench_json.py BENCH_OUTPUT JSON_FILE"""
import json
import re
import sys

NUM = r"([0-9.]+)"


def rows(text):
    section, sub = "data path", None
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("worker SDK"):
            section = "worker SDK"
        elif s.startswith("jobs ("):
            section = "jobs"
        elif s.startswith("durable queues"):
            section = "durable queues"
        elif s.startswith("supervision"):
            section = "supervision"
        elif s.startswith("queue memory"):
            section = "queue memory"
        elif s.startswith("queue_fsync"):
            sub = s.rstrip(":")
        m = re.match(r"(.+?)\s+" + NUM + r"\s+" + NUM + r"\s+" + NUM + r"\s+" + NUM + r"$", s)
        if m and not s.startswith(("workload", "supernode 0")):
            unit = "jobs/s" if section == "jobs" else "items/s"
            yield {"section": section + (f" ({sub})" if sub and section == "durable queues" else ""),
                   "workload": m.group(1), "value": float(m.group(2)), "unit": unit,
                   "p50_ms": float(m.group(3)), "p99_ms": float(m.group(4)), "lost_or_errors": float(m.group(5))}
            continue
        m = re.match(r"(median of 3: .+?)\s+" + NUM + r"\s+-\s+-\s+0$", s)
        if m:
            yield {"section": section, "workload": m.group(1), "value": float(m.group(2)), "unit": "items/s"}
            continue
        m = re.match(r"(bench_put --batch \d+)\s+items \d+ seconds [0-9.]+ items_per_s " + NUM, s)
        if m:
            yield {"section": section, "workload": m.group(1), "value": float(m.group(2)), "unit": "items/s"}
            continue
        m = re.match(r"(crash -> .+?)\s+(\d+) crashes\s+p50 " + NUM + r" ms\s+p99 " + NUM + " ms", s)
        if m:
            yield {"section": section, "workload": m.group(1), "value": float(m.group(3)), "unit": "ms (p50)",
                   "p99_ms": float(m.group(4))}
            continue
        m = re.match(r"(queue of .+?)\s+" + NUM + r" bytes/item beyond the data \(RSS \+" + NUM + r" MiB\)", s)
        if m:
            yield {"section": section, "workload": m.group(1), "value": float(m.group(2)), "unit": "bytes/item overhead",
                   "rss_growth_mib": float(m.group(3))}
            continue
        m = re.match(r"(\d+ idle supervised tasks.*?)\s+node CPU " + NUM + r"%\s+RSS " + NUM + " MiB", s)
        if m:
            yield {"section": section, "workload": m.group(1), "value": float(m.group(2)), "unit": "% CPU",
                   "rss_mib": float(m.group(3))}


def main():
    text = open(sys.argv[1]).read()
    head = text.splitlines()[0] if text else ""
    out = []
    for r in rows(text):
        # A supernode row's anchor is the Redis row right after it (same workload, same run);
        # a durable-queue row's anchor is also the in-memory batched row.
        if r["workload"].startswith("floor"):
            # The bare lws relay: the floor of the one-item-per-frame row before it.
            one = next((o for o in reversed(out) if o["workload"] == "supernode put x1 -> fetch batch=1"), None)
            if one:
                one["floor"] = {"workload": r["workload"], "value": r["value"], "unit": r["unit"],
                                "ratio": round(one["value"] / r["value"], 2) if r["value"] else None}
        if r["workload"].startswith("median of 3: redis") and out:
            out[-1]["anchor"] = {"workload": r["workload"], "value": r["value"], "unit": r["unit"],
                                 "ratio": round(out[-1]["value"] / r["value"], 2) if r["value"] else None}
        if r["workload"].startswith("redis") and out and not out[-1]["workload"].startswith("redis"):
            out[-1]["anchor"] = {"workload": r["workload"], "value": r["value"], "unit": r["unit"],
                                 "ratio": round(out[-1]["value"] / r["value"], 2) if r["value"] else None}
        out.append(r)
    mem = next((r for r in out if r["section"] == "data path" and "x100" in r["workload"]
                and r["workload"].startswith("supernode")), None)
    for r in out:
        if r["section"].startswith("durable queues") and r["workload"].startswith("supernode") and mem:
            r["in_memory"] = {"value": mem["value"], "ratio": round(r["value"] / mem["value"], 2)}
    with open(sys.argv[2], "w") as f:
        json.dump({"run": head, "figures": out}, f, indent=1)
    print(f"bench: {len(out)} figures written to {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()
