#!/bin/sh
# gen-node-conf.sh: writes one node's mosquitto.conf from the templates.
# usage: gen-node-conf.sh OUT_FILE  with these variables set:
#   NODE PORT BIND STATE_DIR PLUGIN DB_PORT DB_USER DB_PASSWORD DB_NAME
#   and for a leaf: HUB_HOST HUB_PORT BRIDGE_USER BRIDGE_PASSWORD
# Optional (cluster, docs/ADMIN.md "Cluster"):
#   TLS_PORT CAFILE CERTFILE KEYFILE   a TLS listener (listener-tls.conf.in)
#   WS_PORT                            a WebSockets listener (listener-ws.conf.in)
#   HTTP_DIR                           with WS_PORT: the listener also serves the static
#                                      files of this directory (the web client, web/)
#   BRIDGE_CAFILE                      the bridge runs over TLS (bridge-tls.conf.in);
#                                      HUB_PORT is then the hub's TLS port
#   STANDBY_HUB                        host:port of a standby hub: the bridge's
#                                      second address (failover; run history-svc
#                                      and presence-svc on it too; what it does
#                                      and does not cover: docs/ADMIN.md)
#   ACL_FILE                           plugin_opt_acl_file
#   PLUGIN_OPTS                        more plugin options, "name value;name value"
#   METRICS_PORT                       the plugin serves Prometheus metrics on BIND:METRICS_PORT
#   DB_SOCKET                          MariaDB's unix socket instead of 127.0.0.1:DB_PORT
#                                      (DB_PORT may then be empty)
#   DB_HOSTS                           "host:port,host:port,...": several database
#                                      servers (a Galera cluster) instead of
#                                      127.0.0.1:DB_PORT (DB_PORT may then be empty)
# The output holds passwords: it is written with mode 0600.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)

[ -z "${DB_SOCKET:-}${DB_HOSTS:-}" ] || DB_PORT=${DB_PORT:-0}
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
		-e "s|@BRIDGE_USER@|${BRIDGE_USER:-}|g" -e "s|@BRIDGE_PASSWORD@|${BRIDGE_PASSWORD:-}|g" \
		-e "s|@TLS_PORT@|${TLS_PORT:-}|g" -e "s|@CAFILE@|${CAFILE:-}|g" \
		-e "s|@CERTFILE@|${CERTFILE:-}|g" -e "s|@KEYFILE@|${KEYFILE:-}|g" \
		-e "s|@WS_PORT@|${WS_PORT:-}|g" -e "s|@BRIDGE_CAFILE@|${BRIDGE_CAFILE:-}|g" \
		-e "s|@METRICS_PORT@|${METRICS_PORT:-}|g" "$1"
}

if [ -n "${TLS_PORT:-}" ]; then
	for var in CAFILE CERTFILE KEYFILE; do
		eval "val=\${$var:-}"
		[ -n "$val" ] || { echo "gen-node-conf: TLS_PORT needs $var" >&2; exit 2; }
	done
fi

umask 077
tmp="$out.tmp"
subst "$here/node.conf.in" > "$tmp"
if [ -z "${METRICS_PORT:-}" ]; then
	sed -i -e '/^plugin_opt_metrics_port /d' -e '/^plugin_opt_metrics_bind /d' "$tmp"
fi
if [ -n "${DB_SOCKET:-}" ]; then
	sed -i -e '/^plugin_opt_db_port /d' -e "s|^plugin_opt_db_host .*|plugin_opt_db_socket $DB_SOCKET|" "$tmp"
elif [ -n "${DB_HOSTS:-}" ]; then
	sed -i -e '/^plugin_opt_db_port /d' -e "s|^plugin_opt_db_host .*|plugin_opt_db_hosts $DB_HOSTS|" "$tmp"
fi
if [ -n "${ACL_FILE:-}" ]; then
	printf 'plugin_opt_acl_file %s\n' "$ACL_FILE" >> "$tmp"
fi
if [ -n "${PLUGIN_OPTS:-}" ]; then
	printf '%s\n' "$PLUGIN_OPTS" | tr ';' '\n' | sed -e 's/^ *//' -e '/^$/d' -e 's/^/plugin_opt_/' >> "$tmp"
fi
# Listeners come after the plugin lines: with per_listener_settings false
# the plugin and its options are global either way.
[ -z "${TLS_PORT:-}" ] || subst "$here/listener-tls.conf.in" >> "$tmp"
[ -z "${WS_PORT:-}" ] || subst "$here/listener-ws.conf.in" >> "$tmp"
if [ -n "${WS_PORT:-}" ] && [ -n "${HTTP_DIR:-}" ]; then
	# Served without Content-Type or caching headers (docs/WEB.md).
	printf 'http_dir %s\n' "$HTTP_DIR" >> "$tmp"
fi
if [ -n "${HUB_PORT:-}" ]; then
	printf '\n' >> "$tmp"
	subst "$here/bridge.conf.in" > "$tmp.bridge"
	if [ -n "${STANDBY_HUB:-}" ]; then
		# One address line may name several hubs: the bridge uses the first
		# and fails over to the next when it cannot connect.
		sed -i "s|^address .*|& $STANDBY_HUB|" "$tmp.bridge"
	fi
	cat "$tmp.bridge" >> "$tmp"
	rm -f "$tmp.bridge"
	[ -z "${BRIDGE_CAFILE:-}" ] || subst "$here/bridge-tls.conf.in" >> "$tmp"
fi
mv "$tmp" "$out"
