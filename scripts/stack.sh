#!/bin/bash
# stack.sh: the local stack: a private MariaDB, a hub and a leaf Mosquitto
# joined by a bridge with the chat-auth plugin, history-svc, presence-svc and
# push-svc (Web Push to offline devices; its VAPID key pair is generated into
# $CHAT_VAR/secrets/vapid.pem on the first `up`).
#   stack.sh up | down | status
#   stack.sh backup [DIR]   online backup of the database (mariadb-backup;
#                           of one node on a Galera stack)
#   stack.sh restore DIR    puts a backup back into the stopped stack (with
#                           CHAT_DB_NODES=N: into node 1 of a new cluster)
# Everything lives under $CHAT_VAR (default: var/ in the checkout): data,
# generated configs, secrets (mode 0600), logs and pid files. `down` stops
# exactly the processes whose pid files `up` wrote, nothing else.
# Ports (loopback only) and their variables:
#   CHAT_DB_PORT (13306)  CHAT_HUB_PORT (11883)  CHAT_LEAF_PORT (11884)
#   CHAT_HUB_WS_PORT (19883)  CHAT_LEAF_WS_PORT (19884)  WebSockets listeners that
#   also serve the web client (web/, docs/WEB.md) at http://127.0.0.1:PORT/
# With CHAT_NODES=N (`make up NODES=N`) it runs a cluster instead: the hub,
# leaves leaf1..leafN on CHAT_LEAF_PORT, +1, ..., HAProxy in front of the
# leaves, and TLS (a private CA in $CHAT_VAR/tls, TLS listeners on every
# node, the bridges over TLS) and WebSockets listeners:
#   CHAT_LB_PORT (11890)       HAProxy, MQTT      CHAT_LB_TLS_PORT (18890)  HAProxy, MQTT over TLS
#   CHAT_HUB_TLS_PORT (18883)  CHAT_LEAF_TLS_PORT (18884, +1, ...)
#   CHAT_HUB_WS_PORT (19883)   CHAT_LEAF_WS_PORT (19884, +1, ...)
# and a health agent per leaf (health-agent/, docs/ADMIN.md "Health check")
# answering HAProxy's agent-check on CHAT_HEALTH_PORT, +1, ... (default: any
# free loopback port, written to $CHAT_VAR/run/health-leafN.port).
#   CHAT_LB_WEB_PORT (18080)   HAProxy, the web client (http:// and ws://)
#   CHAT_LB_WEB_TLS_PORT (18443)  HAProxy, the web client over TLS (https:// and wss://;
#                              HAProxy ends TLS: the brokers' own WebSockets over TLS
#                              offer HTTP/2, on which http_dir fails, docs/WEB.md)
# With CHAT_DB_NODES=N (`make up DB_NODES=3`) the database is a MariaDB
# Galera cluster of N nodes instead of one MariaDB (scripts/galera.sh):
# (needs root), each node in its own network namespace on a private /24:
#   CHAT_DB_NET (10.233.0)  node i on CHAT_DB_NET.(10+i):3306, the host on .1
#   CHAT_DB_NS (chat)       namespaces <NS>sw (the bridge) and <NS>db1..N
#   stack.sh db-stop N | db-start N   stops / starts node N alone (a rolling restart)
# push-svc (docs/ADMIN.md, "push-svc"): CHAT_VAPID_SUBJECT (mailto:admin@localhost)
# is the contact in its VAPID JWTs; CHAT_PUSH_ALLOW_HTTP=1 lets it post to
# http:// endpoints on loopback (tests and benchmarks only).
# Prometheus metrics (docs/ADMIN.md, "Metrics"): every broker's plugin,
# history-svc and presence-svc serve /metrics on CHAT_METRICS_PORT, +1, ...
# (hub, history-svc, presence-svc, then the leaf or leaf1..leafN, then the
# health agents health-leaf1..N), or when
# unset on free loopback ports picked at start (each in
# $CHAT_VAR/run/metrics-PART.port). `up` writes a Prometheus scrape config
# for all of them to $CHAT_VAR/prometheus/prometheus.yml (scrape interval
# CHAT_SCRAPE_INTERVAL, default 15s).
# CHAT_PLUGIN_OPTS ("name value;name value"): more plugin_opt_* lines for
# every broker (docs/ADMIN.md; the tests raise the send rate limits so).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${CHAT_VAR:-$ROOT/var}
BUILD=${CHAT_BUILD:-$ROOT/build}
DB_PORT=${CHAT_DB_PORT:-13306}
HUB_PORT=${CHAT_HUB_PORT:-11883}
LEAF_PORT=${CHAT_LEAF_PORT:-11884}
BIND=127.0.0.1
DB_NAME=chat
DB_USER=chat
PARTS="mariadb hub leaf history-svc presence-svc push-svc"
NODES=${CHAT_NODES:-}
LB_PORT=${CHAT_LB_PORT:-11890}
LB_TLS_PORT=${CHAT_LB_TLS_PORT:-18890}
HUB_TLS_PORT=${CHAT_HUB_TLS_PORT:-18883}
LEAF_TLS_PORT=${CHAT_LEAF_TLS_PORT:-18884}
HUB_WS_PORT=${CHAT_HUB_WS_PORT:-19883}
LEAF_WS_PORT=${CHAT_LEAF_WS_PORT:-19884}
HEALTH_PORT=${CHAT_HEALTH_PORT:-}
LB_WEB_PORT=${CHAT_LB_WEB_PORT:-18080}
LB_WEB_TLS_PORT=${CHAT_LB_WEB_TLS_PORT:-18443}
DB_NODES=${CHAT_DB_NODES:-}
# shellcheck disable=SC2034 # galera.sh's
DB_NS="" DB_NET=""
# A running Galera stack's own settings (galera.sh) win over the environment.
if [ -f "$VAR/run/galera.env" ]; then
	while IFS='=' read -r key value; do
		case $key in DB_NODES|DB_NS|DB_NET) printf -v "$key" '%s' "$value" ;; esac
	done < "$VAR/run/galera.env"
fi
if [ -n "$DB_NODES" ]; then
	case $DB_NODES in
		*[!0-9]*) echo "stack: error: DB_NODES must be a number of Galera nodes (1-9)" >&2; exit 1 ;;
	esac
	[ "$DB_NODES" -ge 1 ] && [ "$DB_NODES" -le 9 ] || { echo "stack: error: DB_NODES must be 1-9" >&2; exit 1; }
	# shellcheck source=galera.sh
	. "$ROOT/scripts/galera.sh"
	PARTS="$(for i in $(seq 1 "$DB_NODES"); do printf 'mariadb%s ' "$i"; done)hub leaf history-svc presence-svc push-svc"
fi
METRICS_PORT=${CHAT_METRICS_PORT:-}
SCRAPE_INTERVAL=${CHAT_SCRAPE_INTERVAL:-15s}
if [ -n "$NODES" ]; then
	case $NODES in
		*[!0-9]*) echo "stack: error: NODES must be a number of leaves (1-20)" >&2; exit 1 ;;
	esac
	[ "$NODES" -ge 1 ] && [ "$NODES" -le 20 ] || { echo "stack: error: NODES must be 1-20" >&2; exit 1; }
fi
# Per-node TLS and WebSockets settings for node_conf; empty: none.
NODE_TLS_PORT="" NODE_WS_PORT="" NODE_HUB_PORT=""
# The web client's files, served by every WebSockets listener (http_dir).
WEB_DIR="$VAR/web"

log() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

pidfile() { echo "$VAR/run/$1.pid"; }

# True when pid runs (a killed process not yet reaped, a zombie, does not).
pid_running() {
	local state
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != "Z" ] && [ "$state" != "X" ]
}

# Prints the pid of part $1 if its pid file names a live process.
alive_pid() {
	local f pid
	f=$(pidfile "$1")
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	pid_running "$pid" || return 1
	echo "$pid"
}

port_in_use() {
	ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .
}

check_port() { # port variable
	if port_in_use "$1"; then
		die "port $1 is already in use; set $2 to a free port (e.g. $2=$(( $1 + 100 )) make up)"
	fi
}

wait_for() { # seconds description command...
	local secs=$1 what=$2
	shift 2
	local deadline=$(( $(date +%s) + secs ))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.2
	done
}

# Picks the metrics port of a part (hub, leaf, leafN, history-svc,
# presence-svc), records it in $VAR/run/metrics-PART.port and prints it.
metrics_port() { # part
	local part=$1 index port
	case $part in
		hub) index=0 ;;
		history-svc) index=1 ;;
		presence-svc) index=2 ;;
		leaf) index=3 ;;
		leaf*) index=$(( 2 + ${part#leaf} )) ;;
		health-leaf*) index=$(( 2 + ${NODES:-1} + ${part#health-leaf} )) ;;
		push-svc) index=$(( 3 + 2 * ${NODES:-1} )) ;;
		*) die "no metrics port for $part" ;;
	esac
	if [ -n "$METRICS_PORT" ]; then
		port=$(( METRICS_PORT + index ))
		check_port "$port" CHAT_METRICS_PORT
	else
		# The kernel's pick, released again: the part binds it a moment later.
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
			|| die "cannot find a free port for $part's metrics"
	fi
	echo "$port" > "$VAR/run/metrics-$part.port"
	echo "$port"
}

# Writes the Prometheus scrape config for the parts that serve metrics.
write_scrape_config() { # parts...
	local part port job dir="$VAR/prometheus" file="$VAR/prometheus/prometheus.yml"
	mkdir -p "$dir"
	{
		echo "# Written by scripts/stack.sh up: the chat stack's metrics (docs/ADMIN.md, \"Metrics\")."
		echo "global:"
		echo "  scrape_interval: $SCRAPE_INTERVAL"
		echo "  evaluation_interval: $SCRAPE_INTERVAL"
		echo "scrape_configs:"
		for part in "$@"; do
			[ -s "$VAR/run/metrics-$part.port" ] || continue
			port=$(cat "$VAR/run/metrics-$part.port")
			case $part in
				hub|leaf*) job=broker ;;
				health-*) job=health-agent ;;
				*) job=$part ;;
			esac
			echo "  - job_name: $part"
			echo "    static_configs:"
			echo "      - targets: ['$BIND:$port']"
			echo "        labels: {component: $job, node: $part}"
		done
	} > "$file.tmp"
	mv "$file.tmp" "$file"
	log "Prometheus scrape config: $file"
	log "  run: prometheus --config.file=$file --storage.tsdb.path=$dir/data --web.listen-address=$BIND:9090"
}

secret() { # name: prints a random secret kept in $VAR/secrets/NAME
	local f="$VAR/secrets/$1"
	if [ ! -s "$f" ]; then
		(umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$f")
	fi
	cat "$f"
}

sql() { # runs SQL text from stdin as root over the private socket
	local sock="$VAR/db/mariadb.sock"
	[ -z "$DB_NODES" ] || sock=$(galera_any_sock) || die "no Galera node is up and synced"
	mariadb --no-defaults -S "$sock" -uroot "$@"
}

start_mariadb() {
	if alive_pid mariadb >/dev/null; then log "mariadb already up"; return; fi
	check_port "$DB_PORT" CHAT_DB_PORT
	mkdir -p "$VAR/db"
	local user_opt=()
	[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
	if [ ! -d "$VAR/db/data/mysql" ]; then
		log "initialising MariaDB data directory"
		mariadb-install-db --no-defaults --datadir="$VAR/db/data" "${user_opt[@]}" \
			--auth-root-authentication-method=socket --skip-test-db > "$VAR/log/mariadb-install.log" 2>&1 \
			|| { cat "$VAR/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
	fi
	mariadbd --no-defaults --datadir="$VAR/db/data" --socket="$VAR/db/mariadb.sock" \
		--port="$DB_PORT" --bind-address=$BIND "${user_opt[@]}" --skip-name-resolve \
		--pid-file="$VAR/db/mariadbd.pid" --log-error="$VAR/log/mariadb.log" \
		--innodb-buffer-pool-size=128M --max-connections=200 </dev/null >/dev/null 2>&1 &
	echo $! > "$(pidfile mariadb)"
	wait_for 60 mariadb mariadb-admin --no-defaults -S "$VAR/db/mariadb.sock" -uroot ping \
		|| { tail -20 "$VAR/log/mariadb.log" >&2; die "MariaDB did not answer within 60 s (log: $VAR/log/mariadb.log)"; }
	log "mariadb up on $BIND:$DB_PORT (socket $VAR/db/mariadb.sock)"
}

setup_database() {
	local pw host_grant=""
	pw=$(secret db-password)
	# Galera: the services reach the nodes from the host's address on the
	# database network (galera.sh).
	[ -z "$DB_NODES" ] || host_grant="CREATE USER IF NOT EXISTS '$DB_USER'@'$(galera_host_addr)' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'$(galera_host_addr)';"
	sql <<SQL
CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
$host_grant
CREATE TABLE IF NOT EXISTS $DB_NAME.schema_migrations (
  name VARCHAR(255) NOT NULL PRIMARY KEY,
  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
SQL
	local f name done
	for f in "$ROOT"/db/migrations/[0-9]*.sql; do
		name=$(basename "$f")
		done=$(sql -N -B "$DB_NAME" -e "SELECT COUNT(*) FROM schema_migrations WHERE name = '$name'")
		[ "$done" = "0" ] || continue
		log "applying migration $name"
		sql "$DB_NAME" < "$f" || die "migration $name failed"
		sql "$DB_NAME" -e "INSERT INTO schema_migrations (name) VALUES ('$name')"
	done
	# The tools and services read their database settings from this file.
	local where="db_host = 127.0.0.1
db_port = $DB_PORT"
	[ -z "$DB_NODES" ] || where="db_hosts = $(galera_hosts)"
	(umask 077; cat > "$VAR/conf/db.conf" <<CONF
$where
db_user = $DB_USER
db_password = $pw
db_name = $DB_NAME
CONF
)
}

# Copies the web client (web/static and MQTT.js's browser bundle, which
# `make deps` installs from web/package-lock.json) to the served directory,
# readable by the user the brokers run as.
install_web() {
	local bundle="$ROOT/web/node_modules/mqtt/dist/mqtt.min.js"
	rm -rf "$WEB_DIR.tmp"
	mkdir -p "$WEB_DIR.tmp/vendor"
	cp -R "$ROOT/web/static/." "$WEB_DIR.tmp/"
	if [ -f "$bundle" ]; then
		cp "$bundle" "$WEB_DIR.tmp/vendor/mqtt.min.js"
	else
		log "warning: $bundle is missing (run make deps): the web client cannot connect"
	fi
	chmod -R a+rX "$WEB_DIR.tmp"
	rm -rf "$WEB_DIR"
	mv "$WEB_DIR.tmp" "$WEB_DIR"
}

user_exists() {
	[ "$(sql -N -B "$DB_NAME" -e "SELECT COUNT(*) FROM users WHERE username = '$1'")" != "0" ]
}

ensure_user() { # name role [room]
	local name=$1 role=$2
	if ! user_exists "$name"; then
		secret "user-$name" | "$BUILD/chatctl" -c "$VAR/conf/db.conf" user add "$name" --role "$role" >/dev/null \
			|| die "could not create user $name"
	fi
	if [ -n "${3:-}" ]; then
		"$BUILD/chatctl" -c "$VAR/conf/db.conf" member add "$3" "$name" >/dev/null \
			|| die "could not add $name to room $3"
	fi
}

node_conf() { # node port [hub]
	local node=$1 port=$2 dir="$VAR/$1"
	local run_as=""
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown mosquitto: "$dir"
		if ! runuser -u mosquitto -- test -w "$dir" 2>/dev/null; then
			log "user mosquitto cannot reach $dir; running $node as root"
			run_as=root
		fi
	fi
	local tls_env=() plugin_opts=${CHAT_PLUGIN_OPTS:-}
	if [ -n "$NODE_TLS_PORT" ]; then
		[ "$run_as" = root ] || [ "$(id -u)" -ne 0 ] || chown mosquitto: "$VAR/tls/$node.key"
		tls_env=(TLS_PORT="$NODE_TLS_PORT" CAFILE="$VAR/tls/ca.crt" CERTFILE="$VAR/tls/$node.crt"
			KEYFILE="$VAR/tls/$node.key")
		# Behind HAProxy every client comes from its address (Mosquitto
		# 2.0 has no PROXY protocol): the per-address flood limit would
		# lock out everyone at once, so it is raised on leaves; the
		# per-user limit still holds (docs/ADMIN.md, "Cluster").
		[ -z "${3:-}" ] || plugin_opts="flood_address_threshold 100000${plugin_opts:+;$plugin_opts}"
		# The bridge checks the hub's certificate (localhost is in its SAN).
		[ -z "${3:-}" ] || tls_env+=(BRIDGE_CAFILE="$VAR/tls/ca.crt")
	fi
	local metrics
	metrics=$(metrics_port "$node")
	env "${tls_env[@]}" PLUGIN_OPTS="$plugin_opts" WS_PORT="$NODE_WS_PORT" HTTP_DIR="$WEB_DIR" METRICS_PORT="$metrics" \
	RUN_AS=$run_as NODE=$node PORT=$port BIND=$BIND STATE_DIR=$dir PLUGIN="$BUILD/chat_auth.so" \
	DB_PORT=$DB_PORT DB_HOSTS=${DB_NODES:+$(galera_hosts)} \
	DB_USER=$DB_USER DB_PASSWORD=$(secret db-password) DB_NAME=$DB_NAME \
	HUB_HOST=${3:+${NODE_HUB_HOST:-$BIND}} HUB_PORT=${3:+${NODE_HUB_PORT:-$HUB_PORT}} BRIDGE_USER=${3:+bridge-$node} \
	BRIDGE_PASSWORD=${3:+$(secret user-bridge-$node)} \
		"$ROOT/mosquitto-conf/gen-node-conf.sh" "$dir/mosquitto.conf"
}

start_broker() { # node port [hub]
	local node=$1 port=$2 var
	if alive_pid "$node" >/dev/null; then log "$node already up"; return; fi
	var=CHAT_$(echo "$node" | tr a-z A-Z)_PORT
	check_port "$port" "$var"
	[ -z "$NODE_TLS_PORT" ] || check_port "$NODE_TLS_PORT" "${var%_PORT}_TLS_PORT"
	[ -z "$NODE_WS_PORT" ] || check_port "$NODE_WS_PORT" "${var%_PORT}_WS_PORT"
	node_conf "$@"
	local preload=()
	if [ -n "${CHAT_SANITIZED:-}" ]; then
		preload=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
			"ASAN_OPTIONS=detect_leaks=0:abort_on_error=0" "UBSAN_OPTIONS=print_stacktrace=1")
	fi
	"${preload[@]}" mosquitto -c "$VAR/$node/mosquitto.conf" </dev/null >>"$VAR/log/$node.stderr" 2>&1 &
	echo $! > "$(pidfile "$node")"
	if ! wait_for 20 "$node" bash -c "exec 3<>/dev/tcp/$BIND/$port"; then
		tail -20 "$VAR/$node/mosquitto.log" "$VAR/log/$node.stderr" >&2 || true
		die "$node did not listen on $BIND:$port within 20 s (log: $VAR/$node/mosquitto.log)"
	fi
	log "$node up on $BIND:$port"
}

start_service() { # name
	local name=$1
	if alive_pid "$name" >/dev/null; then log "$name already up"; return; fi
	local hub_user metrics
	hub_user=${name%-svc}
	metrics=$(metrics_port "$name")
	(umask 077; { cat "$VAR/conf/db.conf"; cat <<CONF
mqtt_host = $BIND
mqtt_port = $HUB_PORT
mqtt_user = $hub_user
mqtt_password = $(secret "user-$hub_user")
mqtt_client_id = $name
mqtt_persistence_dir = $VAR/$name.persist
retention_interval_s = ${CHAT_RETENTION_INTERVAL_S:-60}
log_level = ${CHAT_LOG_LEVEL:-info}
metrics_port = $metrics
metrics_bind = $BIND
CONF
	[ "$name" != push-svc ] || cat <<CONF
vapid_key_file = $VAR/secrets/vapid.pem
vapid_subject = ${CHAT_VAPID_SUBJECT:-mailto:admin@localhost}
allow_http_loopback = ${CHAT_PUSH_ALLOW_HTTP:-0}
CONF
	} > "$VAR/conf/$name.conf")
	# Only what this run appends to the log counts as the sign of life.
	local offset
	offset=$(( $(stat -c %s "$VAR/log/$name.log" 2>/dev/null || echo 0) + 1 ))
	"$BUILD/$name" -c "$VAR/conf/$name.conf" </dev/null >>"$VAR/log/$name.log" 2>&1 &
	echo $! > "$(pidfile "$name")"
	if ! wait_for 20 "$name" bash -c "tail -c +$offset '$VAR/log/$name.log' | grep -q 'connected to $BIND:$HUB_PORT'"; then
		tail -20 "$VAR/log/$name.log" >&2
		die "$name did not connect to the hub within 20 s (log: $VAR/log/$name.log)"
	fi
	log "$name up"
}

# push-svc's VAPID key pair (RFC 8292): a P-256 private key in PEM, made
# once; push-svc prints the public half and clients get it in replies.
vapid_key() {
	local f="$VAR/secrets/vapid.pem"
	[ -s "$f" ] && return
	(umask 077; openssl ecparam -name prime256v1 -genkey -noout -out "$f.tmp" 2>/dev/null) \
		|| die "openssl could not generate the VAPID key"
	mv "$f.tmp" "$f"
	log "VAPID key pair generated: $f"
}

wait_bridge() { # [leaf]
	local leaf=${1:-leaf}
	if ! wait_for 20 bridge grep -q "as $leaf-bridge" "$VAR/hub/mosquitto.log"; then
		tail -20 "$VAR/$leaf/mosquitto.log" >&2
		die "the $leaf's bridge did not connect to the hub within 20 s"
	fi
	log "bridge $leaf -> hub connected"
}

# The health agent of a leaf: logs in as the health account, round-trips
# probes through the leaf and answers HAProxy's agent-check. Prints
# "leafN=host:agent_port" once it reports the leaf up.
start_agent() { # leaf mqtt_port agent_port (0: any free)
	local leaf=$1 part="health-$1" port_file="$VAR/run/health-$1.port"
	if ! alive_pid "$part" >/dev/null; then
		[ "$3" = 0 ] || check_port "$3" CHAT_HEALTH_PORT
		local metrics
		metrics=$(metrics_port "$part")
		rm -f "$port_file"
		(umask 077; cat > "$VAR/conf/$part.conf" <<CONF
mqtt_host = $BIND
mqtt_port = $2
mqtt_user = health
mqtt_password = $(secret user-health)
node = $leaf
metrics_port = $metrics
metrics_bind = $BIND
agent_bind = $BIND
agent_port = $3
port_file = $port_file
log_level = ${CHAT_LOG_LEVEL:-info}
CONF
)
		"$BUILD/health-agent" -c "$VAR/conf/$part.conf" </dev/null >>"$VAR/log/$part.log" 2>&1 &
		echo $! > "$(pidfile "$part")"
		wait_for 10 "$part" test -s "$port_file" \
			|| { tail -20 "$VAR/log/$part.log" >&2; die "$part did not start (log: $VAR/log/$part.log)"; }
	fi
	local agent_port
	agent_port=$(cat "$port_file")
	if ! wait_for 20 "$part" bash -c "exec 3<>/dev/tcp/$BIND/$agent_port && head -1 <&3 | grep -qx up"; then
		tail -20 "$VAR/log/$part.log" >&2
		die "$part does not report $leaf up within 20 s (log: $VAR/log/$part.log)"
	fi
	log "$part up on $BIND:$agent_port" >&2
	echo "$leaf=$BIND:$agent_port"
}

start_haproxy() { # "name=host:port ..." x 4 (MQTT, TLS, WebSockets, health agents)
	if alive_pid haproxy >/dev/null; then log "haproxy already up"; return; fi
	check_port "$LB_PORT" CHAT_LB_PORT
	check_port "$LB_TLS_PORT" CHAT_LB_TLS_PORT
	check_port "$LB_WEB_PORT" CHAT_LB_WEB_PORT
	check_port "$LB_WEB_TLS_PORT" CHAT_LB_WEB_TLS_PORT
	LB_BIND=$BIND LB_PORT=$LB_PORT LEAVES="$1" LB_TLS_PORT=$LB_TLS_PORT TLS_LEAVES="$2" \
	LB_WEB_PORT=$LB_WEB_PORT WEB_LEAVES="$3" LB_WEB_TLS_PORT=$LB_WEB_TLS_PORT LB_WEB_PEM="$VAR/tls/lb.pem" AGENTS="${4:-}" \
		"$ROOT/mosquitto-conf/gen-haproxy-conf.sh" "$VAR/conf/haproxy.cfg"
	haproxy -c -q -f "$VAR/conf/haproxy.cfg" || die "haproxy rejects $VAR/conf/haproxy.cfg"
	haproxy -db -f "$VAR/conf/haproxy.cfg" </dev/null >>"$VAR/log/haproxy.log" 2>&1 &
	echo $! > "$(pidfile haproxy)"
	if ! wait_for 10 haproxy bash -c "exec 3<>/dev/tcp/$BIND/$LB_PORT"; then
		tail -20 "$VAR/log/haproxy.log" >&2
		die "haproxy did not listen on $BIND:$LB_PORT within 10 s"
	fi
	log "haproxy up on $BIND:$LB_PORT (TLS $LB_TLS_PORT; web $LB_WEB_PORT, TLS $LB_WEB_TLS_PORT) in front of the leaves"
}

# The cluster: hub + NODES leaves with TLS and WebSockets, and HAProxy.
cluster_up() {
	local i leaf port mqtt="" tls="" web="" agents="" parts="${PARTS%% hub *} hub"
	mkdir -p "$VAR/tls"
	chmod 755 "$VAR/tls"
	"$ROOT/scripts/certs.sh" "$VAR/tls" hub >/dev/null
	for i in $(seq 1 "$NODES"); do
		"$ROOT/scripts/certs.sh" "$VAR/tls" "leaf$i" >/dev/null
		ensure_user "bridge-leaf$i" bridge
	done
	ensure_user health health
	NODE_TLS_PORT=$HUB_TLS_PORT NODE_WS_PORT=$HUB_WS_PORT
	start_broker hub "$HUB_PORT"
	for i in $(seq 1 "$NODES"); do
		leaf=leaf$i
		NODE_TLS_PORT=$(( LEAF_TLS_PORT + i - 1 )) NODE_WS_PORT=$(( LEAF_WS_PORT + i - 1 ))
		NODE_HUB_HOST=localhost NODE_HUB_PORT=$HUB_TLS_PORT
		start_broker "$leaf" $(( LEAF_PORT + i - 1 )) hub
		mqtt="$mqtt $leaf=$BIND:$(( LEAF_PORT + i - 1 ))"
		tls="$tls $leaf=$BIND:$NODE_TLS_PORT"
		web="$web $leaf=$BIND:$NODE_WS_PORT"
		parts="$parts $leaf"
	done
	NODE_HUB_HOST="" NODE_HUB_PORT=""
	for i in $(seq 1 "$NODES"); do wait_bridge "leaf$i"; done
	for i in $(seq 1 "$NODES"); do
		port=0
		[ -z "$HEALTH_PORT" ] || port=$(( HEALTH_PORT + i - 1 ))
		agents="$agents $(start_agent "leaf$i" $(( LEAF_PORT + i - 1 )) $port)" || exit 1
		parts="$parts health-leaf$i"
	done
	# HAProxy's certificate for the web client over TLS: key and chain in one file.
	"$ROOT/scripts/certs.sh" "$VAR/tls" lb >/dev/null
	(umask 077; cat "$VAR/tls/lb.crt" "$VAR/tls/lb.key" > "$VAR/tls/lb.pem")
	start_haproxy "$mqtt" "$tls" "$web" "$agents"
	echo "$parts haproxy history-svc presence-svc push-svc" > "$VAR/run/parts"
}

cmd_up() {
	[ -x "$BUILD/chat_auth.so" ] || [ -f "$BUILD/chat_auth.so" ] || die "nothing built in $BUILD: run make first"
	mkdir -p "$VAR/run" "$VAR/log" "$VAR/conf" "$VAR/secrets"
	chmod 700 "$VAR/secrets" "$VAR/conf"
	if [ -n "$DB_NODES" ]; then galera_up; else start_mariadb; fi
	setup_database
	ensure_user history service
	ensure_user presence service
	ensure_user push service
	vapid_key
	ensure_user alice user lobby
	ensure_user bob user lobby
	install_web
	if [ -n "$NODES" ]; then
		cluster_up
		start_service history-svc
		start_service presence-svc
		start_service push-svc
		# shellcheck disable=SC2046
		write_scrape_config hub $(for i in $(seq 1 "$NODES"); do echo "leaf$i health-leaf$i"; done) history-svc presence-svc push-svc
		cluster_info
		return
	fi
	if [ -n "$DB_NODES" ]; then echo "$PARTS" > "$VAR/run/parts"; else rm -f "$VAR/run/parts"; fi
	ensure_user bridge-leaf bridge
	NODE_WS_PORT=$HUB_WS_PORT
	start_broker hub "$HUB_PORT"
	NODE_WS_PORT=$LEAF_WS_PORT
	start_broker leaf "$LEAF_PORT" hub
	NODE_WS_PORT=""
	wait_bridge
	start_service history-svc
	start_service presence-svc
	start_service push-svc
	write_scrape_config hub leaf history-svc presence-svc push-svc
	cat <<INFO

The chat stack is up (state, logs and secrets in $VAR).
  hub  broker: $BIND:$HUB_PORT      leaf broker: $BIND:$LEAF_PORT
  demo users:  alice / $(secret user-alice)    bob / $(secret user-bob)   (room: lobby)
Web client (docs/WEB.md): open http://$BIND:$LEAF_WS_PORT/  (or the hub's, http://$BIND:$HUB_WS_PORT/)
Chat in two terminals:
  CHAT_PASSWORD=\$(cat $VAR/secrets/user-alice) $BUILD/chat --port $LEAF_PORT --user alice
  CHAT_PASSWORD=\$(cat $VAR/secrets/user-bob) $BUILD/chat --port $HUB_PORT --user bob
Or with Mosquitto's own tools:
  mosquitto_sub -p $HUB_PORT -u bob -P \$(cat $VAR/secrets/user-bob) -t 'chat/v1/rooms/lobby/msg/+' -v
  mosquitto_pub -p $LEAF_PORT -u alice -P \$(cat $VAR/secrets/user-alice) -q 1 \\
      -t chat/v1/rooms/lobby/msg/alice -m '{"id":"m1","body":"hello"}'
Add users:  $BUILD/chatctl -c $VAR/conf/db.conf user add NAME   (then: member add lobby NAME)
Stop with:  make down
INFO
}

cluster_info() {
	cat <<INFO

The chat cluster is up (state, logs, secrets and TLS files in $VAR).
  hub: $BIND:$HUB_PORT (TLS $HUB_TLS_PORT, WebSockets $HUB_WS_PORT)
  $NODES leaves: $BIND:$LEAF_PORT.. (TLS $LEAF_TLS_PORT.., WebSockets $LEAF_WS_PORT..), bridged to the hub over TLS
  HAProxy in front of the leaves: $BIND:$LB_PORT (MQTT), $BIND:$LB_TLS_PORT (MQTT over TLS)
Web client (docs/WEB.md): open https://localhost:$LB_WEB_TLS_PORT/ (after trusting $VAR/tls/ca.crt)
  or http://$BIND:$LB_WEB_PORT/; each leaf serves it too (http://$BIND:$LEAF_WS_PORT/ ..)
  demo users:  alice / $(secret user-alice)    bob / $(secret user-bob)   (room: lobby)
Through HAProxy, over TLS:
  mosquitto_sub -h localhost -p $LB_TLS_PORT --cafile $VAR/tls/ca.crt -u bob -P \$(cat $VAR/secrets/user-bob) -t 'chat/v1/rooms/lobby/msg/+' -v
  mosquitto_pub -h localhost -p $LB_PORT -u alice -P \$(cat $VAR/secrets/user-alice) -q 1 \\
      -t chat/v1/rooms/lobby/msg/alice -m '{"id":"m1","body":"hello"}'
Stop with:  make down
INFO
}

stop_part() {
	local part=$1 pid
	pid=$(alive_pid "$part") || { rm -f "$(pidfile "$part")"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		pid_running "$pid" || break
		sleep 0.1
	done
	if pid_running "$pid"; then
		log "$part (pid $pid) did not stop in 10 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$(pidfile "$part")"
	log "$part stopped"
}

cmd_down() {
	local part
	local f
	for part in push-svc presence-svc history-svc haproxy; do
		stop_part "$part"
	done
	# The leaves' health agents, then the leaves (leaf1..leafN), whatever
	# NODES `up` had.
	for f in "$VAR"/run/health-leaf[0-9]*.pid; do
		[ -e "$f" ] || continue
		part=$(basename "$f" .pid)
		stop_part "$part"
	done
	for f in "$VAR"/run/leaf[0-9]*.pid; do
		[ -e "$f" ] || continue
		part=$(basename "$f" .pid)
		stop_part "$part"
	done
	for part in leaf hub mariadb; do
		stop_part "$part"
	done
	[ -z "$DB_NODES" ] || galera_down
}

# Stops or starts one Galera node while the rest serve (a rolling restart:
# docs/ADMIN.md "Database cluster").
cmd_db_node() { # stop|start N
	[ -n "$DB_NODES" ] || die "db-$1 needs DB_NODES (CHAT_DB_NODES) as given to up"
	case ${2:-} in
		[1-9]) [ "$2" -le "$DB_NODES" ] || die "no node $2 in a cluster of $DB_NODES" ;;
		*) die "usage: stack.sh db-$1 N (1-$DB_NODES)" ;;
	esac
	if [ "$1" = stop ]; then stop_part "mariadb$2"; else galera_start_one "$2"; fi
}

cmd_status() {
	local part pid rc=0 parts=$PARTS
	[ ! -s "$VAR/run/parts" ] || parts=$(cat "$VAR/run/parts")
	for part in $parts; do
		if pid=$(alive_pid "$part"); then
			printf '%-13s up (pid %s)\n' "$part" "$pid"
		else
			printf '%-13s down\n' "$part"
			rc=3
		fi
	done
	return $rc
}

# An online, consistent backup of the whole MariaDB server (the chat
# database and its accounts) while chat goes on: mariadb-backup copies the
# InnoDB files and the redo written meanwhile, then --prepare applies that
# redo, so DIR holds the data as of one instant near the end of the copy
# (docs/ADMIN.md, "Backups"). On a Galera stack the copy is taken from one
# synced node, the last one (not node 1, the writer: the backup's short
# commit block then never stalls the writes), with --galera-info (the
# cluster position, in DIR/xtrabackup_galera_info). DIR must not exist;
# default $VAR/backups/UTC-TIMESTAMP. Prints DIR on the last line.
cmd_backup() {
	local dir=${1:-$VAR/backups/$(date -u +%Y%m%dT%H%M%SZ)} sock="$VAR/db/mariadb.sock" from=MariaDB i
	local galera_opt=()
	command -v mariadb-backup >/dev/null || die "mariadb-backup is not installed (make deps)"
	if [ -n "$DB_NODES" ]; then
		sock=""
		for i in $(seq "$DB_NODES" -1 1); do
			if alive_pid "mariadb$i" >/dev/null && galera_synced "$i"; then
				sock=$(galera_sock "$i")
				from="Galera node mariadb$i"
				break
			fi
		done
		[ -n "$sock" ] || die "no Galera node is up and synced: back up a running stack (make up DB_NODES=$DB_NODES)"
		galera_opt=(--galera-info)
	else
		alive_pid mariadb >/dev/null || die "MariaDB is not running: back up a running stack (make up)"
	fi
	[ ! -e "$dir" ] || die "$dir already exists"
	mkdir -p "$(dirname "$dir")"
	(umask 077; mkdir "$dir")
	log "backing up $from into $dir"
	if ! mariadb-backup --no-defaults --backup "${galera_opt[@]}" --target-dir="$dir" --socket="$sock" \
			--user=root > "$dir.log" 2>&1; then
		tail -20 "$dir.log" >&2
		die "mariadb-backup --backup failed (log: $dir.log)"
	fi
	if ! mariadb-backup --no-defaults --prepare --target-dir="$dir" >> "$dir.log" 2>&1; then
		tail -20 "$dir.log" >&2
		die "mariadb-backup --prepare failed (log: $dir.log)"
	fi
	mv "$dir.log" "$dir/backup.log"
	log "backup done: $dir"
	echo "$dir"
}

# Moves data directory $1 aside as data.before-restore-TIMESTAMP.
keep_data() { # datadir
	local kept
	[ -d "$1" ] || return 0
	kept="$1.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
	mv "$1" "$kept"
	log "kept the current data directory as $kept"
}

# Replaces the stack's database with backup DIR (of a single MariaDB or of
# a Galera node, either way). Everything must be stopped (make down):
# services and brokers would otherwise keep writing to the data being
# replaced. The current data directories are kept beside them as
# data.before-restore-TIMESTAMP (delete them by hand once happy). On a
# Galera stack (DB_NODES) the backup goes into node 1 and the other nodes'
# data is set aside: the next `make up DB_NODES=N` starts a new cluster
# from node 1 and the others join it with a full state transfer.
cmd_restore() {
	local dir=${1:-} part target="$VAR/db/data" f
	[ -n "$dir" ] || die "usage: stack.sh restore DIR (make restore BACKUP=DIR)"
	dir=$(cd "$dir" 2>/dev/null && pwd) || die "no backup directory $1"
	[ -f "$dir/backup.log" ] && grep -q "completed OK" "$dir/backup.log" && [ -d "$dir/chat" ] \
		|| die "$dir is not a complete, prepared backup of stack.sh backup"
	command -v mariadb-backup >/dev/null || die "mariadb-backup is not installed (make deps)"
	for part in mariadb hub leaf history-svc presence-svc push-svc haproxy; do
		! alive_pid "$part" >/dev/null || die "$part is running: stop the stack first (make down)"
	done
	for part in "$VAR"/run/*.pid; do
		[ -e "$part" ] || continue
		! alive_pid "$(basename "$part" .pid)" >/dev/null \
			|| die "$(basename "$part" .pid) is running: stop the stack first (make down)"
	done
	if [ -n "$DB_NODES" ]; then
		target="$VAR/db1/data"
		for f in "$VAR"/db[0-9]*/data; do
			[ -d "$f" ] && keep_data "$f"
		done
	else
		[ ! -d "$VAR/db1/data" ] \
			|| die "this stack's database is a Galera cluster: make restore DB_NODES=N BACKUP=$1"
		keep_data "$target"
	fi
	mkdir -p "$(dirname "$target")" "$VAR/log"
	if ! mariadb-backup --no-defaults --copy-back --target-dir="$dir" --datadir="$target" \
			> "$VAR/log/restore.log" 2>&1; then
		tail -20 "$VAR/log/restore.log" >&2
		die "mariadb-backup --copy-back failed (log: $VAR/log/restore.log)"
	fi
	rm -f "$target/backup.log"
	if [ -n "$DB_NODES" ]; then
		chown -R mysql: "$(dirname "$target")"
		log "restored $dir into node 1; start the cluster with make up DB_NODES=$DB_NODES (the other nodes copy it from node 1)"
	else
		log "restored $dir; start the stack with make up"
	fi
}

case "${1:-}" in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	backup) cmd_backup "${2:-}" ;;
	restore) cmd_restore "${2:-}" ;;
	db-stop) cmd_db_node stop "${2:-}" ;;
	db-start) cmd_db_node start "${2:-}" ;;
	*) echo "usage: $0 up|down|status|backup [DIR]|restore DIR|db-stop N|db-start N" >&2; exit 2 ;;
esac
