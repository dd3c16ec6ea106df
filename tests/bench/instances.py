#!/usr/bin/env python3
"""Benchmarks for EC2 + SSM with real workers (never part of ctest; prints numbers).

usage: DSS_BIN=build/bin python3 tests/bench/instances.py [--ready N] [--commands N] [--idle N]
  --ready N     time from RunInstances(N) to all N SSM-ready (status ok + agent Online), with
                boot and status delays of 0 so only dss's own cost is measured (default 100)
  --commands N  SendCommand -> Success round trip of `true` on one instance, p50/p99 (default 200)
  --idle N      N idle workers at once: RSS and PSS per worker (from /proc/PID/smaps_rollup),
                and the CPU they use over 10 s of idling (default 500)
"""
import argparse
import os
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from dsstest import Emulator, client  # noqa: E402


def rollup(pid):
    vals = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if parts[0] in ("Rss:", "Pss:", "Private_Dirty:"):
                    vals[parts[0][:-1]] = int(parts[1])
    except OSError:
        pass
    return vals


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def launch_ready(ec2, ssm, n):
    t0 = time.monotonic()
    ids = []
    while len(ids) < n:
        k = min(100, n - len(ids))
        ids += [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=k,
                                                           MaxCount=k)["Instances"]]
    while True:
        online = 0
        for page in ssm.get_paginator("describe_instance_information").paginate():
            online += sum(1 for i in page["InstanceInformationList"] if i["PingStatus"] == "Online")
        if online >= n:
            break
        time.sleep(0.05)
    return ids, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", type=int, default=100)
    ap.add_argument("--commands", type=int, default=200)
    ap.add_argument("--idle", type=int, default=500)
    a = ap.parse_args()
    os.environ["DSS_EC2_BOOT_MS"] = "0"
    os.environ["DSS_EC2_STATUS_MS"] = "0"
    os.environ["DSS_EC2_SHUTDOWN_MS"] = "0"
    emu = Emulator(extra_args=("--threads", "4")).start()
    try:
        ec2, ssm = client(emu.endpoint, "ec2"), client(emu.endpoint, "ssm")
        if a.ready:
            ids, secs = launch_ready(ec2, ssm, a.ready)
            print("run_to_ssm_ready instances=%d seconds=%.2f per_instance_ms=%.1f" % (a.ready, secs, 1000 * secs / a.ready))
            ec2.terminate_instances(InstanceIds=ids)
        if a.commands:
            [iid], _ = launch_ready(ec2, ssm, 1)
            lat = []
            for _ in range(a.commands):
                t0 = time.monotonic()
                cid = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                                       Parameters={"commands": ["true"]})["Command"]["CommandId"]
                while ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["Status"] != "Success":
                    time.sleep(0.002)
                lat.append(1000 * (time.monotonic() - t0))
            lat.sort()
            print("send_command_to_success n=%d p50_ms=%.1f p99_ms=%.1f" % (
                len(lat), statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]))
            ec2.terminate_instances(InstanceIds=[iid])
        if a.idle:
            time.sleep(1)
            ids, secs = launch_ready(ec2, ssm, a.idle)
            import json
            inst = json.loads(urllib.request.urlopen(emu.endpoint + "/_dss/instances").read())["instances"]
            pids = [i["pid"] for i in inst if i.get("pid") and i["instance_id"] in ids]
            rs = [rollup(p) for p in pids]
            t0 = [cpu_ticks(p) for p in pids]
            time.sleep(10)
            used = sum(cpu_ticks(p) for p in pids) - sum(t0)
            hz = os.sysconf("SC_CLK_TCK")
            print("idle_workers n=%d ready_seconds=%.1f rss_kb_mean=%.0f rss_kb_max=%d pss_kb_mean=%.0f "
                  "private_dirty_kb_mean=%.0f cpu_percent_all_workers=%.2f" % (
                      len(pids), secs, statistics.mean(r.get("Rss", 0) for r in rs), max(r.get("Rss", 0) for r in rs),
                      statistics.mean(r.get("Pss", 0) for r in rs),
                      statistics.mean(r.get("Private_Dirty", 0) for r in rs), 100.0 * used / hz / 10))
            ec2.terminate_instances(InstanceIds=ids)
    finally:
        emu.stop()


main()
