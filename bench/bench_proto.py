#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Python side of bench-proto.sh: kombu's own codec on the same bytes, one core.

task:     kombu.serialization.loads(body, 'application/json', 'utf-8') + dumps(..., 'json')
          (the body decode/encode Celery's worker and producer do; no request object built)
envelope: kombu.utils.json.loads(element) + base64 body decode (kombu's virtual Message with
          body_encoding base64) + the reverse: base64 encode + kombu.utils.json.dumps
Prints "<case> <msgs/s>" lines like bench_proto.
"""
import sys
import time

from kombu.serialization import dumps, loads
from kombu.transport.virtual.base import Base64
from kombu.utils.json import dumps as jdumps
from kombu.utils.json import loads as jloads


def rate(fn, secs):
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(1000):
            fn()
        n += 1000
        dt = time.perf_counter() - t0
        if dt >= secs:
            return n / dt


def main():
    path, secs = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    with open(path, "rb") as f:
        element = f.read()
    codec = Base64()
    env = jloads(element)
    body = codec.decode(env["body"])

    def task():
        obj = loads(body, "application/json", "utf-8")
        dumps(obj, serializer="json")

    def envelope():
        e = jloads(element)
        raw = codec.decode(e["body"])
        e["body"] = codec.encode(raw)
        jdumps(e)

    print(f"task {rate(task, secs):.0f}")
    print(f"envelope {rate(envelope, secs):.0f}")


if __name__ == "__main__":
    main()
