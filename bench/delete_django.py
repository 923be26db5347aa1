#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""delete_django.py - the Django ORM retention loop (how the Python command deletes), run by
delete_throughput.py in its own process. argv: CUTOFF (epoch seconds) BATCH.
env: BENCH_ENGINE=postgresql|sqlite, BENCH_DB (database name or SQLite path), PG* for the
server. Prints {"deleted", "seconds", "max_batch_seconds"}; setup and connecting excluded.
"""
import datetime as dt
import json
import os
import sys
import time

import django
from django.conf import settings

if os.environ["BENCH_ENGINE"] == "postgresql":
    DB = {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["BENCH_DB"],
          "HOST": os.environ["PGHOST"], "PORT": os.environ["PGPORT"],
          "USER": os.environ["PGUSER"]}
else:
    DB = {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DB"]}
settings.configure(DATABASES={"default": DB}, INSTALLED_APPS=[], USE_TZ=True, TIME_ZONE="UTC")
django.setup()

from django.db import connection, models, transaction  # noqa: E402


class AuditLog(models.Model):
    timestamp = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "core"
        db_table = "core_auditlog"
        managed = False


cutoff = dt.datetime.fromtimestamp(int(sys.argv[1]), tz=dt.timezone.utc)
batch = int(sys.argv[2])
connection.ensure_connection()
total, longest = 0, 0.0
t0 = time.perf_counter()
while True:
    tb = time.perf_counter()
    with transaction.atomic():
        pks = list(AuditLog.objects.filter(timestamp__lt=cutoff)
                   .values_list("pk", flat=True)[:batch])
        if not pks:
            break
        deleted, _ = AuditLog.objects.filter(pk__in=pks).delete()
    longest = max(longest, time.perf_counter() - tb)
    total += deleted
print(json.dumps({"deleted": total, "seconds": time.perf_counter() - t0,
                  "max_batch_seconds": longest}))
