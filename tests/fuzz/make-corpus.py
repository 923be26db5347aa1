#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the fuzz seed corpora from the real Celery fixtures (run from the source root).

corpus/envelope: every Redis list element / PUBLISH payload fixture, verbatim.
corpus/task:     selector byte + headers JSON + NUL + raw body (see fuzz_task.c).
corpus/msgpack:  the raw msgpack bodies.
"""
import base64
import glob
import json
import os

FX = "tests/fixtures/protocol"
OUT = "tests/fuzz/corpus"
SELECT = {"application/json": 0, "application/x-msgpack": 1 | 4 | 8}


def write(kind, name, data):
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    with open(os.path.join(OUT, kind, name), "wb") as f:
        f.write(data)


for path in sorted(glob.glob(FX + "/**/*.json", recursive=True)):
    name = os.path.relpath(path, FX).replace("/", "-")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        env = json.loads(raw)
    except ValueError:
        continue
    if not isinstance(env, dict) or "body" not in env or "properties" not in env:
        continue
    if "body_base64" in env:  # an AMQP capture: no envelope, native properties
        props = env["properties"]
        body = base64.b64decode(env["body_base64"])
        ctype, headers = props.get("content_type"), props.get("headers")
    else:
        write("envelope", name, raw)
        body = base64.b64decode(env["body"])
        ctype, headers = env.get("content-type"), env.get("headers")
    if ctype in SELECT:
        headers = json.dumps(headers or {}).encode()
        write("task", name, bytes([SELECT[ctype]]) + headers + b"\0" + body)
    if ctype == "application/x-msgpack":
        write("msgpack", name + ".mp", body)
