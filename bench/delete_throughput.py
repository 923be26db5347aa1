#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""delete_throughput.py - driven by delete_throughput.sh: delete the expired half of
1,000,000 core_auditlog rows on PostgreSQL and SQLite with
  janitor  `janitor run --operation logs` (batches of 10,000, one transaction each),
  single   one plain DELETE ... WHERE "timestamp" < cutoff (the practical limit),
  django   the Django ORM loop (ids of a batch, then filter(pk__in=...).delete()),
each run on a fresh copy of a template database, and print rows/s and ratios.
Rows/s count the rows deleted; times exclude process start and connecting
(janitor: the operation's own "seconds"; others: around the statements).
  JANITOR_BEFORE=path  also time another janitor binary ("before"), e.g. the previous commit's,
                       in the same runs
  BENCH_METHODS="janitor single"  only these methods
  BENCH_VACUUM=0       leave the PostgreSQL template as loaded (ANALYZE only) instead of
                       VACUUM (ANALYZE): then no page is all-visible and every index-only scan
                       visits the heap. The default is the state of a real table whose rows
                       are 90 days old, which autovacuum has long since visited (PostgreSQL 13+
                       vacuums after inserts too), and it does not change while the bench runs
                       (otherwise an autovacuum of the template partway through changes what
                       later copies look like).
Methods take turns within each run, so a slow minute of a shared machine hits all of them.
Each copy is checkpointed and synced before it is timed, so writing back the copy itself does
not land inside the next timed run.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
VACUUM = os.environ.get("BENCH_VACUUM", "1") != "0"
BATCH = 10000
ANCHOR = 1735689600  # 2025-01-01T00:00:00Z: rows spread over the 180 days before it
CUTOFF = ANCHOR - 90 * 86400
JANITOR = os.environ["JANITOR"]
SRCDIR = os.environ["JANITOR_SRCDIR"]
WORK = os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="janitor-bench-")
os.makedirs(WORK, exist_ok=True)
HERE = os.path.dirname(os.path.abspath(__file__))

GEN_PG = f"""
INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, ip_address, changes)
SELECT to_timestamp({ANCHOR} - 180 * 86400 + i * (180 * 86400.0 / {ROWS})
                    + ((i::bigint * 7919) % 601) - 300),
       'user' || (i % 500), (ARRAY['create','update','delete','login'])[1 + i % 4],
       'order', (i % 100000)::text, ('10.0.' || (i % 250) || '.' || (i % 200))::inet,
       jsonb_build_object('status', 'paid', 'amount', i % 1000, 'note', repeat('x', 60))
FROM generate_series(0, {ROWS} - 1) i;
ANALYZE core_auditlog;
"""

GEN_SQLITE = f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS} - 1)
INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, ip_address, changes)
SELECT strftime('%Y-%m-%d %H:%M:%S', {ANCHOR} - 180 * 86400 + i * (180 * 86400.0 / {ROWS})
                + ((i * 7919) % 601) - 300, 'unixepoch'),
       'user' || (i % 500), 'update', 'order', CAST(i % 100000 AS text),
       '10.0.' || (i % 250) || '.' || (i % 200),
       json_object('status', 'paid', 'amount', i % 1000, 'note', printf('%.60c', 'x'))
FROM n;
ANALYZE;
"""


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def pg_conn(db):
    import psycopg2
    return psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                            user=os.environ["PGUSER"], dbname=db)


def pg_url(db):
    return f"postgresql://{os.environ['PGUSER']}@{os.environ['PGHOST']}:{os.environ['PGPORT']}/{db}"


def pg_admin(sql):
    c = pg_conn("postgres")
    c.autocommit = True
    c.cursor().execute(sql)
    c.close()


def prepare_pg():
    pg_admin("DROP DATABASE IF EXISTS bench_run")
    pg_admin("DROP DATABASE IF EXISTS bench_tmpl")
    pg_admin("CREATE DATABASE bench_tmpl")
    c = pg_conn("bench_tmpl")
    c.autocommit = True
    cur = c.cursor()
    cur.execute(open(os.path.join(SRCDIR, "tests/sql/django-postgres.sql")).read())
    t = time.perf_counter()
    cur.execute(GEN_PG)
    if VACUUM:
        cur.execute("VACUUM (ANALYZE) core_auditlog")
    cur.execute("SELECT count(*) FILTER (WHERE timestamp < to_timestamp(%s)) FROM core_auditlog",
                (CUTOFF,))
    expired = cur.fetchone()[0]
    c.close()
    log(f"postgresql template: {ROWS} rows, {expired} expired ({time.perf_counter() - t:.1f} s)")
    return expired


def fresh_pg():
    pg_admin("DROP DATABASE IF EXISTS bench_run")
    pg_admin("CREATE DATABASE bench_run TEMPLATE bench_tmpl")
    c = pg_conn("bench_run")  # warm the table as every method would find it
    c.cursor().execute("SELECT count(*) FROM core_auditlog")
    c.close()
    pg_admin("CHECKPOINT")
    os.sync()
    return pg_url("bench_run")


def prepare_sqlite():
    import sqlite3
    path = os.path.join(WORK, "tmpl.sqlite3")
    if os.path.exists(path):
        os.unlink(path)
    c = sqlite3.connect(path)
    c.executescript(open(os.path.join(SRCDIR, "tests/sql/django-sqlite.sql")).read())
    t = time.perf_counter()
    c.executescript("BEGIN;" + GEN_SQLITE + "COMMIT;")
    expired = c.execute("SELECT count(*) FROM core_auditlog WHERE timestamp < "
                        "strftime('%Y-%m-%d %H:%M:%S', ?, 'unixepoch')", (CUTOFF,)).fetchone()[0]
    c.close()
    log(f"sqlite template: {ROWS} rows, {expired} expired ({time.perf_counter() - t:.1f} s)")
    return expired


def fresh_sqlite():
    run = os.path.join(WORK, "run.sqlite3")
    for stale in (run, run + "-journal"):
        if os.path.exists(stale):
            os.unlink(stale)
    shutil.copyfile(os.path.join(WORK, "tmpl.sqlite3"), run)
    os.sync()
    with open(run, "rb") as f:  # into the page cache, as for PostgreSQL
        while f.read(1 << 20):
            pass
    return "sqlite:///" + run


def m_janitor(url, engine, binary=JANITOR):
    cfg = os.path.join(WORK, "bench.ini")
    with open(cfg, "w") as f:
        f.write(f"[maintenance]\nnow = {ANCHOR}\naudit_days = 90\nlogs_batch = {BATCH}\n"
                "log_execution = false\n")
    out = subprocess.run([binary, "run", "--operation", "logs", "--output", "json",
                          "--database", url, "--config", cfg],
                         check=True, capture_output=True, text=True).stdout
    part = json.loads(out)["logs"]["details"]["Audit Logs"]
    return part["deleted"], part["seconds"], part["max_batch_seconds"]


def m_single(url, engine):
    if engine == "postgresql":
        c = pg_conn("bench_run")
        cur = c.cursor()
        t = time.perf_counter()
        cur.execute('DELETE FROM core_auditlog WHERE "timestamp" < to_timestamp(%s)', (CUTOFF,))
        n = cur.rowcount
        c.commit()
    else:
        import sqlite3
        c = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        t = time.perf_counter()
        c.execute("BEGIN")
        n = c.execute('DELETE FROM core_auditlog WHERE "timestamp" < '
                      "strftime('%Y-%m-%d %H:%M:%S', ?, 'unixepoch')", (CUTOFF,)).rowcount
        c.execute("COMMIT")
    s = time.perf_counter() - t
    c.close()
    return n, s, s


def m_django(url, engine):
    env = dict(os.environ, BENCH_ENGINE=engine, BENCH_DB=url[len("sqlite:///"):]
               if engine == "sqlite" else "bench_run")
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "delete_django.py"),
                          str(CUTOFF), str(BATCH)], env=env, check=True,
                         capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["deleted"], r["seconds"], r["max_batch_seconds"]


def have_django():
    return subprocess.run(["/usr/bin/python3", "-c", "import django"],
                          capture_output=True).returncode == 0


def m_before(url, engine):
    return m_janitor(url, engine, os.environ["JANITOR_BEFORE"])


def main():
    methods = [("janitor", m_janitor), ("single", m_single)]
    if os.environ.get("JANITOR_BEFORE"):
        methods.insert(1, ("before", m_before))
    if have_django():
        methods.append(("django", m_django))
    else:
        log("python3-django not installed: the Django ORM baseline is left out")
    only = os.environ.get("BENCH_METHODS", "").split()
    if only:
        methods = [(n, f) for n, f in methods if n in only or n == "single"]
    results = {}
    for engine, prepare, fresh in (("postgresql", prepare_pg, fresh_pg),
                                   ("sqlite", prepare_sqlite, fresh_sqlite)):
        expired = prepare()
        for name, _ in methods:
            results[(engine, name)] = (expired, [])
        for _ in range(RUNS):
            for name, fn in methods:
                url = fresh()
                n, secs, longest = fn(url, engine)
                if n != expired:
                    sys.exit(f"{engine}/{name}: deleted {n}, expected {expired}")
                results[(engine, name)][1].append((secs, longest))
        for name, _ in methods:
            log(f"{engine} {name}: " + ", ".join(f"{s:.3f}" for s, _ in results[(engine, name)][1]))
    print(f"\ndelete throughput: {ROWS} core_auditlog rows, {RUNS} runs each (median), "
          f"batch {BATCH}, PostgreSQL template {'vacuumed' if VACUUM else 'not vacuumed'}")
    print(f"{'engine':<11} {'method':<8} {'rows':>8} {'median s':>9} {'rows/s':>11} "
          f"{'longest txn s':>14} {'vs single':>9}")
    for engine in ("postgresql", "sqlite"):
        single = statistics.median(s for s, _ in results[(engine, "single")][1])
        for name, _ in methods:
            expired, runs = results[(engine, name)]
            med = statistics.median(s for s, _ in runs)
            longest = max(l for _, l in runs)
            print(f"{engine:<11} {name:<8} {expired:>8} {med:>9.3f} {expired / med:>11,.0f} "
                  f"{longest:>14.3f} {single / med:>9.2f}")
        if "django" in dict(methods) and "janitor" in dict(methods):
            j = statistics.median(s for s, _ in results[(engine, "janitor")][1])
            d = statistics.median(s for s, _ in results[(engine, "django")][1])
            print(f"{engine:<11} janitor vs django: {d / j:.2f}x faster")
    if engine and "postgresql" in (e for e, _ in results):
        pg_admin("DROP DATABASE IF EXISTS bench_run")
        pg_admin("DROP DATABASE IF EXISTS bench_tmpl")


if __name__ == "__main__":
    main()
