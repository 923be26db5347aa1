#!/bin/bash
# SPDX-License-Identifier: MIT
# celery_throughput.sh - celery.accumulate over Redis with a Redis result backend: N tasks
# (20,000) are enqueued, then drained by `janitor worker` and, in the same run against the same
# Redis, by a Python `celery worker` (prefork, same concurrency). Prints tasks/s, peak RSS of
# all worker processes, start-to-ready time, each as a ratio to Celery, and tasks/s as a
# fraction of the limit: the rate of the Redis commands one task needs, measured with
# redis-benchmark against the same server at the same concurrency.
#
#   JANITOR=path/to/janitor bench/celery_throughput.sh     (N=20000 C=2 by default)
#
# Measure an optimised build without sanitizers; the script says when the binary has ASan.
# start-to-ready: from spawning the worker until the result of a probe task, queued before
# the start, is stored. Both workers run with their defaults (Celery's include mingle, which
# waits about a second for neighbours). Throughput: the N tasks queued behind the probe, from the probe's
# result to the last result stored (results counted with DBSIZE on the result DB).
set -u
JANITOR_SRCDIR=${JANITOR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
N=${N:-20000}
C=${C:-2}

harness_need_celery
command -v redis-benchmark >/dev/null 2>&1 || skip "redis-benchmark not installed"
[ -x "$JANITOR" ] || fail "set JANITOR to the janitor binary"
harness_start_redis
export PYTHONPATH="$JANITOR_SRCDIR/tests/integration/celery_app" JT_SQLITE=/dev/null
export JT_BROKER="$REDIS_URL" JT_BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
if grep -q __asan_init "$JANITOR" 2>/dev/null; then
	echo "note: $JANITOR is built with AddressSanitizer; its figures are pessimistic"
fi

# The limit: one task costs, on the worker side, BRPOP, MULTI ZADD HSET EXEC (unacked),
# MULTI ZREM HDEL EXEC (ack), GET, MULTI SETEX PUBLISH EXEC (result): 14 commands. Each is
# measured pipelined (-P 32, the server's rate rather than one client's round trips) at the
# same concurrency; the limit is 1 / sum(1 / rate) with MULTI and EXEC costed as PING.
limit() {
	local p="-p $REDIS_PORT -c $C -n 400000 -r 100000 -P 32 -q"
	# shellcheck disable=SC2086
	{
		redis-benchmark $p LPUSH bl x >/dev/null
		redis-benchmark $p RPOP bl
		redis-benchmark $p ZADD bz __rand_int__ m__rand_int__
		redis-benchmark $p HSET bh f__rand_int__ "$(head -c 900 /dev/zero | tr '\0' x)"
		redis-benchmark $p ZREM bz m__rand_int__
		redis-benchmark $p HDEL bh f__rand_int__
		redis-benchmark $p GET k__rand_int__
		redis-benchmark $p SETEX k__rand_int__ 86400 "$(head -c 250 /dev/zero | tr '\0' y)"
		redis-benchmark $p PUBLISH c__rand_int__ "$(head -c 250 /dev/zero | tr '\0' y)"
		redis-benchmark $p -t ping_mbulk
	} 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | grep -v '^ *$'
}
LIMIT_OUT=$(limit)
redis-cli -p "$REDIS_PORT" flushall >/dev/null

"$PYTHON3" - "$N" "$C" "$JANITOR" "$HARNESS_DIR" "$LIMIT_OUT" <<'EOF'
import base64, json, os, re, subprocess, sys, time, uuid
import redis
sys.path.insert(0, os.environ["PYTHONPATH"])
from jtapp import app

n, c, janitor, workdir, limit_out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
broker = redis.Redis.from_url(os.environ["JT_BROKER"])
results = redis.Redis.from_url(os.environ["JT_BACKEND"])


def template():
    """One celery.accumulate envelope exactly as send_task writes it."""
    app.send_task("celery.accumulate", args=[1, 2], queue="bench-template")
    env = json.loads(broker.rpop("bench-template"))
    return env


def enqueue(env, count):
    """LPUSH count copies with fresh ids and delivery tags; returns the first (probe) id."""
    ids = []
    pipe = broker.pipeline(transaction=False)
    for i in range(count):
        tid = str(uuid.uuid4())
        ids.append(tid)
        env["headers"]["id"] = env["headers"]["root_id"] = tid
        env["properties"]["correlation_id"] = tid
        env["properties"]["delivery_tag"] = str(uuid.uuid4())
        pipe.lpush("bench", json.dumps(env))
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    return ids[0]


def tree_rss(pid):
    """Sum of VmRSS (kB) of pid and all its descendants."""
    kids, total = {}, 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def run(name, argv):
    broker.flushall()
    env = template()
    probe = enqueue(env, 1)
    enqueue(env, n)
    log = open(os.path.join(workdir, name + ".log"), "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    peak, ready, last_sample = 0, None, 0.0
    deadline = t0 + 600
    while True:
        now = time.monotonic()
        if now > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("%s: did not finish (exit %s); see %s" % (name, proc.poll(), log.name))
        if ready is None and results.exists("celery-task-meta-" + probe):
            ready = now
        if ready is not None and results.dbsize() >= n + 1:
            done = now
            break
        if now - last_sample > 0.1:
            peak, last_sample = max(peak, tree_rss(proc.pid)), now
        time.sleep(0.002 if ready is None else 0.02)
    peak = max(peak, tree_rss(proc.pid))
    os.killpg(proc.pid, 15)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
    sample = json.loads(results.get("celery-task-meta-" + probe))
    assert sample["status"] == "SUCCESS" and sample["result"] == [1, 2], sample
    return {"rate": n / (done - ready), "rss_mib": peak / 1024.0, "ready_s": ready - t0}


jan = run("janitor", [janitor, "worker", "-b", os.environ["JT_BROKER"], "--result-backend",
                      os.environ["JT_BACKEND"], "-c", str(c), "-Q", "bench", "-n", "bench@%h"])
cel = run("celery", [sys.executable, "-m", "celery", "-A", "jtapp", "worker", "--pool",
                     "prefork", "-c", str(c), "-Q", "bench", "-n", "bench@%h"])

rates = [float(m.group(2)) for m in re.finditer(r"^(.*?): ([0-9.]+) requests per second",
                                                 limit_out, re.M)]
cmds = rates[:-1] + [rates[-1]] * 6 if len(rates) == 9 else []
limit = 1.0 / sum(1.0 / r for r in cmds) if cmds else float("nan")

print("celery.accumulate, %d tasks, concurrency %d, Redis broker + Redis results" % (n, c))
print("%-22s %12s %12s %10s" % ("", "janitor", "celery", "ratio"))
print("%-22s %12.0f %12.0f %9.1fx" % ("tasks/s", jan["rate"], cel["rate"], jan["rate"] / cel["rate"]))
print("%-22s %12.1f %12.1f %10.3f" % ("peak RSS (MiB)", jan["rss_mib"], cel["rss_mib"],
                                      jan["rss_mib"] / cel["rss_mib"]))
print("%-22s %12.3f %12.3f %10.3f" % ("start-to-ready (s)", jan["ready_s"], cel["ready_s"],
                                      jan["ready_s"] / cel["ready_s"]))
print("limit: %.0f tasks/s (the 14 Redis commands of one task, redis-benchmark -P 32 -c %d, "
      "this server)" % (limit, c))
for m in re.finditer(r"^(\S+).*?: ([0-9.]+) requests per second", limit_out, re.M):
    print("  %-10s %10.0f commands/s" % (m.group(1), float(m.group(2))))
print("janitor at %.1f%% of the limit, celery at %.1f%%"
      % (100 * jan["rate"] / limit, 100 * cel["rate"] / limit))
print("targets: tasks/s >= 10x: %s; RSS <= 1/10: %s; start <= 1/20: %s"
      % ("met" if jan["rate"] >= 10 * cel["rate"] else "NOT met",
         "met" if jan["rss_mib"] * 10 <= cel["rss_mib"] else "NOT met",
         "met" if jan["ready_s"] * 20 <= cel["ready_s"] else "NOT met"))
EOF
