#!/bin/sh
# deps.sh: installs the Debian 12 packages this project builds, runs and
# tests with, then the web client's one npm package (MQTT.js, pinned by
# web/package-lock.json). Idempotent: does nothing when all are present. As
# root it runs apt-get; otherwise it prints the exact command to run.
#   deps.sh        packages, then the web client's npm package
#   deps.sh web    only the npm package (`make web`)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

# MQTT.js's browser bundle for web/ (Debian's node-mqtt has none): `npm ci`
# installs exactly the versions of web/package-lock.json, without running
# any package's install scripts; scripts/stack.sh serves the bundle.
web_deps() {
	local bundle="$ROOT/web/node_modules/mqtt/dist/mqtt.min.js"
	if [ -f "$bundle" ] && [ "$bundle" -nt "$ROOT/web/package-lock.json" ]; then
		return 0
	fi
	command -v npm >/dev/null || { echo "deps: npm is missing (apt-get install npm)" >&2; exit 1; }
	echo "deps: npm ci in web/ (MQTT.js for the web client)"
	(cd "$ROOT/web" && npm ci --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error)
	touch "$bundle"
}

if [ "${1:-}" = web ]; then
	web_deps
	exit 0
fi

PACKAGES="build-essential pkg-config iproute2 iptables procps clang libclang-rt-14-dev
mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
libpaho-mqtt-dev libcjson-dev libmariadb-dev mariadb-server mariadb-client mariadb-backup galera-4 rsync
libcurl4-openssl-dev libssl-dev uthash-dev
python3 python3-pytest python3-paho-mqtt python3-cryptography tmux gnuplot-nox haproxy openssl libncurses-dev
chromium chromium-driver python3-selenium nodejs libmicrohttpd-dev prometheus"
# Debian's nodejs needs the npm package; a nodejs from elsewhere may bring its own npm.
command -v npm >/dev/null || PACKAGES="$PACKAGES npm"

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all Debian packages present"
	web_deps
	exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start system services: this project starts its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
web_deps
