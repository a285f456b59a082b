#!/bin/sh
# gen-haproxy-conf.sh: writes haproxy.cfg for the leaves of a cluster.
# usage: gen-haproxy-conf.sh OUT_FILE  with these variables set:
#   LB_BIND LB_PORT   where HAProxy listens for MQTT
#   LEAVES            "name=host:port ..." the leaves' MQTT listeners
# optional:
#   LB_TLS_PORT + TLS_LEAVES  "name=host:port ..." the leaves' TLS listeners;
#                     TLS is passed through, so each leaf's certificate
#                     must name the address clients use for HAProxy
#   RUN_AS            user HAProxy drops to when started as root
# Health checks are TCP connects: an MQTT CONNECT without credentials would
# count as a failed login in the plugin's flood protection.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
for var in LB_BIND LB_PORT LEAVES; do
	eval "val=\${$var:-}"
	[ -n "$val" ] || { echo "gen-haproxy-conf: $var is not set" >&2; exit 2; }
done

servers() { # "name=host:port ..."
	for leaf in $1; do
		case $leaf in
			*=*:*) printf '    server %s %s check\n' "${leaf%%=*}" "${leaf#*=}" ;;
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
mv "$tmp" "$out"
