# SPDX-License-Identifier: MIT
# harness.sh - sourced by tests/integration/*.sh and bench scripts: start real servers on
# loopback (random free port, private mktemp directory), wait for them with a deadline, and stop
# exactly what was started when the script exits.
#
#   . "$JANITOR_SRCDIR/tests/lib/harness.sh"
#   harness_start_postgres     exports PGHOST PGPORT PGUSER PGDATABASE DATABASE_URL PG_BIN
#   harness_createdb NAME      creates a database, prints its postgresql:// URL
#   harness_start_redis        exports REDIS_PORT REDIS_URL
#   harness_start_rabbitmq     exports AMQP_PORT AMQP_URL
#   harness_need_celery        SKIP unless Debian's python3-celery is importable by $PYTHON3
#   wait_until SECONDS CMD...  poll CMD every 0.1 s until it succeeds or SECONDS pass
#   skip "why" / fail "why"    exit 77 (SKIP; a failure when JANITOR_SKIP_IS_FAIL=1) / exit 1
#
# PostgreSQL refuses to run as root, so as root its programs run as the OS user postgres.

set -u
HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/janitor-test.XXXXXX")
chmod 755 "$HARNESS_DIR"
HARNESS_CLEANUP=""
PYTHON3=${PYTHON3:-/usr/bin/python3}
JANITOR=${JANITOR:-./janitor}
export PYTHON3 JANITOR

harness_log() { printf '# %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
skip() {
	if [ "${JANITOR_SKIP_IS_FAIL:-0}" = 1 ]; then
		printf 'FAIL (skip not allowed): %s\n' "$*" >&2
		exit 1
	fi
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

harness_at_exit() { HARNESS_CLEANUP="$1
$HARNESS_CLEANUP"; }

harness_cleanup() {
	local rc=$?
	set +e
	eval "$HARNESS_CLEANUP"
	if [ "$rc" = 0 ] || [ -z "${HARNESS_KEEP:-}" ]; then rm -rf "$HARNESS_DIR"; else
		harness_log "kept $HARNESS_DIR"; fi
	exit "$rc"
}
trap harness_cleanup EXIT
trap 'exit 130' INT TERM

# TERM the process in a pidfile and wait (5 s) until it is gone, so its files can be removed.
harness_stop_pidfile() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	wait_until 5 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
}

wait_until() {
	local secs=$1 deadline
	shift
	deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
	until "$@" >/dev/null 2>&1; do
		[ $(( $(date +%s%N) / 1000000 )) -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# A free TCP port on 127.0.0.1 (20000-32000, below the ephemeral range).
harness_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

harness_start_postgres() {
	local d port
	PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	[ -x "$PG_BIN/initdb" ] || skip "PostgreSQL server not installed (apt-get install postgresql)"
	if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then skip "no postgres OS user"; fi
	d="$HARNESS_DIR/pg"
	mkdir -p "$d"
	[ "$(id -u)" = 0 ] && chown postgres: "$d"
	port=$(harness_free_port) || fail "no free port"
	as_pg "$PG_BIN/initdb" -D "$d/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
		>"$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; fail "initdb failed"; }
	as_pg "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t 60 \
		-o "-p $port -k $d -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
		start >"$d/pg_ctl.log" 2>&1 || { tail -20 "$d/postgres.log" >&2; fail "postgres failed to start"; }
	harness_at_exit "as_pg '$PG_BIN/pg_ctl' -D '$d/data' -m immediate -w -t 30 stop >/dev/null 2>&1"
	wait_until 30 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" || fail "postgres not ready"
	export PG_BIN PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
	export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
	export PATH="$PG_BIN:$PATH"
}

harness_createdb() {
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres "$1" || fail "createdb $1"
	echo "postgresql://postgres@127.0.0.1:$PGPORT/$1"
}

harness_start_redis() {
	local d="$HARNESS_DIR/redis" port
	command -v redis-server >/dev/null 2>&1 || skip "redis-server not installed (apt-get install redis-server)"
	mkdir -p "$d"
	port=$(harness_free_port) || fail "no free port"
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$d" \
		--pidfile "$d/redis.pid" --logfile "$d/redis.log" --daemonize yes >/dev/null \
		|| fail "redis-server failed to start"
	harness_at_exit "harness_stop_pidfile '$d/redis.pid'"
	wait_until 20 sh -c "redis-cli -p $port ping | grep -q PONG" || { tail "$d/redis.log" >&2; fail "redis not ready"; }
	export REDIS_PORT=$port REDIS_URL="redis://127.0.0.1:$port/0"
}

# Restart Redis on the same port (for reconnect tests); data is lost as with a crash.
harness_restart_redis() {
	local d="$HARNESS_DIR/redis"
	redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
	wait_until 10 sh -c "! redis-cli -p $REDIS_PORT ping" || fail "redis did not stop"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$d" \
		--pidfile "$d/redis.pid" --logfile "$d/redis.log" --daemonize yes >/dev/null
	wait_until 20 sh -c "redis-cli -p $REDIS_PORT ping | grep -q PONG" || fail "redis not back"
}

harness_start_rabbitmq() {
	local d="$HARNESS_DIR/rabbitmq" bindir=/usr/lib/rabbitmq/bin epmd port dist eport pid
	[ -x "$bindir/rabbitmq-server" ] || skip "rabbitmq-server not installed (apt-get install rabbitmq-server)"
	epmd=$(command -v epmd || ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -1)
	[ -n "$epmd" ] || skip "epmd not found"
	mkdir -p "$d/home" "$d/mnesia" "$d/log"
	port=$(harness_free_port); dist=$(harness_free_port); eport=$(harness_free_port)
	head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F > "$d/home/.erlang.cookie"
	chmod 400 "$d/home/.erlang.cookie"
	: > "$d/env.conf"
	echo "[]." > "$d/enabled_plugins"
	printf 'listeners.tcp.1 = 127.0.0.1:%s\ndisk_free_limit.absolute = 5MB\n' "$port" > "$d/rabbitmq.conf"
	RMQ_ENV="HOME=$d/home RABBITMQ_NODENAME=janitor$port@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
		RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$dist ERL_EPMD_PORT=$eport ERL_EPMD_ADDRESS=127.0.0.1
		RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log RABBITMQ_CONF_ENV_FILE=$d/env.conf
		RABBITMQ_CONFIG_FILE=$d/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins
		RABBITMQ_PID_FILE=$d/rabbitmq.pid"
	setsid "$epmd" -address 127.0.0.1 -port "$eport" </dev/null >"$d/log/epmd.log" 2>&1 &
	harness_at_exit "kill $! 2>/dev/null"
	# shellcheck disable=SC2086
	setsid env $RMQ_ENV "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
		"$bindir/rabbitmq-server" </dev/null >"$d/log/stdout.log" 2>&1 &
	pid=$!
	harness_at_exit "env $RMQ_ENV timeout 30 '$bindir/rabbitmqctl' -n janitor$port@localhost shutdown >/dev/null 2>&1; kill -9 -$pid 2>/dev/null"
	RABBITMQCTL="env $RMQ_ENV $bindir/rabbitmqctl -n janitor$port@localhost"
	# shellcheck disable=SC2086
	wait_until 90 $RABBITMQCTL await_startup --timeout 5 || { tail -20 "$d/log/stdout.log" >&2; fail "rabbitmq not ready"; }
	export AMQP_PORT=$port AMQP_URL="amqp://guest:guest@127.0.0.1:$port//" RABBITMQCTL
}

harness_need_celery() {
	"$PYTHON3" -c 'import celery, kombu, redis' 2>/dev/null \
		|| skip "Debian's python3-celery/python3-redis not importable by $PYTHON3"
}
