# SPDX-License-Identifier: MIT
"""jtapp - the tiny Python Celery 5.2 application the interop tests drive janitor with.

Configured only from the environment, so the client, `celery call`, `celery beat` and a
Python `celery worker` in one test all see the same settings:

  JT_BROKER       broker URL (required)
  JT_BACKEND      result backend URL
  JT_PROTOCOL     task_protocol (2)
  JT_SERIALIZER   task_serializer (json)
  JT_VISIBILITY   Redis visibility_timeout in seconds (3600)
  JT_SQLITE       SQLite file the Python-side maintenance.stats writes its execution row to
  JT_BEAT_DB      database alias for the one-second beat schedule (beat only)
  JT_BEAT_QUEUE   queue the beat entries are sent to (celery)

The tasks below exist only in a Python worker started with `-A jtapp`; clients use
send_task by name, exactly as a Django project without the Python code does.
"""
import datetime
import os
import socket
import sqlite3

from celery import Celery

app = Celery("jtapp", broker=os.environ["JT_BROKER"], backend=os.environ.get("JT_BACKEND"))
app.conf.update(
    task_protocol=int(os.environ.get("JT_PROTOCOL", "2")),
    task_serializer=os.environ.get("JT_SERIALIZER", "json"),
    result_serializer="json",
    accept_content=["json", "msgpack"],
    timezone="UTC",
    enable_utc=True,
    broker_transport_options={"visibility_timeout": int(os.environ.get("JT_VISIBILITY", "3600"))},
    worker_prefetch_multiplier=int(os.environ.get("JT_PREFETCH", "4")),
    broker_connection_retry_on_startup=True,
)

if os.environ.get("JT_BEAT_DB"):
    app.conf.beat_schedule = {
        "stats-every-second": {
            "task": "maintenance.stats",
            "schedule": 1.0,
            "kwargs": {"database": os.environ["JT_BEAT_DB"]},
            "options": {"queue": os.environ.get("JT_BEAT_QUEUE", "celery")},
        },
    }


@app.task(name="jt.echo", bind=True)
def echo(self, *args, **kwargs):
    """What the worker decoded: arguments and the request fields janitor call sets."""
    r = self.request
    return {
        "args": list(args),
        "kwargs": kwargs,
        "id": r.id,
        "root_id": r.root_id,
        "parent_id": r.parent_id,
        "eta": r.eta,
        "expires": r.expires,
        "retries": r.retries,
        "delivery_info": dict(r.delivery_info or {}),
        "reply_to": r.reply_to,
        "correlation_id": r.correlation_id,
        "origin": r.origin,
        "argsrepr": r.argsrepr,
        "kwargsrepr": r.kwargsrepr,
    }


@app.task(name="jt.fail")
def fail(reason):
    raise ValueError(reason)


@app.task(name="maintenance.stats", bind=True)
def python_stats(self, database="default", dry_run=False):
    """The Python twin of janitor's maintenance.stats: writes one execution-log row."""
    now = datetime.datetime.utcnow().isoformat(sep=" ")
    con = sqlite3.connect(os.environ["JT_SQLITE"], timeout=30)
    try:
        con.execute(
            'INSERT INTO core_taskexecutionlog (task_id, task_name, status, created_at, '
            'started_at, finished_at, duration_seconds, dry_run, rows_affected, result, '
            'error_message, worker_hostname) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?, ?)',
            (self.request.id, "database_maintenance", "completed", now, now, now,
             int(bool(dry_run)), '{"by": "python"}', "", "python@" + socket.gethostname()),
        )
        con.commit()
    finally:
        con.close()
    return {"status": "completed", "operation": "stats", "by": "python"}
