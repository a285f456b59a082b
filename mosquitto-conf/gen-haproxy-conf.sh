#!/bin/sh
# gen-haproxy-conf.sh: writes haproxy.cfg for the leaves of a cluster.
# usage: gen-haproxy-conf.sh OUT_FILE  with these variables set:
#   LB_BIND LB_PORT   where HAProxy listens for MQTT
#   LEAVES            "name=host:port ..." the leaves' MQTT listeners
# optional:
#   LB_TLS_PORT + TLS_LEAVES  "name=host:port ..." the leaves' TLS listeners;
#                     TLS is passed through, so each leaf's certificate
#                     must name the address clients use for HAProxy
#   LB_WEB_PORT + WEB_LEAVES  "name=host:port ..." the leaves' WebSockets
#                     listeners, which also serve the web client
#   LB_WEB_TLS_PORT + LB_WEB_PEM  the same over TLS, which HAProxy ends with
#                     the certificate and key in LB_WEB_PEM, offering HTTP/1.1
#                     only (Mosquitto 2.0.11's http_dir fails on HTTP/2)
#   RUN_AS            user HAProxy drops to when started as root
#   AGENTS            "name=host:port ..." each leaf's health agent
#                     (health-agent/): an agent-check beside the TCP check
# The regular health checks are TCP connects (an MQTT CONNECT without
# credentials would count as a failed login in the plugin's flood
# protection); the MQTT-level check is the agent's: it logs in with the
# health account and round-trips a message through its leaf, answering
# "down" when that fails (docs/ADMIN.md, "Health check").
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
for var in LB_BIND LB_PORT LEAVES; do
	eval "val=\${$var:-}"
	[ -n "$val" ] || { echo "gen-haproxy-conf: $var is not set" >&2; exit 2; }
done

for agent in ${AGENTS:-}; do
	case $agent in
		*=*:*) ;;
		*) echo "gen-haproxy-conf: agent '$agent' is not name=host:port" >&2; exit 2 ;;
	esac
done

# The agent-check options for leaf $1 ("" when it has no agent).
agent_opts() {
	for agent in ${AGENTS:-}; do
		case $agent in
			"$1"=*) addr=${agent#*=}
				printf ' agent-check agent-addr %s agent-port %s' "${addr%:*}" "${addr##*:}"
				return ;;
		esac
	done
}

servers() { # "name=host:port ..."
	for leaf in $1; do
		case $leaf in
			*=*:*) printf '    server %s %s check%s\n' "${leaf%%=*}" "${leaf#*=}" "$(agent_opts "${leaf%%=*}")" ;;
			*) echo "gen-haproxy-conf: '$leaf' is not name=host:port" >&2; exit 2 ;;
		esac
	done
}

user_line=""
[ -z "${RUN_AS:-}" ] || user_line="    user $RUN_AS"
tmp="$out.tmp"
mqtt=$(servers "$LEAVES")
awk -v servers="$mqtt" -v user="$user_line" '
	/^@MQTT_SERVERS@$/ { print servers; next }
	/^@USER_LINE@$/ { if (user != "") print user; next }
	{ print }' "$here/haproxy.cfg.in" |
	sed -e "s|@LB_BIND@|$LB_BIND|g" -e "s|@LB_PORT@|$LB_PORT|g" > "$tmp"
if [ -n "${LB_TLS_PORT:-}" ]; then
	[ -n "${TLS_LEAVES:-}" ] || { echo "gen-haproxy-conf: LB_TLS_PORT needs TLS_LEAVES" >&2; exit 2; }
	tls=$(servers "$TLS_LEAVES")
	awk -v servers="$tls" '/^@TLS_SERVERS@$/ { print servers; next } { print }' "$here/haproxy-tls.cfg.in" |
		sed -e "s|@LB_BIND@|$LB_BIND|g" -e "s|@LB_TLS_PORT@|$LB_TLS_PORT|g" >> "$tmp"
fi
# extra TEMPLATE PLACEHOLDER PORT_NAME PORT LEAVES: appends one more frontend.
extra() {
	[ -n "$5" ] || { echo "gen-haproxy-conf: $4 needs its leaves" >&2; exit 2; }
	list=$(servers "$5")
	awk -v servers="$list" -v ph="$2" '$0 == ph { print servers; next } { print }' "$here/$1" |
		sed -e "s|@LB_BIND@|$LB_BIND|g" -e "s|@$3@|$4|g" >> "$tmp"
}
[ -z "${LB_WEB_PORT:-}" ] || extra haproxy-web.cfg.in @WEB_SERVERS@ LB_WEB_PORT "$LB_WEB_PORT" "${WEB_LEAVES:-}"
if [ -n "${LB_WEB_TLS_PORT:-}" ]; then
	[ -n "${LB_WEB_PORT:-}" ] && [ -n "${LB_WEB_PEM:-}" ] ||
		{ echo "gen-haproxy-conf: LB_WEB_TLS_PORT needs LB_WEB_PORT and LB_WEB_PEM" >&2; exit 2; }
	sed -e "s|@LB_BIND@|$LB_BIND|g" -e "s|@LB_WEB_TLS_PORT@|$LB_WEB_TLS_PORT|g" \
		-e "s|@LB_WEB_PEM@|$LB_WEB_PEM|g" "$here/haproxy-web-tls.cfg.in" >> "$tmp"
fi
mv "$tmp" "$out"
