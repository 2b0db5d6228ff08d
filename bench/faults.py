#!/usr/bin/env python3
"""Faults that cannot run inside the test suite (standard library only; run as root).

    bench/faults.py --shopdb target/release/shopdb disk       SQLite on a full disk
    bench/faults.py --shopdb … restart postgres               PostgreSQL restarted under load
    bench/faults.py --shopdb … restart mariadb                MariaDB restarted under load

`disk` puts a SQLite database on a small tmpfs, pushes PCs until the disk is full, checks the
answer and the database, frees space and pushes again. `restart` runs readers and collectors
against a server on a throwaway database, restarts the database server (pg_ctlcluster /
mysqladmin shutdown + mariadbd) and measures how the server came through. Each prints what it
saw and exits non-zero when a rule is broken. It restarts the machine's database server: do
not run it while something else uses that server.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

SECRET = "faults-script-signing-key-of-at-least-32-bytes"
BATCH = 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, token=None, body=None, timeout=30):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, None
    except (OSError, http.client.HTTPException):
        return 0, None


def batch(first):
    return {"records": [{"hostname": f"WJ-PC-{n:06d}", "serialnumber": f"SN{n:08d}",
                         "osname": "Windows 11 Enterprise", "currentuser": f"user{n % 97}"} for n in range(first, first + BATCH)]}


class Site:
    def __init__(self, shopdb, url, workdir):
        self.shopdb, self.url, self.dir = shopdb, url, workdir
        self.env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET, SHOPDB_ENV="development")
        self.run("plugin", "install", "computers")
        self.token = self.run("token", "create", "--name", "faults", "--plugin", "computers").strip()
        self.run("user", "create", "ops", "--role", "admin", "--password-stdin", stdin="a long ops password\n")
        self.server = None

    def run(self, *args, stdin=None):
        out = subprocess.run([self.shopdb, *args], cwd=self.dir, env=self.env, input=stdin,
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"shopdb {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def serve(self):
        self.port = free_port()
        self.log = open(os.path.join(self.dir, f"server-{self.port}.log"), "w")
        self.server = subprocess.Popen([self.shopdb, "serve", "--bind", f"127.0.0.1:{self.port}"],
                                       cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(300):
            if call(self.port, "GET", "/api/health")[0] == 200:
                break
            time.sleep(0.1)
        else:
            sys.exit("the server did not become healthy")
        _, login = call(self.port, "POST", "/api/auth/login", body={"username": "ops", "password": "a long ops password"})
        self.user = login["data"]["token"]

    def stop(self):
        if self.server:
            self.server.terminate()
            self.server.wait()


def check(rule, ok, failures):
    print(("  ok    " if ok else "  BROKEN ") + rule)
    if not ok:
        failures.append(rule)


def whole(rows, failures):
    computers, assets, audits, no_audit, no_search = rows
    check(f"{computers} PCs, a whole number of {BATCH}-record batches", computers % BATCH == 0, failures)
    check("every PC has its asset, creation audit entry and search entry",
          assets == computers == audits and no_audit == 0 and no_search == 0, failures)


WHOLE_SQL = [
    "SELECT COUNT(*) FROM computers",
    "SELECT COUNT(*) FROM assets",
    "SELECT COUNT(*) FROM auditlog WHERE entitytype = 'asset' AND action = 'created'",
    "SELECT COUNT(*) FROM computers c WHERE NOT EXISTS (SELECT 1 FROM auditlog l "
    "WHERE l.entitytype = 'asset' AND l.entityid = c.assetid AND l.action = 'created')",
    "SELECT COUNT(*) FROM computers c WHERE NOT EXISTS (SELECT 1 FROM searchindex s WHERE s.assetid = c.assetid)",
]


def disk(args):
    failures = []
    work = tempfile.mkdtemp(prefix="shopdb-disk-")
    mount = os.path.join(work, "disk")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size}m", "tmpfs", mount], check=True)
    try:
        path = os.path.join(mount, "shopdb.sqlite")
        site = Site(args.shopdb, f"sqlite://{path}", work)
        ballast = os.path.join(mount, "ballast")
        with open(ballast, "wb") as f:
            f.write(b"\0" * 1024 * 1024)
        site.serve()
        print(f"SQLite on a {args.size} MB tmpfs; pushing {BATCH}-PC batches until the disk is full")
        n, answers = 0, []
        while n < 1_000_000:
            status, body = call(site.port, "POST", "/api/collector/computers", site.token, batch(n))
            if status != 200:
                answers.append((status, body))
                break
            n += BATCH
        stored = n
        print(f"  {stored} PCs stored before the disk filled up")
        status, body = answers[0] if answers else (0, None)
        err = (body or {}).get("error", {})
        print(f"  answer: {status} {err.get('code')}: {err.get('message')}")
        check("a full disk is a clear error (507 disk_full), not a 500", status == 507 and err.get("code") == "disk_full", failures)
        check("reads still work", call(site.port, "GET", "/api/computers?per_page=5", site.user)[0] == 200, failures)
        site.stop()
        db = sqlite3.connect(path)
        check("PRAGMA integrity_check says ok", db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", failures)
        whole([db.execute(q).fetchone()[0] for q in WHOLE_SQL], failures)
        db.close()
        os.remove(ballast)
        site.serve()
        status, _ = call(site.port, "POST", "/api/collector/computers", site.token, batch(stored))
        check("writes resume once space is freed", status == 200, failures)
        site.stop()
    finally:
        subprocess.run(["umount", mount])
        shutil.rmtree(work, ignore_errors=True)
    return failures


def restart(args):
    failures = []
    kind = args.database
    name = "shopdbfaults%d" % os.getpid()
    if kind == "postgres":
        admin = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
        subprocess.run(admin + [f"CREATE DATABASE {name}"], check=True)
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        admin = ["mysql", "-h", "127.0.0.1", "-u", "root", "-e"]
        subprocess.run(admin + [f"CREATE DATABASE {name}"], check=True)
        url = f"mysql://root@127.0.0.1:3306/{name}"
    work = tempfile.mkdtemp(prefix="shopdb-restart-")
    site = Site(args.shopdb, url, work)
    site.serve()
    token = site.user
    call(site.port, "POST", "/api/collector/computers", site.token, batch(0))
    log, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            t = time.time()
            s, _ = call(site.port, "GET", "/api/computers?per_page=20", token, timeout=30)
            log.append((t, time.time() - t, s, "read"))

    def pusher(k):
        n = 1_000_000 * (k + 1)
        while not stop.is_set():
            t = time.time()
            s, _ = call(site.port, "POST", "/api/collector/computers", site.token, batch(n), timeout=30)
            log.append((t, time.time() - t, s, "push"))
            if s == 200:
                n += BATCH
            time.sleep(0.05)

    threads = [threading.Thread(target=reader) for _ in range(4)] + [threading.Thread(target=pusher, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    time.sleep(5)
    down = time.time()
    if kind == "postgres":
        version = os.listdir("/etc/postgresql")[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
    else:
        subprocess.run(["mysqladmin", "-h", "127.0.0.1", "-u", "root", "shutdown"], check=True)
        # The old server must be gone before a new one can start on its files and port.
        for _ in range(240):
            if subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True).returncode != 0:
                break
            time.sleep(0.25)
        subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"], check=True)
        for _ in range(120):
            if subprocess.run(["mysqladmin", "-h", "127.0.0.1", "-u", "root", "ping", "--silent"], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
    up = time.time()
    time.sleep(10)
    stop.set()
    for t in threads:
        t.join()
    site.stop()
    print(f"{kind} was down for {up - down:.1f} s")
    during = [e for e in log if e[0] >= down - 1]
    statuses = {}
    for e in during:
        statuses[e[2]] = statuses.get(e[2], 0) + 1
    print(f"  answers from 1 s before the restart on: {dict(sorted(statuses.items()))}")
    check("no answer other than 200 or 503 database_unavailable (no 500, no cut connection)",
          all(s in (200, 503) for _, _, s, _ in during), failures)
    first_ok = min((t + d for t, d, s, _ in log if t >= up and s == 200), default=None)
    recovered = None if first_ok is None else first_ok - up
    print(f"  first success {recovered:.2f} s after the database was back" if recovered is not None else "  no success after the restart")
    check("the server recovers by itself within 5 s of the database", recovered is not None and recovered <= 5, failures)
    after = [e for e in log if e[0] >= up + 5]
    check("everything after that succeeds", bool(after) and all(s == 200 for _, _, s, _ in after), failures)
    longest = max((d for _, d, _, _ in during), default=0)
    print(f"  longest wait for an answer: {longest:.1f} s")
    subprocess.run(admin + [f"DROP DATABASE {name}"])
    shutil.rmtree(work, ignore_errors=True)
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shopdb", required=True, help="the shopdb binary")
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("disk")
    d.add_argument("--size", type=int, default=6, help="tmpfs size in MB")
    r = sub.add_parser("restart")
    r.add_argument("database", choices=["postgres", "mariadb"])
    args = p.parse_args()
    args.shopdb = os.path.abspath(args.shopdb)
    failures = disk(args) if args.what == "disk" else restart(args)
    if failures:
        sys.exit(f"{len(failures)} rule(s) broken")
    print("all rules held")


if __name__ == "__main__":
    main()
