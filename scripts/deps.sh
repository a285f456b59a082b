#!/bin/sh
# deps.sh: installs the Debian 12 packages this project builds, runs and
# tests with. Idempotent: does nothing when all are present. As root it runs
# apt-get; otherwise it prints the exact command to run.
set -eu

PACKAGES="build-essential pkg-config iproute2 iptables procps clang libclang-rt-14-dev
mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
libpaho-mqtt-dev libcjson-dev libmariadb-dev mariadb-server mariadb-client mariadb-backup
libcurl4-openssl-dev libssl-dev uthash-dev
python3 python3-pytest python3-paho-mqtt tmux gnuplot-nox haproxy openssl libncurses-dev
libmicrohttpd-dev prometheus"

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all Debian packages present"
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
