# SPDX-License-Identifier: MIT
"""jt.py - the Python side of the interop tests: a real Celery 5.2 client driving janitor.

  jt.py SCENARIO [ARGS...]

Each scenario asserts on results (the meta stored in the result backend), on rows (the
execution log janitor writes) and on Redis keys, prints what it checked, and exits 0, or 1 with
the reason. Databases are named by alias as janitor's worker knows them; the test script gives
their locations in JT_DB_<alias> (a postgresql:// URL or an SQLite file path).
"""
import datetime
import json
import os
import subprocess
import sys
import time

import redis
from celery import chain
from celery.result import AsyncResult

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jtapp import app  # noqa: E402

TIMEOUT = float(os.environ.get("JT_TIMEOUT", "60"))
OPERATIONS = ["vacuum", "reindex", "cleanup", "logs", "sessions", "views", "stats", "bloat",
              "backup"]


class Failed(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Failed(what + ("" if not detail else ": " + " ".join(repr(d) for d in detail)))
    print("#   ok: " + what)


def broker():
    return redis.Redis.from_url(os.environ["JT_BROKER"])


def backend():
    return redis.Redis.from_url(os.environ["JT_BACKEND"])


def meta(task_id):
    raw = backend().get("celery-task-meta-" + task_id)
    return None if raw is None else json.loads(raw)


def send(name, args=None, kwargs=None, **options):
    return app.send_task(name, args=args, kwargs=kwargs, **options)


def wait(res, timeout=TIMEOUT):
    """Wait for READY without raising the task's exception; Failed on timeout."""
    try:
        res.get(timeout=timeout, propagate=False, disable_sync_subtasks=False)
    except Exception as e:  # celery.exceptions.TimeoutError
        raise Failed("no result for %s within %ss (state %s): %r" % (res.id, timeout, res.state, e))
    return res


def success(res, timeout=TIMEOUT):
    wait(res, timeout)
    if res.state != "SUCCESS":
        raise Failed("%s: state %s, result %r" % (res.id, res.state, res.result))
    return res.result


def naive_utc(s):
    """A Celery date string (naive UTC or with offset) as naive UTC."""
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if d.tzinfo is not None:
        d = d.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return d


# ---- databases -------------------------------------------------------------------------------

def db_url(alias):
    url = os.environ.get("JT_DB_" + alias)
    if not url:
        raise Failed("JT_DB_%s is not set" % alias)
    return url


def db_connect(alias):
    url = db_url(alias)
    if url.startswith("postgresql://"):
        import psycopg2
        return psycopg2.connect(url), "%s"
    import sqlite3
    return sqlite3.connect(url, timeout=30), "?"


def sql(alias, query, params=()):
    con, mark = db_connect(alias)
    try:
        cur = con.cursor()
        cur.execute(query.replace("?", mark), params)
        rows = cur.fetchall() if cur.description else []
        con.commit()
        return rows
    finally:
        con.close()


def log_rows(alias, task_id):
    return sql(alias, "SELECT status, task_name, worker_hostname FROM core_taskexecutionlog "
               "WHERE task_id = ?", (task_id,))


def scenario_seed(alias):
    """Rows the retention operations must remove (and rows they must keep)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    old, recent = now - datetime.timedelta(days=200), now - datetime.timedelta(days=1)
    ts = (lambda d: d.isoformat(sep=" ")) if db_url(alias).startswith("postgresql") else \
        (lambda d: d.replace(tzinfo=None).isoformat(sep=" "))
    con, mark = db_connect(alias)
    cur = con.cursor()
    q = lambda s, p: cur.execute(s.replace("?", mark), p)  # noqa: E731
    for i, when in enumerate([old] * 5 + [recent] * 3):
        q('INSERT INTO core_auditlog ("timestamp", actor, action, object_type, object_id, '
          'changes) VALUES (?, ?, ?, ?, ?, ?)', (ts(when), "jt", "update", "obj", str(i), "{}"))
    for i, when in enumerate([now - datetime.timedelta(days=100)] * 2):
        q("INSERT INTO core_taskexecutionlog (task_id, task_name, status, created_at, dry_run, "
          "error_message, worker_hostname) VALUES (?, ?, ?, ?, ?, ?, ?)",
          ("old-%d" % i, "database_maintenance", "completed", ts(when), False, "", "jt"))
    for i, when in enumerate([now - datetime.timedelta(days=3)] * 4 + [now + datetime.timedelta(days=3)]):
        q("INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)",
          ("s%d" % i, "x", ts(when)))
    for i, (days, archived) in enumerate([(400, False)] * 3 + [(800, True)] * 2 + [(10, False)]):
        q("INSERT INTO core_failedtask (task_id, task_name, args, kwargs, exception_type, "
          "exception_message, traceback, retry_count, created_at, is_archived) VALUES "
          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          ("f%d" % i, "t", "[]", "{}", "E", "m", "", 0, ts(now - datetime.timedelta(days=days)),
           archived))
    con.commit()
    con.close()
    print("# seeded %s" % alias)


# ---- scenarios ---------------------------------------------------------------------------

def scenario_ping(queue="celery", timeout="60"):
    """A celery.accumulate round trip through `queue`: the worker there is up."""
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        res = send("celery.accumulate", args=[1, 2], queue=queue)
        try:
            got = res.get(timeout=2)
        except Exception:
            continue
        check(got == [1, 2], "celery.accumulate(1, 2) on %s returns [1, 2]" % queue, got)
        return
    raise Failed("no worker answered on queue %s within %ss" % (queue, timeout))


def check_op_result(op, result, must_complete):
    check(isinstance(result, dict), "%s returns an object" % op, result)
    check(result.get("operation") == op, "%s: operation is %r" % (op, op), result)
    check(result.get("status") in ("completed", "skipped"), "%s: completed or skipped" % op,
          result)
    if result["status"] == "skipped":
        check(bool(result.get("reason")), "%s: a skip says why" % op, result)
    if must_complete:
        check(result["status"] == "completed", "%s: completed" % op, result)


def scenario_ops(alias, kind):
    """Every maintenance.<op> through send_task/get, then run and report; rows checked."""
    must = {"pg": {"vacuum", "reindex", "cleanup", "logs", "sessions", "views", "stats", "bloat"},
            "sqlite": {"cleanup", "logs", "sessions", "stats"}}[kind]
    dry = success(send("maintenance.logs", kwargs={"database": alias, "dry_run": True}))
    check(dry.get("dry_run") is True, "logs dry run says dry_run: true", dry)
    check(dry.get("rows_deleted") == 7, "logs dry run counts 5 audit + 2 task log rows", dry)
    check(sql(alias, "SELECT count(*) FROM core_auditlog")[0][0] == 8, "dry run deleted nothing")
    for op in OPERATIONS:
        kwargs = {"database": alias}
        if op == "backup":
            kwargs["dry_run"] = True  # no dump into the configured backup directory
        res = send("maintenance." + op, kwargs=kwargs)
        result = success(res)
        print("# %s -> %s" % (op, json.dumps(result)[:300]))
        check_op_result(op, result, op in must)
        rows = log_rows(alias, res.id)
        check(len(rows) == 1, "%s: one execution-log row with the task id" % op, rows)
        check(rows[0][1] == "database_maintenance", "%s: row task_name" % op, rows)
        if op == "logs":
            check(result.get("rows_deleted") == 7, "logs deleted 7 rows", result)
            check(sql(alias, "SELECT count(*) FROM core_auditlog")[0][0] == 3,
                  "the 3 recent audit rows are kept")
        if op == "sessions":
            check(sql(alias, "SELECT count(*) FROM django_session")[0][0] == 1,
                  "only the live session is left")
        if op == "cleanup":
            check(sql(alias, "SELECT count(*) FROM core_failedtask")[0][0] == 4,
                  "failed tasks older than 730 days are deleted")
            check(sql(alias, "SELECT count(*) FROM core_failedtask WHERE is_archived = ?",
                      (True,))[0][0] == 3, "failed tasks older than 365 days are archived")
    again = success(send("maintenance.logs", kwargs={"database": alias}))
    check(again.get("rows_deleted") == 0, "a second logs run deletes nothing", again)
    res = send("maintenance.run", kwargs={"operations": ["stats", "sessions"], "database": alias})
    run = success(res)
    check(set(run) >= {"stats", "sessions", "metadata"}, "run returns one key per op + metadata",
          sorted(run))
    check(run["metadata"].get("dry_run") is False, "run metadata.dry_run", run["metadata"])
    check(len(log_rows(alias, res.id)) == 1, "run writes one execution-log row")
    res = send("maintenance.run", args=[["stats"]], kwargs={"database": alias, "dry_run": True})
    run = success(res)
    check("stats" in run and run["metadata"].get("dry_run") is True,
          "run with the list as args[0], dry run", run)
    report = success(send("maintenance.report", kwargs={"database": alias}))
    check(isinstance(report, dict) and len(report) > 0, "report is a non-empty object",
          sorted(report) if isinstance(report, dict) else report)


def scenario_cli_call(alias):
    """`celery -A jtapp call` (the real CLI) runs on janitor."""
    out = subprocess.run([sys.executable, "-m", "celery", "-A", "jtapp", "call",
                          "maintenance.stats", "--kwargs", json.dumps({"database": alias})],
                         cwd=os.path.dirname(os.path.abspath(__file__)), check=True,
                         capture_output=True, text=True).stdout.strip()
    result = success(AsyncResult(out, app=app))
    check_op_result("stats", result, True)
    check(len(log_rows(alias, out)) == 1, "celery call's task logged its execution")


def scenario_protocol1(alias):
    app.conf.task_protocol = 1
    res = send("maintenance.stats", kwargs={"database": alias})
    check_op_result("stats", success(res), True)
    got = success(send("celery.accumulate", args=[1, "two", {"three": [3]}]))
    check(got == [1, "two", {"three": [3]}], "protocol 1 arguments arrive intact", got)


def scenario_msgpack(alias):
    app.conf.task_serializer = "msgpack"
    res = send("maintenance.stats", kwargs={"database": alias, "dry_run": True})
    result = success(res)
    check_op_result("stats", result, True)
    got = success(send("celery.accumulate", args=[1, "zwei", {"drei": [3.5, None, True]}]))
    check(got == [1, "zwei", {"drei": [3.5, None, True]}], "msgpack arguments arrive intact",
          got)


def scenario_countdown(alias):
    before = datetime.datetime.utcnow()
    res = send("maintenance.stats", kwargs={"database": alias}, countdown=3)
    eta = before + datetime.timedelta(seconds=3)  # the message's eta is at least this
    check(res.state == "PENDING", "just sent: PENDING")
    check_op_result("stats", success(res), True)
    done = naive_utc(meta(res.id)["date_done"])
    check(done >= eta, "not run before its countdown", str(done), str(eta))
    started = sql(alias, "SELECT started_at FROM core_taskexecutionlog WHERE task_id = ?",
                  (res.id,))
    check(len(started) == 1 and naive_utc(str(started[0][0]).replace(" ", "T")) >= eta,
          "the operation started after the eta", started, str(eta))


def scenario_expired(alias):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
    res = send("maintenance.stats", kwargs={"database": alias}, expires=past)
    wait(res)
    m = meta(res.id)
    check(m["status"] == "REVOKED", "expired message is REVOKED", m)
    check(m["result"].get("exc_type") == "TaskRevokedError", "TaskRevokedError", m)
    check(log_rows(alias, res.id) == [], "the expired task did not run")
    res = send("maintenance.stats", kwargs={"database": alias}, expires=120)
    check_op_result("stats", success(res), True)


def scenario_priority_send(queue, alias, path):
    """Three tasks into a queue nobody consumes yet, lowest priority number sent last."""
    ids = {}
    for p in (9, 5, 0):
        ids[p] = send("maintenance.stats", kwargs={"database": alias}, queue=queue,
                      priority=p).id
    r = broker()
    check(r.llen(queue + "\x06\x169") == 1 and r.llen(queue + "\x06\x163") == 1 and
          r.llen(queue) == 1, "kombu priority lists hold one message each")
    with open(path, "w") as f:
        json.dump(ids, f)


def scenario_priority_check(alias, path):
    with open(path) as f:
        ids = {int(k): v for k, v in json.load(f).items()}
    for task_id in ids.values():
        success(AsyncResult(task_id, app=app))
    order = [r[0] for r in sql(alias, "SELECT task_id FROM core_taskexecutionlog WHERE task_id "
                                      "IN (?, ?, ?) ORDER BY id", tuple(ids.values()))]
    check(order == [ids[0], ids[5], ids[9]], "run in Redis priority order 0, 5, 9", order, ids)


def scenario_chain(alias):
    c = chain(app.signature("maintenance.stats", kwargs={"database": alias}, immutable=True),
              app.signature("maintenance.sessions", kwargs={"database": alias}, immutable=True))
    res = c.apply_async()
    second = success(res)
    check_op_result("sessions", second, True)
    first_id = res.parent.id
    check(meta(first_id)["status"] == "SUCCESS", "first step SUCCESS")
    check(meta(res.id).get("parent_id") == first_id, "second step's parent_id is the first",
          meta(res.id))
    check(len(log_rows(alias, first_id)) == 1 and len(log_rows(alias, res.id)) == 1,
          "both steps logged")


def scenario_link_error(alias):
    errback = app.signature("celery.accumulate")
    errback.freeze()
    res = send("maintenance.stats", kwargs={"database": alias, "no_such_option": 1},
               link_error=errback)
    wait(res)
    m = meta(res.id)
    check(m["status"] == "FAILURE", "bad kwargs make a FAILURE", m)
    check(bool(m["result"].get("exc_type")) and "exc_message" in m["result"],
          "the FAILURE carries exc_type and exc_message", m["result"])
    got = success(AsyncResult(errback.id, app=app))
    check(got == [res.id], "the errback ran with the failed task's id", got)


def scenario_unknown():
    res = send("nosuch.task", args=[1])
    wait(res)
    m = meta(res.id)
    check(m["status"] == "FAILURE", "unknown task is FAILURE", m)
    check(m["result"].get("exc_type") == "NotRegistered", "exc_type NotRegistered", m["result"])
    check(m["result"].get("exc_message") in (["nosuch.task"], "nosuch.task"),
          "exc_message names the task", m["result"])
    got = success(send("celery.accumulate", args=[7]))
    check(got == [7], "the worker keeps going after an unknown task", got)


def scenario_shared(queue, alias, n):
    """A Python worker and janitor on one queue: every message runs exactly once."""
    n = int(n)
    results = [send("maintenance.stats", kwargs={"database": alias}, queue=queue)
               for _ in range(n)]
    for res in results:
        success(res, TIMEOUT * 2)
    ids = [r.id for r in results]
    rows = sql(alias, "SELECT task_id, worker_hostname FROM core_taskexecutionlog")
    per_id = {}
    for task_id, host in rows:
        per_id.setdefault(task_id, []).append(host)
    check(all(len(per_id.get(i, [])) == 1 for i in ids), "each of %d messages ran once" % n,
          {i: per_id.get(i) for i in ids if len(per_id.get(i, [])) != 1})
    python = sum(1 for i in ids if per_id[i][0].startswith("python@"))
    print("# python worker ran %d, janitor %d" % (python, n - python))
    check(0 < python < n, "both workers took messages from the queue", python)


def scenario_beat(alias, n, timeout="40"):
    """Rows written by the tasks beat sends; each one's result SUCCESS."""
    n, deadline = int(n), time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        rows = sql(alias, "SELECT task_id FROM core_taskexecutionlog")
        if len(rows) >= n:
            break
        time.sleep(0.2)
    check(len(rows) >= n, "at least %d beats logged an execution" % n, len(rows))
    ids = [r[0] for r in rows]
    check(len(set(ids)) == len(ids), "each beat is its own task")
    for task_id in ids:
        # The execution row is written when a run starts: wait for the task to finish.
        m = meta(task_id)
        while (m is None or m["status"] not in ("SUCCESS", "FAILURE")) and \
                time.monotonic() < deadline + TIMEOUT:
            time.sleep(0.1)
            m = meta(task_id)
        check(m is not None and m["status"] == "SUCCESS", "beat task %s SUCCESS" % task_id, m)


def scenario_vacuum_lock(queue, alias, n):
    """n vacuums at once to n workers: one holds the lock, overlapping ones skip (locked)."""
    n = int(n)
    results = [send("maintenance.vacuum", kwargs={"database": alias}, queue=queue)
               for _ in range(n)]
    out = [success(r, TIMEOUT * 2) for r in results]
    for o in out:
        print("# vacuum -> " + json.dumps(o)[:200])
    done = [o for o in out if o.get("status") == "completed"]
    skipped = [o for o in out if o.get("status") == "skipped"]
    check(len(done) >= 1, "at least one vacuum completed", out)
    check(len(done) + len(skipped) == n, "the others were skipped", out)
    check(all("lock" in str(o.get("reason", "")).lower() for o in skipped),
          "skips give the lock as reason", skipped)
    check(len(skipped) >= 1, "simultaneous vacuums were refused the lock", out)
    hosts = {h for r in results for (_, _, h) in log_rows(alias, r.id)}
    print("# executed on: %s" % sorted(hosts))
    check(len(hosts) >= 2, "the vacuums were spread over several workers", hosts)
    spans = sql(alias, "SELECT started_at, finished_at FROM core_taskexecutionlog "
                       "WHERE status = 'completed' AND task_id IN (%s) ORDER BY started_at"
                       % ",".join("?" * n), tuple(r.id for r in results))
    for (s1, f1), (s2, f2) in zip(spans, spans[1:]):
        check(f1 <= s2, "completed vacuums never overlapped", (s1, f1), (s2, f2))


def scenario_eta_held(alias, queue, countdown="6"):
    """An ETA further away than the visibility timeout, with a kombu restorer running all the
    while (as every Python worker, `celery inspect` and Flower do): it must run once."""
    res = send("maintenance.stats", kwargs={"database": alias}, queue=queue,
               countdown=float(countdown))
    deadline = time.monotonic() + float(countdown) + TIMEOUT
    with app.connection() as conn:
        qos = conn.default_channel.qos
        check(qos.visibility_timeout < float(countdown), "visibility timeout below the countdown",
              qos.visibility_timeout)
        while meta(res.id) is None and time.monotonic() < deadline:
            qos.restore_visible(interval=1)
            time.sleep(0.25)
    check_op_result("stats", success(res), True)
    r = broker()
    deadline = time.monotonic() + 10
    while (r.hlen("unacked") or r.llen(queue)) and time.monotonic() < deadline:
        time.sleep(0.1)
    check(r.hlen("unacked") == 0 and r.llen(queue) == 0, "no copy left queued or unacked",
          r.hlen("unacked"), r.llen(queue))
    check(len(log_rows(alias, res.id)) == 1, "the held task ran exactly once",
          log_rows(alias, res.id))


def scenario_batch(queue, n, tag):
    """n celery.accumulate tasks; all must succeed with their own arguments."""
    n = int(n)
    results = [send("celery.accumulate", args=[tag, i], queue=queue) for i in range(n)]
    got = [success(r, TIMEOUT * 2) for r in results]
    check(got == [[tag, i] for i in range(n)], "%d %s tasks completed" % (n, tag))


# ---- building blocks for multi-step scenarios driven by the shell ---------------------------

def scenario_send(name, kwargs="{}", queue="celery"):
    res = send(name, kwargs=json.loads(kwargs), queue=queue)
    print(res.id)


def scenario_expect(task_id, state, timeout=str(TIMEOUT)):
    res = wait(AsyncResult(task_id, app=app), float(timeout))
    check(res.state == state, "%s is %s" % (task_id, state), res.state, res.result)
    print("# result: %s" % json.dumps(meta(task_id)["result"])[:300])


def scenario_pending(task_id):
    check(meta(task_id) is None, "%s has no stored state yet" % task_id, meta(task_id))


def scenario_logged(alias, task_id, count="1"):
    rows = log_rows(alias, task_id)
    check(len(rows) == int(count), "%s logged %s execution(s)" % (task_id, count), rows)


def scenario_sql(alias, query):
    for row in sql(alias, query):
        print("|".join(str(c) for c in row))


def main(argv):
    if len(argv) < 2 or "scenario_" + argv[1] not in globals():
        print("usage: jt.py SCENARIO [ARGS...]", file=sys.stderr)
        return 2
    try:
        globals()["scenario_" + argv[1]](*argv[2:])
    except Failed as e:
        print("FAIL %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
