#!/usr/bin/env python3
"""Collector load for the ShopDB benchmark (bench/run.sh runs it; standard library only).

Pushes computers to /api/collector/computers the way inventory scripts do and prints one
markdown table row per scenario: records per second, batch latency (p50, p99, max) and what
the server answered (created / updated / unchanged / rejected), checked against what each
scenario sent. PCs are numbered: WJ-PC-000000 … with serial, MAC, IP, OS and user derived
from the number, so a scenario knows exactly which records it changes.

    collector.py --url http://127.0.0.1:5099 --token TOKEN create --count 50000
    collector.py --url … --token … mixed --duration 20 --concurrency 16
"""

import argparse
import http.client
import json
import random
import string
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

# Ranges of PC numbers, so scenarios never disturb each other's "unchanged" records (the
# first 500 are changed by the one-batch timing at 500 computers).
STABLE = (500, 20000)      # never changed: the unchanged half of "mixed"
CHANGING = (20000, 35000)  # users change: the changed half of "mixed", "changed", "single"
SCRIPTS = (35000, 50000)   # "as the shipped scripts send": check-ins, 1 in 20 changed


def pc(n, user=None, checkin=None):
    record = {
        "hostname": f"WJ-PC-{n:06d}",
        "serialnumber": f"5CG{n:07d}",
        "macaddress": "02:00:%02x:%02x:%02x:%02x" % ((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255),
        "ipaddress": f"10.{100 + (n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
        "osname": "Windows 11 IoT Enterprise",
        "osversion": "10.0.22631",
        "currentuser": user or f"user{n % 5000:04d}",
        "computertype": "Shop floor",
    }
    if checkin:
        record["lastcheckin"] = checkin
    return record


def random_user():
    return "u" + "".join(random.choices(string.ascii_lowercase, k=7))


class Client:
    def __init__(self, url, token):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = None

    def push(self, records):
        body = json.dumps({"records": records})
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                start = time.perf_counter()
                self.conn.request("POST", "/api/collector/computers", body, self.headers)
                reply = self.conn.getresponse()
                data = reply.read()
                elapsed = time.perf_counter() - start
                if reply.status != 200:
                    raise RuntimeError(f"HTTP {reply.status}: {data[:300]!r}")
                return elapsed, json.loads(data)["data"]
            except (http.client.HTTPException, ConnectionError):
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.records = 0
        self.answers = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        self.wrong = 0
        self.reasons = set()

    def add(self, elapsed, data, expected):
        with self.lock:
            self.latencies.append(elapsed)
            self.records += sum(self.answers_of(data).values())
            for k, v in self.answers_of(data).items():
                self.answers[k] += v
            for key, want in expected.items():
                if data.get(key) != want:
                    self.wrong += 1
            for r in data.get("results", []):
                if r.get("status") == "rejected":
                    self.reasons.add(str(r.get("details") or r.get("reason"))[:200])

    @staticmethod
    def answers_of(data):
        return {k: data.get(k, 0) for k in ("created", "updated", "unchanged", "rejected")}


def pct(values, p):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(name, tally, seconds):
    lat = [x * 1000 for x in tally.latencies]
    a = tally.answers
    rate = tally.records / seconds if seconds else 0
    print(
        f"| {name} | {len(lat)} | {tally.records} | {rate:,.0f} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | "
        f"{max(lat, default=0):.1f} | {a['created']} / {a['updated']} / {a['unchanged']} / {a['rejected']} | "
        f"{'ok' if tally.wrong == 0 and a['rejected'] == 0 else 'NOT as sent: ' + str(tally.wrong) + ' batches; ' + '; '.join(sorted(tally.reasons))[:300]} |",
        flush=True,
    )


def run_workers(args, concurrency, duration, make_batch):
    """Runs `concurrency` workers pushing `make_batch(worker, rng)` for `duration` seconds."""
    tally = Tally()
    stop = time.perf_counter() + duration

    def work(worker):
        client = Client(args.url, args.token)
        rng = random.Random(worker * 7919 + int(time.time()))
        state = {}
        while time.perf_counter() < stop:
            records, expected = make_batch(worker, rng, state)
            elapsed, data = client.push(records)
            tally.add(elapsed, data, expected)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - started


def slice_of(rng_range, worker, workers):
    lo, hi = rng_range
    size = (hi - lo) // workers
    return lo + worker * size, lo + (worker + 1) * size


def create(args):
    """Creates PCs start … start+count in batches, `concurrency` at a time; one row per
    `window` records so the rate is seen as the table fills."""
    batches = [list(range(n, min(n + args.batch, args.start + args.count)))
               for n in range(args.start, args.start + args.count, args.batch)]
    lock = threading.Lock()
    window_tally = [Tally()]
    window_start = [time.perf_counter()]
    done = [args.start]
    overall = Tally()
    started = time.perf_counter()

    def work():
        client = Client(args.url, args.token)
        while True:
            with lock:
                if not batches:
                    return
                numbers = batches.pop(0)
            elapsed, data = client.push([pc(n) for n in numbers])
            for t in (overall, window_tally[0]):
                t.add(elapsed, data, {"created": len(numbers)})
            with lock:
                done[0] += len(numbers)
                if window_tally[0].records >= args.window:
                    row(f"create, computers {done[0] - window_tally[0].records:,}–{done[0]:,}", window_tally[0],
                        time.perf_counter() - window_start[0])
                    window_tally[0] = Tally()
                    window_start[0] = time.perf_counter()

    threads = [threading.Thread(target=work) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if window_tally[0].records:
        row(f"create, computers up to {done[0]:,}", window_tally[0], time.perf_counter() - window_start[0])
    row(f"create {args.count:,} computers, {args.batch}-record batches, {args.concurrency} at a time", overall,
        time.perf_counter() - started)


def mixed(args):
    half = args.batch // 2

    def batch(worker, rng, state):
        lo, hi = slice_of(STABLE, worker, args.concurrency)
        clo, chi = slice_of(CHANGING, worker, args.concurrency)
        records = [pc(n, user=state.get(n)) for n in rng.sample(range(lo, hi), half)]
        for n in rng.sample(range(clo, chi), args.batch - half):
            state[n] = random_user()
            records.append(pc(n, user=state[n]))
        return records, {"unchanged": half, "updated": args.batch - half}

    tally, secs = run_workers(args, args.concurrency, args.duration, batch)
    row(f"mixed: {args.concurrency} collectors, {half} unchanged + {args.batch - half} changed per batch", tally, secs)


def changed(args):
    def batch(worker, rng, state):
        lo, hi = slice_of((args.lo, args.hi), worker, args.concurrency)
        records = []
        for n in rng.sample(range(lo, hi), args.batch):
            state[n] = random_user()
            records.append(pc(n, user=state[n]))
        return records, {"updated": args.batch}

    tally, secs = run_workers(args, args.concurrency, args.duration, batch)
    label = "one collector, nothing else running" if args.concurrency == 1 else f"{args.concurrency} collectors"
    row(f"all changed: {label}, {args.batch} per batch", tally, secs)


def new(args):
    def batch(worker, rng, state):
        state["next"] = state.get("next", 0) + args.batch
        first = 1_000_000 + worker * 100_000 + state["next"]
        return [pc(n) for n in range(first, first + args.batch)], {"created": args.batch}

    tally, secs = run_workers(args, args.concurrency, args.duration, batch)
    row(f"all new: {args.concurrency} collectors, {args.batch} per batch", tally, secs)


def scripts(args):
    def batch(worker, rng, state):
        lo, hi = slice_of(SCRIPTS, worker, args.concurrency)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        records = []
        changes = 0
        for n in rng.sample(range(lo, hi), args.batch):
            if rng.random() < 0.05:
                state[n] = random_user()
                changes += 1
            records.append(pc(n, user=state.get(n), checkin=now))
        return records, {"updated": changes, "unchanged": args.batch - changes}

    tally, secs = run_workers(args, args.concurrency, args.duration, batch)
    row(f"as the shipped scripts send: {args.concurrency} collectors, every record a new lastcheckin, 1 in 20 changed", tally, secs)


def header():
    print("| Collector scenario | Batches | Records | Records/s | Batch p50 ms | p99 ms | max ms | created / updated / unchanged / rejected | Answers |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--header", action="store_true", help="print the table header first")
    sub = parser.add_subparsers(dest="scenario", required=True)
    c = sub.add_parser("create")
    c.add_argument("--start", type=int, default=0)
    c.add_argument("--count", type=int, default=50000)
    c.add_argument("--batch", type=int, default=500)
    c.add_argument("--concurrency", type=int, default=2)
    c.add_argument("--window", type=int, default=5000)
    for name in ("mixed", "changed", "new", "scripts"):
        s = sub.add_parser(name)
        s.add_argument("--duration", type=float, default=20)
        s.add_argument("--concurrency", type=int, default=16)
        s.add_argument("--batch", type=int, default=100)
        if name == "changed":
            s.add_argument("--lo", type=int, default=CHANGING[0], help="first PC number to change")
            s.add_argument("--hi", type=int, default=CHANGING[1], help="last PC number to change, plus one")
    args = parser.parse_args()
    if args.header:
        header()
    {"create": create, "mixed": mixed, "changed": changed, "new": new, "scripts": scripts}[args.scenario](args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
