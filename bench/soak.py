#!/usr/bin/env python3
"""Soak load for ShopDB (bench/run.sh with BENCH_SCOPE=soak runs it; standard library only).

Sends a steady mix of asset lists, asset details, searches and collector batches at a fixed
rate (open loop: each request has a scheduled time and is sent then, however long the
answers before it took) for --secs seconds, checks every answer, samples the server's
resident memory (VmRSS of --pid) every 10 s, and prints per-minute figures and a verdict:
no error, and memory flat.

The rate is twice (--factor) a nominal site, defined by its parameters:

  * --pcs computers (numbered WJ-PC-000000 … as bench/collector.py creates them) that each
    report once per --checkin seconds, gathered into --batch-record batches; every record
    carries a new check-in time, 1 in 20 a new signed-in user, and one batch in ten also
    brings a computer never seen before;
  * --people people browsing at once, each sending one request every --think seconds: 40 %
    lists (asset and computer lists, mostly the first pages), 35 % asset details, 25 %
    searches; half of them as web pages, half through the API.

Latency is measured from a request's scheduled time to the end of its answer, so a server
that falls behind shows in the percentiles instead of slowing the load down. Memory counts
as flat when the highest RSS of the second half of the run is less than --flat-mb (4) above
the highest of the first half (which includes the warm-up) and the second half's trend is
below --trend-mb (10) MB per hour.

    soak.py --url http://127.0.0.1:5099 --token LOGIN_TOKEN --collector-token TOKEN --pid PID
"""

import argparse
import http.client
import json
import os
import queue
import random
import socket
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collector  # noqa: E402  (bench/collector.py: the PC records and percentiles)

KINDS = ("list", "detail", "search", "collector")
BROWSE_WEIGHTS = (("list", 40), ("detail", 35), ("search", 25))
VENDORS = ("Okuma", "Mazak", "Haas", "Fanuc", "Mitutoyo", "Zebra", "Kyocera", "Lenovo")
NEW_PCS_FROM = 2_000_000  # numbers of computers the soak creates (never seen before)


class Conn:
    """One keep-alive connection; a request that fails on a reused connection (the server
    may close idle ones) is sent once more on a new one, and counted."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.conn = None
        self.requests_on_conn = 0

    def request(self, method, path, headers, body=None, timeout=30):
        for attempt in range(2):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
                self.requests_on_conn = 0
            try:
                self.conn.request(method, path, body, headers)
                reply = self.conn.getresponse()
                data = reply.read()
                self.requests_on_conn += 1
                return reply.status, reply.getheader("Content-Type", ""), data, attempt
            except (http.client.HTTPException, ConnectionError, socket.timeout, OSError) as e:
                self.conn.close()
                self.conn = None
                if fresh or attempt or isinstance(e, socket.timeout):
                    raise
        raise AssertionError("unreachable")


class Failure(Exception):
    """A wrong answer; the message is the error's kind ("HTTP 500", "wrong assetid", …),
    `detail` what the report shows of the first one (the request's path if none)."""

    def __init__(self, kind, detail=None):
        super().__init__(kind)
        self.detail = detail


class Site:
    """What the load needs to know about the data: asset ids, list sizes."""

    def __init__(self, args):
        self.args = args
        self.auth = {"Authorization": f"Bearer {args.token}"}
        conn = Conn(args.url)
        self.asset_ids = []
        page = 1
        while True:
            status, _, data, _ = conn.request("GET", f"/api/assets?per_page=200&page={page}&sort=assetid", self.auth)
            if status != 200:
                raise SystemExit(f"soak: listing asset ids failed: HTTP {status} {data[:200]!r}")
            rows = json.loads(data)["data"]
            self.asset_ids.extend(r["assetid"] for r in rows)
            if len(rows) < 200:
                break
            page += 1
        status, _, data, _ = conn.request("GET", "/api/computers?per_page=1", self.auth)
        self.computers = json.loads(data)["meta"]["total"] if status == 200 else 0
        if not self.asset_ids or not self.computers:
            raise SystemExit("soak: the database has no assets or no computers")
        # Vendor names searched for: those the demo data of this size holds.
        self.vendors = []
        for vendor in VENDORS:
            status, _, data, _ = conn.request("GET", f"/api/search?q={urllib.parse.quote(vendor)}", self.auth)
            if status == 200 and json.loads(data)["meta"]["total"] > 0:
                self.vendors.append(vendor)


def pages_of(total, per_page):
    return max(1, (total + per_page - 1) // per_page)


def some_page(rng, pages):
    """People mostly read the first pages of a list, sometimes jump deep into it."""
    return rng.randint(1, min(5, pages)) if rng.random() < 0.8 else rng.randint(1, pages)


def browse_request(site, rng):
    """(kind, path, check) of one request a person (or an integration) sends."""
    kind = rng.choices([k for k, _ in BROWSE_WEIGHTS], [w for _, w in BROWSE_WEIGHTS])[0]
    web = rng.random() < 0.5
    if kind == "list":
        computers = rng.random() < 0.3
        total = site.computers if computers else len(site.asset_ids)
        base = "computers" if computers else "assets"
        if web:
            page = some_page(rng, pages_of(total, 50))
            return kind, f"/{base}?page={page}", page_check
        page = some_page(rng, pages_of(total, 50))

        def check(status, ctype, data):
            body = api_check(status, ctype, data)
            if not isinstance(body.get("data"), list) or not body["data"]:
                raise Failure("empty page")
            if body.get("meta", {}).get("total", 0) < total * 0.9:
                raise Failure("total too small")

        return kind, f"/api/{base}?per_page=50&page={page}", check
    if kind == "detail":
        assetid = rng.choice(site.asset_ids)
        if web:
            return kind, f"/assets/{assetid}", page_check

        def check(status, ctype, data):
            if api_check(status, ctype, data).get("data", {}).get("assetid") != assetid:
                raise Failure("wrong assetid")

        return kind, f"/api/assets/{assetid}", check
    # search: part of a PC's host name (10 PCs each), of an asset number, or a vendor
    roll = rng.random()
    if roll < 0.4:
        term = f"PC-{rng.randrange(site.args.pcs // 10):05d}"
    elif roll < 0.8:
        term = f"A{rng.randrange(max(1, len(site.asset_ids) // 20)):05d}"
    else:
        term = rng.choice(site.vendors or ["PC-0"])
    q = urllib.parse.quote(term)
    if web:
        return kind, f"/search?q={q}", page_check

    def check(status, ctype, data):
        body = api_check(status, ctype, data)
        if not isinstance(body.get("data"), list) or body.get("meta", {}).get("total", 0) < 1:
            raise Failure("no match")

    return kind, f"/api/search?q={q}", check


def api_check(status, ctype, data):
    if status != 200:
        raise Failure(f"HTTP {status}", data[:200].decode(errors="replace"))
    if not ctype.startswith("application/json"):
        raise Failure(f"content type {ctype}")
    try:
        return json.loads(data)
    except ValueError:
        raise Failure("invalid JSON") from None


def page_check(status, ctype, data):
    if status != 200:
        raise Failure(f"HTTP {status}", data[:200].decode(errors="replace"))
    if not ctype.startswith("text/html") or b"</html>" not in data[-200:]:
        raise Failure("incomplete page")


class Checkins:
    """Collector batches: the PCs in turn, each with a new check-in time; 1 in 20 records
    with a new user, one batch in ten with a new PC. Knows which answer each record must
    get, so every per-record status is checked."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.order = list(range(args.pcs))
        self.rng.shuffle(self.order)
        self.next = 0
        self.batches = 0
        self.users = {}
        self.new_pcs = 0

    def batch(self):
        with self.lock:
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            records, expected = [], []
            size = self.args.batch
            self.batches += 1
            if self.batches % 10 == 0:
                n = NEW_PCS_FROM + self.new_pcs
                self.new_pcs += 1
                records.append(collector.pc(n, checkin=now))
                expected.append("created")
                self.users[n] = None
                size -= 1
            for _ in range(size):
                n = self.order[self.next]
                self.next = (self.next + 1) % len(self.order)
                if self.rng.random() < 0.05:
                    self.users[n] = collector.random_user()
                    expected.append("updated")
                else:
                    expected.append("unchanged")
                records.append(collector.pc(n, user=self.users.get(n), checkin=now))
            return json.dumps({"records": records}), expected


def collector_check(expected):
    def check(status, ctype, data):
        body = api_check(status, ctype, data).get("data", {})
        got = [r.get("status") for r in body.get("results", [])]
        if len(got) != len(expected):
            raise Failure(f"{len(got)} results for {len(expected)} records")
        wrong = [(w, g) for w, g in zip(expected, got) if w != g]
        if wrong:
            i = next(i for i, (w, g) in enumerate(zip(expected, got)) if w != g)
            record = body["results"][i]
            raise Failure(f"record {got[i]}, expected {expected[i]}",
                          f"record {i} of the batch: {json.dumps(record)[:200]}")
        for key in ("created", "updated", "unchanged", "rejected"):
            if body.get(key) != expected.count(key):
                raise Failure(f"count of {key} wrong")

    return check


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = []  # (minute, kind, latency s, error or None)
        self.examples = {}  # error kind -> first request that got it
        self.retries = 0
        self.max_lag = 0.0

    def add(self, minute, kind, latency, error, lag, retried, path):
        with self.lock:
            self.samples.append((minute, kind, latency, error))
            if error:
                self.examples.setdefault(f"{kind}: {error}", path)
            self.retries += retried
            self.max_lag = max(self.max_lag, lag)


def run(args):
    site = Site(args)
    checkins = Checkins(args)
    browse_rate = args.factor * args.people / args.think
    batch_rate = args.factor * args.pcs / args.checkin / args.batch
    auth = {"Authorization": f"Bearer {args.token}"}
    collector_headers = {"Authorization": f"Bearer {args.collector_token}", "Content-Type": "application/json"}
    print(
        f"soak: {len(site.asset_ids):,} assets, {site.computers:,} computers; "
        f"{browse_rate:.1f} reads/s and {batch_rate:.3f} collector batches/s "
        f"({batch_rate * args.batch:.1f} records/s) for {args.secs} s",
        file=sys.stderr,
        flush=True,
    )

    jobs = queue.Queue()
    results = Results()
    rss = []  # (seconds since start, VmRSS kB, open files, threads, RssAnon kB)
    start = time.monotonic() + 0.5
    done = threading.Event()

    def worker():
        conn = Conn(args.url)
        while True:
            job = jobs.get()
            if job is None:
                return
            due, kind, method, path, headers, body, check = job
            begun = time.monotonic()
            error, retried, example = None, 0, path
            try:
                status, ctype, data, retried = conn.request(method, path, headers, body, args.timeout)
                check(status, ctype, data)
            except Failure as e:
                error = str(e)
                if e.detail:
                    example = f"{path}: {e.detail}"
            except socket.timeout:
                error = "timeout"
            except (http.client.HTTPException, OSError) as e:
                error = type(e).__name__
            end = time.monotonic()
            results.add(int((due - start) // 60), kind, end - due, error, begun - due, retried, example)

    def sampler():
        while True:
            t = time.monotonic() - start
            try:
                with open(f"/proc/{args.pid}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
                kb = int(fields["VmRSS"].split()[0])
                anon = int(fields["RssAnon"].split()[0])
                threads = int(fields["Threads"])
                fds = len(os.listdir(f"/proc/{args.pid}/fd"))
            except (OSError, KeyError, ValueError):
                kb, anon, threads, fds = 0, 0, 0, 0
            rss.append((t, kb, fds, threads, anon))
            if done.wait(max(0.0, args.sample - (time.monotonic() - start - t))):
                return

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    for w in workers:
        w.start()
    sampling = threading.Thread(target=sampler, daemon=True)

    # Two fixed-interval streams, merged: reads and collector batches.
    rng = random.Random(args.seed + 1)
    streams = {"browse": (1 / browse_rate, 0.0), "collector": (1 / batch_rate, 0.25 / batch_rate)}
    next_due = {name: start + offset for name, (_, offset) in streams.items()}
    end_at = start + args.secs
    last_minute = -1
    time.sleep(max(0.0, start - time.monotonic()))
    sampling.start()
    while True:
        name = min(next_due, key=next_due.get)
        due = next_due[name]
        if due >= end_at:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if name == "browse":
            kind, path, check = browse_request(site, rng)
            jobs.put((due, kind, "GET", path, auth, None, check))
        else:
            body, expected = checkins.batch()
            jobs.put((due, "collector", "POST", "/api/collector/computers", collector_headers, body,
                      collector_check(expected)))
        next_due[name] = due + streams[name][0]
        minute = int((due - start) // 60)
        if minute != last_minute and minute > 0:
            progress(results, rss, minute - 1)
        last_minute = minute
    for _ in workers:
        jobs.put(None)
    for w in workers:
        w.join(args.timeout + 5)
    done.set()
    sampling.join()
    return report(args, site, results, rss, browse_rate, batch_rate, checkins)


def stats(latencies):
    ms = [x * 1000 for x in latencies]
    return collector.pct(ms, 50), collector.pct(ms, 99), max(ms, default=0.0)


def rss_at(rss, t, field=1):
    """The last sample taken at or before t (MB): VmRSS, or RssAnon with field=4."""
    before = [r[field] for r in rss if r[0] <= t + 0.5]
    return (before[-1] if before else rss[0][field]) / 1024


def progress(results, rss, minute):
    with results.lock:
        mine = [s for s in results.samples if s[0] == minute]
    errors = sum(1 for s in mine if s[3])
    mb = rss_at(rss, (minute + 1) * 60) if rss else 0
    print(f"soak: minute {minute + 1}: {len(mine)} requests, {errors} errors, RSS {mb:.1f} MB",
          file=sys.stderr, flush=True)


def slope_mb_per_hour(points):
    """Least-squares slope of (seconds, kB) points, in MB per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / var * 3600 / 1024


def report(args, site, results, rss, browse_rate, batch_rate, checkins):
    samples = results.samples
    minutes = max((s[0] for s in samples), default=-1) + 1
    out = []
    p = out.append
    p(f"Soak: {args.secs} s at {args.factor:g}× nominal — {browse_rate:.1f} reads/s "
      f"(list/detail/search {'/'.join(str(w) for _, w in BROWSE_WEIGHTS)} %, half web pages) and "
      f"{batch_rate * 60:.1f} collector batches/min of {args.batch} records; "
      f"{len(site.asset_ids):,} assets, {site.computers:,} computers at the start.")
    p("")
    p("| min | requests | errors | list p50/p99 ms | detail p50/p99 ms | search p50/p99 ms | collector p50/p99 ms | RSS MB | anon MB |")
    p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in range(minutes):
        mine = [s for s in samples if s[0] == m]
        cells = []
        for kind in KINDS:
            lat = [s[2] for s in mine if s[1] == kind]
            p50, p99, _ = stats(lat)
            cells.append(f"{p50:.1f} / {p99:.1f}" if lat else "–")
        errors = sum(1 for s in mine if s[3])
        p(f"| {m + 1} | {len(mine)} | {errors} | {' | '.join(cells)} | {rss_at(rss, (m + 1) * 60):.1f} | {rss_at(rss, (m + 1) * 60, 4):.1f} |")
    p("")
    p("| kind | requests | errors | p50 ms | p99 ms | max ms |")
    p("|---|---:|---:|---:|---:|---:|")
    for kind in KINDS:
        mine = [s for s in samples if s[1] == kind]
        p50, p99, top = stats([s[2] for s in mine])
        p(f"| {kind} | {len(mine)} | {sum(1 for s in mine if s[3])} | {p50:.1f} | {p99:.1f} | {top:.1f} |")
    errors = {}
    for s in samples:
        if s[3]:
            key = f"{s[1]}: {s[3]}"
            errors[key] = errors.get(key, 0) + 1
    total_errors = sum(errors.values())
    p("")
    p(f"Errors: {total_errors}" + (" — " + "; ".join(f"{k} ×{v} (first: `{results.examples[k]}`)"
                                                    for k, v in sorted(errors.items())) if errors else ""))
    p(f"Collector: {checkins.batches} batches, {checkins.new_pcs} new computers; every per-record status checked.")
    p(f"Requests resent on a new connection after the server closed a kept-alive one: {results.retries}; "
      f"latest start behind schedule: {results.max_lag * 1000:.0f} ms.")

    # Memory: flat when the highest RSS of the second half is less than --flat-mb above the
    # highest of the first half (the first half includes the warm-up: caches filling), and
    # the second half's least-squares trend is below --trend-mb per hour (a slow leak that
    # the first test alone would let pass in a short run).
    half = args.secs / 2
    first = [kb for t, kb, *_ in rss if t < half and kb]
    second = [kb for t, kb, *_ in rss if t >= half and kb]
    growth = (max(second) - max(first)) / 1024 if first and second else float("nan")
    slope = slope_mb_per_hour([(t, kb) for t, kb, *_ in rss if t >= half and kb])
    flat = bool(first and second) and growth < args.flat_mb and slope < args.trend_mb
    valid = [r for r in rss if r[1]]
    if valid:
        p(f"RSS (VmRSS every {args.sample:g} s, {len(valid)} samples): start {valid[0][1] / 1024:.1f} MB, "
          f"lowest {min(r[1] for r in valid) / 1024:.1f}, highest {max(r[1] for r in valid) / 1024:.1f}, "
          f"end {valid[-1][1] / 1024:.1f}; highest of the first half {max(first, default=0) / 1024:.1f}, "
          f"of the second half {max(second, default=0) / 1024:.1f} ({growth:+.1f} MB); "
          f"second-half trend {slope:+.1f} MB/h; of it anonymous memory (heap) {valid[0][4] / 1024:.1f} → "
          f"{valid[-1][4] / 1024:.1f} MB, the rest mapped files. Open files {valid[0][2]} → {valid[-1][2]}, "
          f"threads {valid[0][3]} → {valid[-1][3]}.")
    ok = total_errors == 0 and flat
    p("")
    p(f"Verdict: {'PASS' if ok else 'FAIL'} — errors {total_errors} (must be 0); memory "
      f"{'flat' if flat else 'NOT flat'} (rule: the second half's highest RSS less than "
      f"{args.flat_mb:g} MB above the first half's highest, measured {growth:+.1f} MB; and its trend "
      f"below {args.trend_mb:g} MB/h, measured {slope:+.1f} MB/h).")
    print("\n".join(out), flush=True)
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True, help="a login token (reads)")
    parser.add_argument("--collector-token", required=True, help="an API token of the computers plugin")
    parser.add_argument("--pid", type=int, required=True, help="the server's process id (memory samples)")
    parser.add_argument("--secs", type=float, default=float(os.environ.get("SOAK_SECS", 600)))
    parser.add_argument("--factor", type=float, default=2.0, help="multiple of the nominal load")
    parser.add_argument("--pcs", type=int, default=50000, help="nominal: computers that report")
    parser.add_argument("--checkin", type=float, default=3600, help="nominal: seconds between two reports of a PC")
    parser.add_argument("--batch", type=int, default=100, help="records per collector batch")
    parser.add_argument("--people", type=int, default=100, help="nominal: people browsing at once")
    parser.add_argument("--think", type=float, default=10, help="nominal: seconds between a person's requests")
    parser.add_argument("--workers", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--sample", type=float, default=10, help="seconds between memory samples")
    parser.add_argument("--flat-mb", type=float, default=4, help="largest RSS growth still called flat")
    parser.add_argument("--trend-mb", type=float, default=10, help="largest RSS trend (MB per hour) still called flat")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    sys.exit(run(args))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
