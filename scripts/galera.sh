# galera.sh: the database tier as a MariaDB Galera cluster of DB_NODES
# nodes (Debian's galera-4), sourced by stack.sh when CHAT_DB_NODES is set
# (`make up DB_NODES=3`). Uses stack.sh's VAR, BUILD, DB_PORT, log, die,
# pidfile, alive_pid, wait_for and stop_part.
#
# Node i (1..DB_NODES) is the part "mariadbI": its own loopback address
# $DB_NET.(10+i) (default 127.0.0.11, .12, .13), on which it serves clients
# on DB_PORT+i-1 and talks Galera (group communication on GALERA_PORT+i-1,
# incremental state transfer on GALERA_IST_PORT+i-1, full state transfer by
# rsync on GALERA_SST_PORT+i-1). One address per node, as a network
# namespace per node would give, because the brokers of `make up` share
# 127.0.0.1 rather than namespaces: the node's Galera connections leave from
# its own address, so a firewall rule on an address cuts one node off
# (tests/integration/test_galera.py). Its data, socket, error log and pid
# file are in $VAR/dbI/, owned by user mysql: rsync state transfer fails
# when the servers run as root.
#
# Writes: every component lists the nodes in the same order (db_hosts) and
# uses the first one that is synced in the primary component (common/db.h),
# so while node 1 lives it is the only writer and the rooms' seq rows never
# meet a certification conflict; docs/ADMIN.md "Database cluster".

GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
DB_NET=${CHAT_DB_NET:-127.0.0}
GALERA_PORT=${CHAT_GALERA_PORT:-14567}
GALERA_IST_PORT=${CHAT_GALERA_IST_PORT:-14667}
GALERA_SST_PORT=${CHAT_GALERA_SST_PORT:-14767}

galera_addr() { echo "$DB_NET.$(( 10 + $1 ))"; }
galera_port() { echo $(( DB_PORT + $1 - 1 )); }
galera_sock() { echo "$VAR/db$1/mariadb.sock"; }

# "addr:port,addr:port,..." of every node, in the order all components use.
galera_hosts() {
	local i list=""
	for i in $(seq 1 "$DB_NODES"); do
		list="$list${list:+,}$(galera_addr "$i"):$(galera_port "$i")"
	done
	echo "$list"
}

galera_status() { # node variable: prints a wsrep status value
	mariadb --no-defaults -S "$(galera_sock "$1")" -uroot -N -B \
		-e "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}

galera_synced() { [ "$(galera_status "$1" wsrep_local_state)" = 4 ]; }

# The socket of a running, synced node (the first such), for stack.sh's sql.
galera_any_sock() {
	local i
	for i in $(seq 1 "$DB_NODES"); do
		if alive_pid "mariadb$i" >/dev/null && galera_synced "$i"; then
			galera_sock "$i"
			return 0
		fi
	done
	return 1
}

# The node to start a new cluster from when none runs: the one Galera
# marked safe to bootstrap (the last to stop cleanly), else node 1 (a fresh
# cluster, or all nodes crashed: then node 1 is forced, see docs/ADMIN.md).
galera_bootstrap_node() {
	local i state
	for i in $(seq 1 "$DB_NODES"); do
		state="$VAR/db$i/data/grastate.dat"
		if [ -f "$state" ] && grep -q '^safe_to_bootstrap: 1' "$state"; then
			echo "$i"
			return
		fi
	done
	state="$VAR/db1/data/grastate.dat"
	if [ -f "$state" ]; then
		log "no node is marked safe to bootstrap (all stopped uncleanly); starting the cluster from node 1"
		sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$state"
	fi
	echo 1
}

start_galera_node() { # node [new]: "new" bootstraps a new cluster
	local i=$1 new=${2:-} dir="$VAR/db$1" addr port cluster="" j
	if alive_pid "mariadb$i" >/dev/null; then log "mariadb$i already up"; return; fi
	addr=$(galera_addr "$i")
	port=$(galera_port "$i")
	mkdir -p "$dir"
	chown mysql: "$dir"
	if [ ! -d "$dir/data/mysql" ]; then
		log "initialising the data directory of mariadb$i"
		mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
			--auth-root-authentication-method=socket --skip-test-db > "$dir/install.log" 2>&1 \
			|| { cat "$dir/install.log" >&2; die "mariadb-install-db failed for mariadb$i"; }
	fi
	for j in $(seq 1 "$DB_NODES"); do
		cluster="$cluster${cluster:+,}$(galera_addr "$j"):$(( GALERA_PORT + j - 1 ))"
	done
	mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/mariadb.sock" \
		--port="$port" --bind-address="$addr" --user=mysql --skip-name-resolve \
		--pid-file="$dir/mariadbd.pid" --log-error="$dir/mariadb.log" \
		--innodb-buffer-pool-size=128M --max-connections=200 \
		--binlog-format=ROW --innodb-autoinc-lock-mode=2 --wsrep-on=ON \
		--wsrep-provider="$GALERA_PROVIDER" --wsrep-cluster-name=chat \
		--wsrep-cluster-address="gcomm://$cluster" --wsrep-node-name="db$i" \
		--wsrep-node-address="$addr:$(( GALERA_PORT + i - 1 ))" \
		--wsrep-provider-options="gmcast.listen_addr=tcp://$addr:$(( GALERA_PORT + i - 1 ));ist.recv_addr=$addr:$(( GALERA_IST_PORT + i - 1 ))" \
		--wsrep-sst-method=rsync --wsrep-sst-receive-address="$addr:$(( GALERA_SST_PORT + i - 1 ))" \
		${new:+--wsrep-new-cluster} </dev/null >/dev/null 2>&1 &
	echo $! > "$(pidfile "mariadb$i")"
	# Joining takes a state transfer: a full copy (rsync) the first time.
	if ! wait_for 120 "mariadb$i" galera_synced "$i"; then
		tail -30 "$dir/mariadb.log" >&2
		die "mariadb$i did not join the cluster (synced) within 120 s (log: $dir/mariadb.log)"
	fi
	log "mariadb$i up on $addr:$port (Galera ${new:+new cluster, }$(galera_status "$i" wsrep_cluster_size) nodes)"
}

# Starts node i alone: it joins the running nodes, or starts the cluster
# when none runs.
galera_start_one() { # node
	local j
	for j in $(seq 1 "$DB_NODES"); do
		if [ "$j" != "$1" ] && alive_pid "mariadb$j" >/dev/null; then
			start_galera_node "$1"
			return
		fi
	done
	start_galera_node "$1" new
}

galera_up() {
	local i first=""
	for i in $(seq 1 "$DB_NODES"); do
		alive_pid "mariadb$i" >/dev/null && first=$i
	done
	if [ -z "$first" ]; then
		first=$(galera_bootstrap_node)
		start_galera_node "$first" new
	fi
	for i in $(seq 1 "$DB_NODES"); do
		alive_pid "mariadb$i" >/dev/null || start_galera_node "$i"
	done
}

# Stops the nodes last to first: node 1, the writer, stops last and is the
# one marked safe to bootstrap the next `up` from.
galera_down() {
	local i
	for i in $(seq "$DB_NODES" -1 1); do
		stop_part "mariadb$i"
	done
}
