# galera.sh: the database tier as a MariaDB Galera cluster of DB_NODES
# nodes (Debian's galera-4), sourced by stack.sh when CHAT_DB_NODES is set
# (`make up DB_NODES=3`) or a Galera stack is running ($VAR/run/galera.env).
# Uses stack.sh's VAR, log, die, pidfile, alive_pid, wait_for and stop_part.
#
# Each node runs in its own network namespace, as on its own machine, built
# the way tests/integration/conftest.py's Net builds the brokers' (one
# topology for both): a namespace <NS>sw holds a Linux bridge (the switch),
# node i's namespace <NS>db<i> is joined to it by a veth pair
# (<NS>db<i>a inside, <NS>db<i>b on the bridge) and has the address
# $DB_NET.(10+i); the host (the root namespace, where the brokers'
# plugins, history-svc, presence-svc and chatctl run) is on the bridge too,
# as $DB_NET.1 (veth <NS>host / <NS>hostb). Every node listens on the
# standard ports of its own address: clients 3306, group communication
# 4567, incremental state transfer 4568, full state transfer (rsync) 4444.
# A fault is then what it would be between machines: a node's link taken
# down (ip -n <NS>db<i> link set <NS>db<i>a down), or packets dropped by
# iptables in its namespace (tests/integration/test_galera.py).
#   CHAT_DB_NS (chat)       namespace and interface name prefix (1-10 of a-z0-9)
#   CHAT_DB_NET (10.233.0)  the /24 of the database network
# `up` records them in $VAR/run/galera.env; while that file exists (until
# `down` removes the namespaces) its values win, so db-stop/db-start,
# backup and down need no environment.
#
# A node's data, socket, error log and pid file are in $VAR/dbI/, owned by
# user mysql: rsync state transfer fails when the servers run as root. The
# unix socket is reachable from the host (sockets on the file system do not
# belong to a network namespace): stack.sh's sql and backups use it.
#
# Writes: every component lists the nodes in the same order (db_hosts) and
# uses the first one that is synced in the primary component (common/db.h),
# so while node 1 lives it is the only writer and the rooms' seq rows never
# meet a certification conflict; docs/ADMIN.md "Database cluster".

GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
GALERA_ENV="$VAR/run/galera.env"
DB_NS=${DB_NS:-${CHAT_DB_NS:-chat}}
DB_NET=${DB_NET:-${CHAT_DB_NET:-10.233.0}}
GALERA_CLIENT_PORT=3306 GALERA_PORT=4567 GALERA_IST_PORT=4568 GALERA_SST_PORT=4444

galera_ns() { echo "${DB_NS}db$1"; }
galera_addr() { echo "$DB_NET.$(( 10 + $1 ))"; }
galera_host_addr() { echo "$DB_NET.1"; }
galera_sock() { echo "$VAR/db$1/mariadb.sock"; }

# "addr:port,addr:port,..." of every node, in the order all components use.
galera_hosts() {
	local i list=""
	for i in $(seq 1 "$DB_NODES"); do
		list="$list${list:+,}$(galera_addr "$i"):$GALERA_CLIENT_PORT"
	done
	echo "$list"
}

ns_exists() { [ -e "/var/run/netns/$1" ]; }

# Builds the namespaces, the bridge and the links (once: a running stack's
# are kept) and records them in $GALERA_ENV.
galera_net_up() {
	local i ns sw="${DB_NS}sw" host="${DB_NS}host"
	[ "$(id -u)" -eq 0 ] || die "a Galera stack (DB_NODES) needs root: the nodes get network namespaces and run as user mysql"
	case $DB_NS in
		[a-z]*[!a-z0-9]*|[!a-z]*|???????????*) die "CHAT_DB_NS must be 1-10 characters of a-z and 0-9, starting with a letter" ;;
	esac
	[[ $DB_NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] \
		|| die "CHAT_DB_NET must be the first three numbers of an IPv4 /24 (like 10.233.0)"
	# This stack's, from an earlier `up` (a node restarted alone, say).
	if [ -f "$GALERA_ENV" ] && ns_exists "$sw"; then
		for i in $(seq 1 "$DB_NODES"); do
			ns_exists "$(galera_ns "$i")" || die "the database network of an earlier up is incomplete: run make down first"
		done
		ip link show "$host" >/dev/null 2>&1 || die "the database network of an earlier up is incomplete: run make down first"
		return 0
	fi
	! ns_exists "$sw" || die "network namespace $sw exists but is not this stack's (another stack running?); set CHAT_DB_NS to another prefix"
	[ -z "$(ip -4 route show exact "$DB_NET.0/24" 2>/dev/null)" ] \
		|| die "$DB_NET.0/24 is already in use on this host; set CHAT_DB_NET to a free /24 (like 10.233.7)"
	log "database network $DB_NET.0/24: host $DB_NET.1, node i on $DB_NET.(10+i), each in its own namespace ${DB_NS}db<i>"
	ip netns add "$sw" || die "cannot create network namespace $sw"
	printf 'DB_NODES=%s\nDB_NS=%s\nDB_NET=%s\n' "$DB_NODES" "$DB_NS" "$DB_NET" > "$GALERA_ENV"
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	ip -n "$sw" link set lo up
	ip link add "$host" type veth peer name "${host}b" netns "$sw"
	ip -n "$sw" link set "${host}b" master br0 up
	ip addr add "$(galera_host_addr)/24" dev "$host"
	ip link set "$host" up
	for i in $(seq 1 "$DB_NODES"); do
		ns=$(galera_ns "$i")
		ns_exists "$ns" || ip netns add "$ns"
		ip link add "${ns}a" netns "$ns" type veth peer name "${ns}b" netns "$sw"
		ip -n "$ns" addr add "$(galera_addr "$i")/24" dev "${ns}a"
		ip -n "$ns" link set "${ns}a" up
		ip -n "$ns" link set lo up
		ip -n "$sw" link set "${ns}b" master br0 up
	done
}

# Deletes the namespaces (the links go with them) once every node is
# stopped, and $GALERA_ENV.
galera_net_down() {
	local i
	for i in $(seq 1 "$DB_NODES"); do
		alive_pid "mariadb$i" >/dev/null && return 0
		! ns_exists "$(galera_ns "$i")" || ip netns del "$(galera_ns "$i")"
	done
	# The host's link now, not when the kernel gets round to freeing the
	# switch's namespace: an `up` right after finds its name free.
	! ip link show "${DB_NS}host" >/dev/null 2>&1 || ip link del "${DB_NS}host"
	! ns_exists "${DB_NS}sw" || ip netns del "${DB_NS}sw"
	rm -f "$GALERA_ENV"
	log "database network namespaces removed"
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
		log "no node is marked safe to bootstrap (all stopped uncleanly); starting the cluster from node 1" >&2
		sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$state"
	fi
	echo 1
}

start_galera_node() { # node [new]: "new" bootstraps a new cluster
	local i=$1 new=${2:-} dir="$VAR/db$1" addr cluster="" j
	if alive_pid "mariadb$i" >/dev/null; then log "mariadb$i already up"; return; fi
	addr=$(galera_addr "$i")
	mkdir -p "$dir"
	chown mysql: "$dir"
	if [ ! -d "$dir/data/mysql" ]; then
		log "initialising the data directory of mariadb$i"
		mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
			--auth-root-authentication-method=socket --skip-test-db > "$dir/install.log" 2>&1 \
			|| { cat "$dir/install.log" >&2; die "mariadb-install-db failed for mariadb$i"; }
	fi
	for j in $(seq 1 "$DB_NODES"); do
		cluster="$cluster${cluster:+,}$(galera_addr "$j"):$GALERA_PORT"
	done
	# ip netns exec execs mariadbd: $! is the server's pid.
	ip netns exec "$(galera_ns "$i")" mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/mariadb.sock" \
		--port="$GALERA_CLIENT_PORT" --bind-address="$addr" --user=mysql --skip-name-resolve \
		--pid-file="$dir/mariadbd.pid" --log-error="$dir/mariadb.log" \
		--innodb-buffer-pool-size=128M --max-connections=200 \
		--binlog-format=ROW --innodb-autoinc-lock-mode=2 --wsrep-on=ON \
		--wsrep-provider="$GALERA_PROVIDER" --wsrep-cluster-name=chat \
		--wsrep-cluster-address="gcomm://$cluster" --wsrep-node-name="db$i" \
		--wsrep-node-address="$addr:$GALERA_PORT" \
		--wsrep-provider-options="gmcast.listen_addr=tcp://$addr:$GALERA_PORT;ist.recv_addr=$addr:$GALERA_IST_PORT" \
		--wsrep-sst-method=rsync --wsrep-sst-receive-address="$addr:$GALERA_SST_PORT" \
		${new:+--wsrep-new-cluster} </dev/null >/dev/null 2>&1 &
	echo $! > "$(pidfile "mariadb$i")"
	# Joining takes a state transfer: a full copy (rsync) the first time.
	if ! wait_for 120 "mariadb$i" galera_synced "$i"; then
		tail -30 "$dir/mariadb.log" >&2
		die "mariadb$i did not join the cluster (synced) within 120 s (log: $dir/mariadb.log)"
	fi
	log "mariadb$i up on $addr:$GALERA_CLIENT_PORT in namespace $(galera_ns "$i") (Galera ${new:+new cluster, }$(galera_status "$i" wsrep_cluster_size) nodes)"
}

# Starts node i alone: it joins the running nodes, or starts the cluster
# when none runs.
galera_start_one() { # node
	local j
	galera_net_up
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
	galera_net_up
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

# Stops the nodes last to first, whatever DB_NODES `up` had: node 1, the
# writer, stops last and is the one marked safe to bootstrap the next `up`
# from. Then removes the namespaces.
galera_down() {
	local i
	for i in $(seq 9 -1 1); do
		[ ! -e "$(pidfile "mariadb$i")" ] || stop_part "mariadb$i"
	done
	[ ! -f "$GALERA_ENV" ] || galera_net_down
}
