#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Cross-check janitor's protocol decoder against the real Python Celery/kombu.

Modes:
  expect FILE...              print the expected canonical view of each fixture (JSON lines)
  write-expect FILE...        write FILE.expect beside each fixture
  check DUMP WORKDIR FIXTURE...
        1. every fixture's .expect still equals what kombu/Celery compute now (no drift);
        2. a matrix of fresh messages made by Celery (protocol 1/2, json/msgpack, eta,
           expires, priority, time limits, chains, links, unicode, big payloads) decodes
           through DUMP exactly as Python reads it;
        3. what DUMP --reencode produces is accepted by Celery's own worker Request and
           executes with the same arguments.
Exit 0 on success, 1 on any mismatch.

The expected view is computed from kombu.serialization.loads and celery.utils.iso8601 only;
it mirrors what celery/worker/request.py reads, field by field.
"""
import base64
import datetime as dt
import decimal
import json
import os
import subprocess
import sys
import uuid

from celery.utils.iso8601 import parse_iso8601
from kombu.exceptions import EncodeError
from kombu.serialization import loads
from kombu.transport import memory

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
KNOWN_HEADERS = {"lang", "task", "id", "shadow", "eta", "expires", "group", "group_index",
                 "retries", "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr",
                 "origin", "ignore_result", "redelivered"}
ACCEPT = {"application/json", "application/x-msgpack"}


def usec(value):
    if value is None:
        return None
    d = parse_iso8601(value)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)  # Celery's maybe_make_aware: naive means UTC
    return (d - EPOCH) // dt.timedelta(microseconds=1)


def load_fixture(path):
    """(headers, properties, body bytes, content_type, content_encoding) of a fixture."""
    with open(path, "rb") as f:
        fx = json.loads(f.read())
    if "body_base64" in fx:
        props = dict(fx["properties"])
        headers = props.pop("headers", {}) or {}
        ctype = props.pop("content_type", None)
        cenc = props.pop("content_encoding", None)
        props["delivery_info"] = {"exchange": fx["method"]["exchange"],
                                  "routing_key": fx["method"]["routing_key"]}
        return headers, props, base64.b64decode(fx["body_base64"]), ctype, cenc
    body = base64.b64decode(fx["body"])
    return (fx.get("headers") or {}, fx["properties"], body, fx.get("content-type"),
            fx.get("content-encoding"))


def expected(headers, props, raw, ctype, cenc):
    body = loads(raw, ctype, cenc, accept=ACCEPT)
    if isinstance(body, dict) and "task" in body:
        src, version = body, 1
        args, kwargs = body.get("args") or [], body.get("kwargs") or {}
        group = body.get("group") or body.get("taskset")
        embed = body
        extra = {}
    else:
        src, version = headers, 2
        args, kwargs, embed = body
        embed = embed or {}
        group = headers.get("group")
        extra = {k: v for k, v in headers.items() if k not in KNOWN_HEADERS}
    tl = src.get("timelimit") or [None, None]
    di = props.get("delivery_info") or {}
    return {
        "version": version, "id": src["id"], "task": src["task"], "lang": src.get("lang"),
        "shadow": src.get("shadow"), "args": list(args), "kwargs": dict(kwargs),
        "eta": usec(src.get("eta")), "expires": usec(src.get("expires")),
        "utc": bool(body.get("utc", True)) if version == 1 else True,
        "retries": src.get("retries") or 0,
        "time_limit": tl[0], "soft_time_limit": tl[1],
        "root_id": src.get("root_id"), "parent_id": src.get("parent_id"), "group": group,
        "group_index": src.get("group_index"), "origin": src.get("origin"),
        "argsrepr": src.get("argsrepr"), "kwargsrepr": src.get("kwargsrepr"),
        "ignore_result": bool(src.get("ignore_result", False)), "extra_headers": extra,
        "correlation_id": props.get("correlation_id"), "reply_to": props.get("reply_to"),
        "priority": props.get("priority"), "exchange": di.get("exchange"),
        "routing_key": di.get("routing_key"), "callbacks": embed.get("callbacks"),
        "errbacks": embed.get("errbacks"), "chain": embed.get("chain"),
        "chord": embed.get("chord"),
    }


def expected_for(path):
    return expected(*load_fixture(path))


def run_dump(dump, files, *opts):
    out = subprocess.run([dump, *opts, *files], check=True, capture_output=True).stdout
    return [json.loads(line) for line in out.decode().splitlines()]


def make_app(protocol):
    from celery import Celery
    app = Celery("gen", broker="memory://", backend=None, set_as_current=False)
    app.conf.task_protocol = protocol
    app.conf.accept_content = ["json", "msgpack"]
    app.conf.timezone = "UTC"
    executed = []

    @app.task(name="maintenance.vacuum", shared=False)
    def vacuum(*args, **kwargs):
        executed.append((list(args), kwargs))
        return "done"

    @app.task(name="maintenance.stats", shared=False)
    def stats(*args, **kwargs):
        return None

    return app, vacuum, stats, executed


BIG = ["x" * 1000 + str(i) for i in range(300)]
WHEN = dt.datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
CASES = {
    "plain": lambda v, s: v.apply_async(args=["public.orders"], kwargs={"full": True}),
    "eta": lambda v, s: v.apply_async(args=[1], eta=WHEN),
    "eta-offset": lambda v, s: v.apply_async(
        eta=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))),
    "countdown": lambda v, s: v.apply_async(countdown=30),
    "expires-seconds": lambda v, s: v.apply_async(expires=60),
    "expires-datetime": lambda v, s: v.apply_async(expires=WHEN),
    "priority-0": lambda v, s: v.apply_async(priority=0),
    "priority-7": lambda v, s: v.apply_async(priority=7),
    "priority-9": lambda v, s: v.apply_async(priority=9),
    "time-limits": lambda v, s: v.apply_async(time_limit=60, soft_time_limit=50.5),
    "soft-only": lambda v, s: v.apply_async(soft_time_limit=5),
    "chain": lambda v, s: (v.s("a") | s.s() | s.s(x=1)).apply_async(),
    "link": lambda v, s: v.apply_async(args=["b"], link=s.s(), link_error=s.si("err")),
    "unicode": lambda v, s: v.apply_async(
        args=["na\u00efve \u2713 \"q\" \\ back\nslash \U0001F600"], kwargs={"\u00e9": "\u4e2d"}),
    "big": lambda v, s: v.apply_async(args=BIG, kwargs={"blob": "y" * 100000}),
    "numbers": lambda v, s: v.apply_async(args=[0, -1, 2 ** 40, 1.5, -2.25e-7, True, None, []]),
    "headers": lambda v, s: v.apply_async(headers={"x-custom": "v", "n": 3}),
    "shadow": lambda v, s: v.apply_async(shadow="nice-name", retries=2),
    "queue": lambda v, s: v.apply_async(queue="maintenance"),
    # kombu's JSON encoder flattens these to strings (msgpack cannot carry them: skipped).
    "types": lambda v, s: v.apply_async(args=[
        WHEN, WHEN.replace(tzinfo=None), dt.date(2024, 1, 2),
        uuid.UUID("12345678-1234-5678-1234-567812345678"), decimal.Decimal("1.10")]),
}


def generate(workdir):
    """Yield (path, envelope dict) for the whole option matrix."""
    for protocol in (1, 2):
        for ser in ("json", "msgpack"):
            app, vacuum, stats, _ = make_app(protocol)
            app.conf.task_serializer = ser
            with app.connection_for_write():
                for case, call in CASES.items():
                    try:
                        call(vacuum, stats)
                    except EncodeError:
                        if ser == "msgpack":
                            continue
                        raise
                    # The memory transport keeps kombu's envelope dict per queue.
                    for qname, q in list(memory.Channel.queues.items()):
                        while not q.empty():
                            env = q.get()
                            name = f"gen-v{protocol}-{ser}-{case}-{qname}.json"
                            path = os.path.join(workdir, name)
                            with open(path, "w") as f:
                                json.dump(env, f)
                            yield path


def check(dump, workdir, fixtures):
    failures = 0
    # 1. No drift: the stored expectations still equal what Python computes.
    for path in fixtures:
        with open(path + ".expect") as f:
            stored = json.load(f)
        if stored != expected_for(path):
            print(f"DRIFT {path}: stored .expect differs from Celery's reading")
            failures += 1
    # 2. Fresh messages from the option matrix.
    files = list(generate(workdir))
    got = run_dump(dump, files)
    for path, line in zip(files, got):
        want = expected_for(path)
        if line.get("task") != want:
            failures += 1
            print(f"MISMATCH {os.path.basename(path)}: {line.get('error')}")
            for k in want:
                if line.get("task", {}).get(k) != want[k]:
                    print(f"  {k}: ours={line.get('task', {}).get(k)!r} celery={want[k]!r}")
    print(f"checked {len(fixtures)} fixtures and {len(files)} generated messages")
    # 3. What we encode, a Celery worker's Request accepts and runs.
    failures += check_reencode(dump, files, workdir)
    return failures


def check_reencode(dump, files, workdir):
    from celery.worker.request import Request
    from kombu.transport.virtual import Message
    failures = 0
    out = subprocess.run([dump, "--reencode", *files], check=True,
                         capture_output=True).stdout.decode().splitlines()
    app, vacuum, stats, executed = make_app(2)
    with app.connection_for_write() as conn:
        ch = conn.default_channel
        for path, line in zip(files, out):
            want = expected_for(path)
            env = json.loads(line)
            msg = Message(payload=env, channel=ch)
            task = app.tasks[env["headers"]["task"]]
            req = Request(msg, app=app, task=task)
            problems = []
            if req.id != want["id"] or req.type != want["task"] or req.name != (want["shadow"] or want["task"]):
                problems.append("id/name")
            if list(req.args) != want["args"] or dict(req.kwargs) != want["kwargs"]:
                problems.append("args/kwargs")
            if (req.eta is None) != (want["eta"] is None) or (
                    req.eta is not None and usec(req.eta.isoformat()) != want["eta"]):
                problems.append(f"eta {req.eta}")
            if (req.expires is None) != (want["expires"] is None):
                problems.append("expires")
            if list(req.time_limits) != [want["time_limit"], want["soft_time_limit"]]:
                problems.append(f"time_limits {req.time_limits}")
            if req.root_id != want["root_id"] or req.parent_id != want["parent_id"]:
                problems.append("root/parent")
            if env["properties"]["delivery_info"]["routing_key"] != want["routing_key"]:
                problems.append("routing_key")
            if task.name == "maintenance.vacuum":
                del executed[:]
                req.execute()
                if executed != [(want["args"], want["kwargs"])]:
                    problems.append(f"executed {executed!r}")
            if problems:
                failures += 1
                print(f"REENCODE {os.path.basename(path)}: {', '.join(problems)}")
    print(f"re-encoded {len(out)} messages through Celery's Request")
    return failures


def main(argv):
    if len(argv) >= 2 and argv[1] == "expect":
        for path in argv[2:]:
            print(json.dumps(expected_for(path), sort_keys=True))
        return 0
    if len(argv) >= 2 and argv[1] == "write-expect":
        for path in argv[2:]:
            with open(path + ".expect", "w") as f:
                json.dump(expected_for(path), f, indent=1, sort_keys=True, ensure_ascii=False)
                f.write("\n")
        return 0
    if len(argv) >= 4 and argv[1] == "check":
        return 1 if check(argv[2], argv[3], argv[4:]) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
