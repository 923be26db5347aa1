#!/bin/sh
# install-deps.sh - install, from Debian's packages, everything janitor needs to build, test
# and run its demo. Installs only what is missing; uses sudo when not root. Services are not
# started by the packages (the tests and the demo start their own on loopback).
set -eu

PKGS="gcc make autoconf automake libtool pkg-config git clang-format
libhiredis-dev librabbitmq-dev libpq-dev libsqlite3-dev libmsgpack-dev libcjson-dev libcmocka-dev
redis-server rabbitmq-server postgresql postgresql-contrib sqlite3
python3 python3-celery python3-kombu python3-redis python3-amqp python3-msgpack python3-django python3-psycopg2
clang libclang-rt-14-dev procps iproute2"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing:$missing" >&2
# Keep the packages' maintainer scripts from starting system-wide servers we do not use.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	policy_added=1
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO -E apt-get install -y -qq --no-install-recommends $missing >/dev/null
rc=$?
[ "$policy_added" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit $rc
