#!/bin/sh
# gen-node-conf.sh: writes one node's mosquitto.conf from the templates.
# usage: gen-node-conf.sh OUT_FILE  with these variables set:
#   NODE PORT BIND STATE_DIR PLUGIN DB_PORT DB_USER DB_PASSWORD DB_NAME
#   and for a leaf: HUB_HOST HUB_PORT BRIDGE_USER BRIDGE_PASSWORD
# The output holds passwords: it is written with mode 0600.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)

for var in NODE PORT BIND STATE_DIR PLUGIN DB_PORT DB_USER DB_PASSWORD DB_NAME; do
	eval "val=\${$var:-}"
	[ -n "$val" ] || { echo "gen-node-conf: $var is not set" >&2; exit 2; }
done

# Mosquitto started as root drops to the user named here (default
# "mosquitto"), which must be able to write STATE_DIR; the stack makes the
# directory that user's, or sets RUN_AS=root when the checkout lies where
# that user cannot reach (for example under /root).
if [ "$(id -u)" -eq 0 ]; then USER_LINE="user ${RUN_AS:-mosquitto}"; else USER_LINE=""; fi

subst() {
	sed -e "s|@NODE@|$NODE|g" -e "s|@PORT@|$PORT|g" -e "s|@BIND@|$BIND|g" \
		-e "s|@STATE_DIR@|$STATE_DIR|g" -e "s|@PLUGIN@|$PLUGIN|g" \
		-e "s|@DB_PORT@|$DB_PORT|g" -e "s|@DB_USER@|$DB_USER|g" \
		-e "s|@DB_PASSWORD@|$DB_PASSWORD|g" -e "s|@DB_NAME@|$DB_NAME|g" \
		-e "s|@USER_LINE@|$USER_LINE|g" \
		-e "s|@HUB_HOST@|${HUB_HOST:-}|g" -e "s|@HUB_PORT@|${HUB_PORT:-}|g" \
		-e "s|@BRIDGE_USER@|${BRIDGE_USER:-}|g" -e "s|@BRIDGE_PASSWORD@|${BRIDGE_PASSWORD:-}|g" "$1"
}

umask 077
tmp="$out.tmp"
subst "$here/node.conf.in" > "$tmp"
if [ -n "${HUB_PORT:-}" ]; then
	printf '\n' >> "$tmp"
	subst "$here/bridge.conf.in" >> "$tmp"
fi
mv "$tmp" "$out"
