#!/usr/bin/env bash
# dmkit benchmarks against MariaDB's own tools, on identical sysbench data, in one run.
#
#   scripts/bench.sh full   # mydumper+myloader vs dmkit task_mode=full
#   scripts/bench.sh incr   # native replication (serial, parallel) vs dmkit incremental
#   scripts/bench.sh all    # both
#   scripts/bench.sh verify # dmkit task_mode=full, then dmkit's verification of the same rows
#   scripts/bench.sh validate  # no false positives: continuous validation and an on-demand
#                           # verification of a task_mode=all task under a sysbench write load
#   scripts/bench.sh matrix # full and incr under every PROFILES x native log_slave_updates
#                           # combination, REPEAT runs each, alternating; one table of ratios
#
# Everything (MariaDB servers, dm-server, dumps) lives in a temp dir on 127.0.0.1 and is
# removed on exit. Installs mariadb-server, mariadb-client, mydumper, sysbench, curl,
# python3 and time with apt-get if missing. See BENCHMARKS.md for what is measured.
#
# Environment (defaults in brackets):
#   TABLES [4] TABLE_SIZE [250000]   sysbench tables and rows per table
#   THREADS [4]                      mydumper/myloader threads and dmkit export/import threads
#   REPEAT [1]                       full: runs of each tool (alternating); medians are compared
#   BUFFER_POOL [1G]                 innodb_buffer_pool_size of every server
#   CHARSET [utf8mb4]                character_set_server of every server (sysbench tables use it)
#   DURATION [60] BACKLOG_THREADS [8] incr: seconds and threads of the oltp_write_only backlog
#                                    (validate: of the write load, at LAG_RATE tps)
#   PAR_THREADS [4] PAR_MODE [optimistic]  incr: the parallel native replica
#   REPL_THREADS [] REPL_BATCH []    incr: dmkit incr_migrate_conf (empty = dmkit's default)
#   RELAY [1]                        incr: also time a task reading the relay log (relay pulled
#                                    from the snapshot's file first), beside the direct one
#   LAG [1] LAG_SECONDS [30] LAG_RATE [500]  incr: steady-state lag under a fixed-rate load
#                                    (auto: the native serial replica's catch-up rate of this
#                                    run, the highest rate it sustains (issue 13's lag goal),
#                                    capped at half the source's unthrottled backlog rate)
#                                    (2000 saturates a 2-core machine running source + applier)
#   PHASES [0]                       full: 1 also times dmkit's dumper alone and its loader alone
#                                    (scripts/bench/phases) for each of PHASE_VARIANTS
#   PHASE_VARIANTS [replace,replace+keepidx,error,replace+nobinlog,error+nobinlog+nouniq,replace+batch16]
#   PHASE_RUNS [2]                   loads per variant
#   ON_DUPLICATE [replace]           full: the dmkit task's on_duplicate (error = plain INSERT)
#   VERIFY [off]                     full, verify: the dmkit task's verify setting (off: the copy
#                                    alone, comparable with mydumper+myloader, which verify nothing)
#   VERIFY_RUNS [3]                  verify: timed comparisons (scripts/bench/verifytime); median
#   TARGET_LOG_BIN [1]               0 starts the full benchmark's target without a binlog
#   DM_NO_BINLOG [0]                 1 sets the dmkit task's full_migrate_conf.disable_target_binlog
#                                    (its load sessions run with sql_log_bin=0, as myloader's do)
#   MYLOADER_BINLOG [0]              1 runs myloader with -e (its loads go to the binlog too)
#   STEP_TIMEOUT [1800]              seconds any one step may take
#   PERF [0]                         1 records perf profiles (target mariadbd, dm-server) of each
#                                    timed phase into the work dir, which is then kept (with
#                                    PHASES=1 also Go CPU profiles of the phases: phases-*.pprof)
#   DURABILITY [default]             durability profile of ALL servers: default =
#                                    innodb_flush_log_at_trx_commit=1, sync_binlog MariaDB's
#                                    default (0); relaxed = innodb_flush_log_at_trx_commit=2,
#                                    sync_binlog=0
#   NATIVE_LSU [both]                incr: native replicas with log_slave_updates (1), without (0),
#                                    or both (two serial and two parallel replicas, same backlog)
#   FLOOR [1]                        full: also time the LOAD DATA floor: every table exported as
#                                    CSV (SELECT ... INTO OUTFILE, not timed), then THREADS
#                                    parallel LOAD DATA INFILE sessions into empty tables (timed);
#                                    its sessions log to the binlog as dmkit's do (sql_log_bin=0
#                                    with DM_NO_BINLOG=1)
#   INCR_ORDER [native-first]        incr: which appliers run first (native-first|dmkit-first)
#   PROFILES [default relaxed]       matrix: durability profiles; REPEAT [3 in matrix] runs of each
#   MATRIX_LAG [0]                   matrix: LAG of its incr runs
#   MATRIX_MODES [full incr]         matrix: which benchmarks it runs per profile
#   DM_BIN []                        a prebuilt dm-server to run instead of building this
#                                    checkout's (A/B of two versions on the same machine state)
#   DM_BIN_B []                      a second dm-server (B): full: timed in every run next to the
#                                    first (A), same target; incr: the same task on the same
#                                    backlog into its own target, right after A; the summary gives B/A
#   KEEP [0]                         1 keeps the temp dir (logs, data dirs)
#   RESULTS []                       also append the summary to this file
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=${1:-}
case "$MODE" in
full | incr | all | verify | validate | matrix) ;;
*)
	echo "usage: scripts/bench.sh full|incr|all|verify|validate|matrix   (environment knobs: see the header of this script)" >&2
	exit 2
	;;
esac

TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-250000}
THREADS=${THREADS:-4}
REPEAT_ENV=${REPEAT:-}
REPEAT=${REPEAT:-1}
BUFFER_POOL=${BUFFER_POOL:-1G}
CHARSET=${CHARSET:-utf8mb4}
DURATION=${DURATION:-60}
BACKLOG_THREADS=${BACKLOG_THREADS:-8}
PAR_THREADS=${PAR_THREADS:-4}
PAR_MODE=${PAR_MODE:-optimistic}
REPL_THREADS=${REPL_THREADS:-}
REPL_BATCH=${REPL_BATCH:-}
LAG=${LAG:-1}
RELAY=${RELAY:-1}
LAG_SECONDS=${LAG_SECONDS:-30}
LAG_RATE=${LAG_RATE:-500}
ON_DUPLICATE=${ON_DUPLICATE:-replace}
VERIFY=${VERIFY:-off}
VERIFY_RUNS=${VERIFY_RUNS:-3}
PHASES=${PHASES:-0}
PHASE_VARIANTS=${PHASE_VARIANTS:-replace,replace+keepidx,error,replace+nobinlog,error+nobinlog+nouniq,replace+batch16}
PHASE_RUNS=${PHASE_RUNS:-2}
TARGET_LOG_BIN=${TARGET_LOG_BIN:-1}
MYLOADER_BINLOG=${MYLOADER_BINLOG:-0}
DM_NO_BINLOG=${DM_NO_BINLOG:-0}
STEP_TIMEOUT=${STEP_TIMEOUT:-1800}
PERF=${PERF:-0}
KEEP=${KEEP:-0}
[ "$PERF" = 1 ] && KEEP=1
RESULTS=${RESULTS:-}
DURABILITY=${DURABILITY:-default}
NATIVE_LSU=${NATIVE_LSU:-both}
FLOOR=${FLOOR:-1}
INCR_ORDER=${INCR_ORDER:-native-first}
# TSV_OUT: a file the matrix mode reads back (key<TAB>value lines of this run's figures).
TSV_OUT=${TSV_OUT:-}
case "$DURABILITY" in
default) DURABILITY_FLAGS=(--innodb-flush-log-at-trx-commit=1) ;;
relaxed) DURABILITY_FLAGS=(--innodb-flush-log-at-trx-commit=2 --sync-binlog=0) ;;
*)
	echo "bench: DURABILITY must be default or relaxed, not '$DURABILITY'" >&2
	exit 2
	;;
esac
case "$NATIVE_LSU" in
both | 1 | 0) ;;
*)
	echo "bench: NATIVE_LSU must be both, 1 or 0, not '$NATIVE_LSU'" >&2
	exit 2
	;;
esac

DB=sbtest
USER_NAME=bench
USER_PASS=bench
SUMMARY=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf '\nbench: FAILED: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic with awk, 2 decimals unless the expression says otherwise.
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
sum_line() { SUMMARY+=("$1"); }
# tsv KEY VALUE: records a figure for the matrix mode (no-op outside it).
tsv() { [ -z "$TSV_OUT" ] || printf '%s\t%s\n' "$1" "$2" >>"$TSV_OUT"; }

# ---------------------------------------------------------------------------- deps
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

install_deps() {
	have go || die "Go not found; install Go (see go.mod) and put it on PATH"
	local pkgs=()
	{ have mariadbd && have mariadb-install-db; } || pkgs+=(mariadb-server)
	have mariadb || pkgs+=(mariadb-client)
	{ have mydumper && have myloader; } || pkgs+=(mydumper)
	have sysbench || pkgs+=(sysbench)
	have curl || pkgs+=(curl)
	have python3 || pkgs+=(python3)
	[ -x /usr/bin/time ] || pkgs+=(time)
	[ ${#pkgs[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null 2>&1 || die "need ${pkgs[*]}, and apt-get is not available; install them with your package manager"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "need root or sudo to install ${pkgs[*]}"
		sudo=(sudo)
	fi
	# Keep package scripts from starting the system MariaDB (policy-rc.d 101 = forbidden).
	local policy=/usr/sbin/policy-rc.d added=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod +x "$policy"
		added=1
	fi
	log "installing ${pkgs[*]}"
	local rc=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$WORK/apt.log" 2>&1 &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${pkgs[@]}" >>"$WORK/apt.log" 2>&1 || rc=$?
	if [ "$added" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi
	[ "$rc" = 0 ] || die "installing ${pkgs[*]} with apt-get failed, see $WORK/apt.log"
	return 0
}

# ---------------------------------------------------------------------------- cleanup
WORK=$(mktemp -d /tmp/dmkit-bench.XXXXXX)
PIDS=()
# stop_all: stops everything this script started, newest first; SIGKILL after 10 s.
stop_all() {
	local i p
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[$i]}" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	PIDS=()
	return 0
}
cleanup() {
	local rc=$?
	set +e
	stop_all
	if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
		echo "bench: work dir kept: $WORK (logs: */error.log, dm-*.log)" >&2
		[ "$KEEP" = 1 ] || echo "bench: remove it with rm -rf $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'die "line $LINENO: \"$BASH_COMMAND\" exited with status $?"' ERR
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------- MariaDB
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
USER_FLAG=()
[ "$(id -u)" = 0 ] && USER_FLAG=(--user=root)
CLK_TCK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A PORT SOCK MPID
# start_mariadb NAME SERVER_ID [extra mariadbd flags...]
start_mariadb() {
	local name=$1 id=$2 dir="$WORK/$1" port
	shift 2
	port=$(free_port)
	mkdir -p "$dir"
	mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
		--skip-test-db "${USER_FLAG[@]}" >"$dir/install.log" 2>&1 ||
		die "mariadb-install-db for $name failed, see $dir/install.log"
	"$MARIADBD" --no-defaults --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
		--bind-address=127.0.0.1 --skip-name-resolve --log-error="$dir/error.log" --pid-file="$dir/pid" \
		--server-id="$id" --log-bin="$dir/data/mysql-bin" --binlog-format=ROW --binlog-row-image=FULL \
		--log-slave-updates --innodb-buffer-pool-size="$BUFFER_POOL" --innodb-log-file-size=1G "${DURABILITY_FLAGS[@]}" \
		--character-set-server="$CHARSET" --max-connections=1000 --max-allowed-packet=256M "${USER_FLAG[@]}" "$@" 2>"$dir/stderr.log" &
	local pid=$!
	PIDS+=("$pid")
	local ok=0
	for _ in $(seq 1 240); do
		if mariadb --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then ok=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	[ "$ok" = 1 ] || die "MariaDB $name did not start, see $dir/error.log"
	mariadb --socket="$dir/sock" -uroot -e "SET sql_log_bin=0;
		CREATE USER '$USER_NAME'@'%' IDENTIFIED BY '$USER_PASS';
		GRANT ALL ON *.* TO '$USER_NAME'@'%' WITH GRANT OPTION;" ||
		die "creating the bench user on $name failed"
	PORT[$name]=$port
	SOCK[$name]=$dir/sock
	MPID[$name]=$pid
	log "MariaDB $name: 127.0.0.1:$port (pid $pid)"
}

# sql NAME SQL...: runs SQL as root over the server's socket, tab-separated, no headers.
sql() {
	local name=$1
	shift
	mariadb --socket="${SOCK[$name]}" -uroot -N -B -e "$*"
}

# cpu PID: CPU time (user+system) of a process in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_secs() { calc "($2 - $1) / $CLK_TCK"; }
hwm_mb() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

prepare_source() {
	log "sysbench prepare: $TABLES tables x $TABLE_SIZE rows"
	sql src "CREATE DATABASE $DB" || die "CREATE DATABASE on the source failed"
	local t0
	t0=$(now)
	timeout "$STEP_TIMEOUT" sysbench oltp_write_only --db-driver=mysql --mysql-host=127.0.0.1 \
		--mysql-port="${PORT[src]}" --mysql-user=$USER_NAME --mysql-password=$USER_PASS \
		--mysql-db=$DB --tables="$TABLES" --table-size="$TABLE_SIZE" \
		--threads="$((TABLES < 4 ? TABLES : 4))" prepare >"$WORK/prepare.log" 2>&1 ||
		die "sysbench prepare failed, see $WORK/prepare.log"
	local tbls="" i
	for ((i = 1; i <= TABLES; i++)); do tbls+="${tbls:+,}$DB.sbtest$i"; done
	sql src "ANALYZE TABLE $tbls" >/dev/null
	read -r DATA_BYTES INDEX_BYTES < <(sql src "SELECT SUM(data_length), SUM(index_length)
		FROM information_schema.tables WHERE table_schema='$DB' AND table_name LIKE 'sbtest%'")
	ROWS=$((TABLES * TABLE_SIZE))
	DATA_MB=$(calc "$DATA_BYTES / 1048576")
	log "prepared in $(calc "$(now) - $t0") s: $ROWS rows, data $DATA_MB MiB, indexes $(calc "$INDEX_BYTES / 1048576") MiB"
}

# verify NAME...: every sysbench table on each named server equals the source's
# (row count and CHECKSUM TABLE).
verify() {
	local i tbls="" counts="" want got name
	for ((i = 1; i <= TABLES; i++)); do
		tbls+="${tbls:+,}$DB.sbtest$i"
		counts+="${counts:+ UNION ALL }SELECT 'sbtest$i', COUNT(*) FROM $DB.sbtest$i"
	done
	want="$(sql src "$counts"; sql src "CHECKSUM TABLE $tbls")"
	for name in "$@"; do
		got="$(sql "$name" "$counts" 2>&1; sql "$name" "CHECKSUM TABLE $tbls" 2>&1)"
		if [ "$got" != "$want" ]; then
			echo "source:" >&2
			echo "$want" >&2
			echo "$name:" >&2
			echo "$got" >&2
			die "$name differs from the source (row counts / CHECKSUM TABLE above)"
		fi
		log "verified: $name equals the source ($TABLES tables, row counts and CHECKSUM TABLE)"
	done
}

# perf_start NAME PID...: with PERF=1, samples the processes' stacks until perf_stop NAME.
PERF_PID=""
perf_start() {
	[ "$PERF" = 1 ] || return 0
	local name=$1
	shift
	local pids
	pids=$(IFS=,; echo "$*")
	perf record -F 499 -g -o "$WORK/perf-$name.data" -p "$pids" >"$WORK/perf-$name.log" 2>&1 &
	PERF_PID=$!
	PIDS+=("$PERF_PID")
	sleep 0.3
}

# perf_stop NAME: ends the recording and writes perf-NAME.txt (flat profile by process and symbol).
perf_stop() {
	[ "$PERF" = 1 ] && [ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=""
	perf report -i "$WORK/perf-$1.data" --stdio --no-children --sort comm,dso,sym -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -120 >"$WORK/perf-$1.txt" || true
	log "perf profile: $WORK/perf-$1.txt"
}

# ---------------------------------------------------------------------------- dm-server
STATUS_PY="$ROOT/scripts/bench/status.py"
build_dm() {
	go build -o "$WORK/runtask" ./scripts/bench/runtask || die "go build ./scripts/bench/runtask failed"
	if [ -n "${DM_BIN_B:-}" ]; then
		[ -x "$DM_BIN_B" ] || die "DM_BIN_B=$DM_BIN_B is not an executable dm-server"
		cp "$DM_BIN_B" "$WORK/dm-server-b"
	fi
	if [ -n "${DM_BIN:-}" ]; then
		[ -x "$DM_BIN" ] || die "DM_BIN=$DM_BIN is not an executable dm-server"
		log "using dm-server $DM_BIN (DM_BIN)"
		cp "$DM_BIN" "$WORK/dm-server"
		return 0
	fi
	log "building dm-server"
	go build -o "$WORK/dm-server" ./cmd/dm-server || die "go build ./cmd/dm-server failed"
}

# start_dm NAME: a fresh dm-server with one worker; sets API and DMPID.
start_dm() {
	local port
	port=$(free_port)
	API="http://127.0.0.1:$port/api/v1"
	"${DM_EXE:-$WORK/dm-server}" --listen "127.0.0.1:$port" --data-dir "$WORK/dm-data-$1" --workers 1 --log-level "${DM_LOG_LEVEL:-info}" \
		>"$WORK/dm-$1.log" 2>&1 &
	DMPID=$!
	PIDS+=("$DMPID")
	for _ in $(seq 1 100); do
		curl -fs "$API/cluster/masters" >/dev/null 2>&1 && break
		kill -0 "$DMPID" 2>/dev/null || die "dm-server exited at start, see $WORK/dm-$1.log"
		sleep 0.1
	done
	curl -fs "$API/cluster/masters" >/dev/null || die "dm-server did not answer, see $WORK/dm-$1.log"
}

stop_dm() {
	kill "$DMPID" 2>/dev/null || true
	for _ in $(seq 1 150); do kill -0 "$DMPID" 2>/dev/null || break; sleep 0.1; done
}

# api METHOD PATH [BODY]: calls the OpenAPI, dies on a non-2xx answer.
api() {
	local out code
	out=$(curl -sS -X "$1" "$API$2" -H 'Content-Type: application/json' ${3:+-d "$3"} -w '\n%{http_code}') ||
		die "curl $1 $2 failed"
	code=${out##*$'\n'}
	[ "${code:0:1}" = 2 ] || die "$1 $2 answered HTTP $code: ${out%$'\n'*}"
}

create_dm_source() {
	api POST /sources "{\"source_name\":\"src\",\"host\":\"127.0.0.1\",\"port\":${PORT[src]},
		\"user\":\"$USER_NAME\",\"password\":\"$USER_PASS\",\"enable\":true,\"enable_gtid\":false}"
}

# task_status NAME: one line from scripts/bench/status.py into the ST_* variables.
task_status() {
	local line
	line=$(curl -sS "$API/tasks/$1/status" | python3 "$STATUS_PY") || line=$'-\t-\tfalse\t-\t0\t-\t0\t0\t0\tstatus request failed'
	IFS=$'\t' read -r ST_STAGE ST_UNIT ST_SYNCED ST_SFILE ST_SPOS ST_MFILE ST_MPOS ST_EVENTS ST_BEHIND ST_ERR <<<"$line"
}

# catch_up NAME WHAT LOG: starts incremental task NAME and waits until its syncer is synced
# at (END_FILE, END_POS), with scripts/bench/runtask (one Go poller, not a curl + python3
# per poll, which took ~15 % of the machine from the applier being timed). Sets CU_S (seconds
# from the start request) and CU_EVENTS (the task's total_events then).
catch_up() {
	local timing
	timing=$(timeout "$STEP_TIMEOUT" "$WORK/runtask" -api "$API" -task "$1" -until "$END_FILE:$END_POS") ||
		die "$2 did not catch up to ($END_FILE, $END_POS) (log: $3)"
	read -r CU_S _ CU_EVENTS <<<"$timing"
}

# ---------------------------------------------------------------------------- full
# median: the median of the numbers on stdin (the lower middle one for an even count).
median() { sort -g | awk '{ v[n++] = $1 } END { if (n) print v[int((n - 1) / 2)] }'; }

# full_anchor REP: mydumper + myloader into dst, verified, then dropped. Sets A_* globals.
full_anchor() {
	local src_cpu0 dst_cpu0 t0 t1 md_u md_s ml_u ml_s dir="$WORK/anchor-dump"
	log "anchor #$1: mydumper -t $THREADS, then myloader -t $THREADS"
	src_cpu0=$(cpu "${MPID[src]}")
	t0=$(now)
	timeout "$STEP_TIMEOUT" /usr/bin/time -f '%e %U %S %M' -o "$WORK/mydumper.time" \
		mydumper -h 127.0.0.1 -P "${PORT[src]}" -u $USER_NAME -p $USER_PASS -B $DB -t "$THREADS" \
		-o "$dir" -v 2 >"$WORK/mydumper.log" 2>&1 || die "mydumper failed, see $WORK/mydumper.log"
	t1=$(now)
	A_DUMP=$(calc "$t1 - $t0")
	A_FILES_MB=$(du -sm "$dir" | cut -f1)
	dst_cpu0=$(cpu "${MPID[dst]}")
	perf_start "anchor-load$1" "${MPID[dst]}"
	timeout "$STEP_TIMEOUT" /usr/bin/time -f '%e %U %S %M' -o "$WORK/myloader.time" \
		myloader -h 127.0.0.1 -P "${PORT[dst]}" -u $USER_NAME -p $USER_PASS -d "$dir" \
		-t "$THREADS" -v 2 $([ "$MYLOADER_BINLOG" = 1 ] && echo -e) >"$WORK/myloader.log" 2>&1 ||
		die "myloader failed, see $WORK/myloader.log"
	A_LOAD=$(calc "$(now) - $t1")
	perf_stop "anchor-load$1"
	A_S=$(calc "$A_DUMP + $A_LOAD")
	A_SRC_CPU=$(cpu_secs "$src_cpu0" "$(cpu "${MPID[src]}")")
	A_DST_CPU=$(cpu_secs "$dst_cpu0" "$(cpu "${MPID[dst]}")")
	read -r _ md_u md_s A_MD_RSS <"$WORK/mydumper.time"
	read -r _ ml_u ml_s A_ML_RSS <"$WORK/myloader.time"
	A_MD_CPU=$(calc "$md_u + $md_s")
	A_ML_CPU=$(calc "$ml_u + $ml_s")
	log "anchor #$1: dump $A_DUMP s ($A_FILES_MB MB of files) + load $A_LOAD s = $A_S s"
	verify dst
	sql dst "DROP DATABASE $DB"
	rm -rf "$dir"
}

# floor_export: every sysbench table as a CSV file of the source (SELECT ... INTO OUTFILE,
# the server's default format) plus its CREATE TABLE, for full_floor. Not timed.
floor_export() {
	local i
	mkdir -p "$WORK/floor"
	chmod 777 "$WORK/floor"
	for ((i = 1; i <= TABLES; i++)); do
		sql src "SELECT * INTO OUTFILE '$WORK/floor/sbtest$i.tsv' FROM $DB.sbtest$i" ||
			die "SELECT ... INTO OUTFILE of sbtest$i on the source failed"
		sql src "SHOW CREATE TABLE $DB.sbtest$i" | cut -f2- | sed 's/\\n/ /g' >"$WORK/floor/sbtest$i.sql"
	done
	FLOOR_MB=$(du -sm "$WORK/floor" | cut -f1)
}

# full_floor REP: the LOAD DATA floor, how fast the target absorbs the rows at all: empty
# tables, then THREADS sessions in parallel, each LOAD DATA INFILE of its share of the
# tables (one statement per table). Verified, then dropped. Sets F_* globals.
full_floor() {
	local i t0 dst_cpu0 pids=() binlog=1 s
	[ "$DM_NO_BINLOG" = 1 ] && binlog=0
	sql dst "CREATE DATABASE $DB"
	for ((i = 1; i <= TABLES; i++)); do sql dst "USE $DB; $(cat "$WORK/floor/sbtest$i.sql")"; done
	log "floor #$1: $THREADS parallel LOAD DATA INFILE sessions (sql_log_bin=$binlog)"
	dst_cpu0=$(cpu "${MPID[dst]}")
	perf_start "floor$1" "${MPID[dst]}"
	t0=$(now)
	for ((s = 0; s < THREADS && s < TABLES; s++)); do
		{
			echo "SET sql_log_bin=$binlog;"
			for ((i = s + 1; i <= TABLES; i += THREADS)); do
				echo "LOAD DATA INFILE '$WORK/floor/sbtest$i.tsv' INTO TABLE $DB.sbtest$i CHARACTER SET $CHARSET;"
			done
		} | mariadb --socket="${SOCK[dst]}" -uroot >"$WORK/floor-$s.log" 2>&1 &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || die "LOAD DATA session failed, see $WORK/floor-*.log"; done
	F_S=$(calc "$(now) - $t0")
	perf_stop "floor$1"
	F_DST_CPU=$(cpu_secs "$dst_cpu0" "$(cpu "${MPID[dst]}")")
	log "floor #$1: loaded in $F_S s (dst mariadbd CPU $F_DST_CPU s)"
	verify dst
	sql dst "DROP DATABASE $DB"
}

# full_dmkit REP [keep]: a fresh dm-server runs task_mode=full into dst; verified, then the
# target schema and dmkit's meta schema are dropped (unless keep). Sets D_* globals.
full_dmkit() {
	start_dm "full$1"
	create_dm_source
	api POST /tasks "{\"task\":{\"name\":\"bench-full\",\"task_mode\":\"full\",\"on_duplicate\":\"$ON_DUPLICATE\",
		\"meta_schema\":\"dm_meta\",\"verify\":\"$VERIFY\",
		\"target_config\":{\"host\":\"127.0.0.1\",\"port\":${PORT[dst]},\"user\":\"$USER_NAME\",\"password\":\"$USER_PASS\"},
		\"table_migrate_rule\":[{\"source\":{\"source_name\":\"src\",\"schema\":\"$DB\",\"table\":\"*\"}}],
		\"source_config\":{\"full_migrate_conf\":{\"export_threads\":$THREADS,\"import_threads\":$THREADS,
		\"disable_target_binlog\":$([ "$DM_NO_BINLOG" = 1 ] && echo true || echo false),
		\"data_dir\":\"dump\"},\"source_conf\":[{\"source_name\":\"src\"}]}}}"
	log "dmkit #$1: task_mode=full, export_threads=$THREADS import_threads=$THREADS, on_duplicate=$ON_DUPLICATE, verify=$VERIFY, disable_target_binlog=$DM_NO_BINLOG"
	local dm_cpu0 src_cpu0 dst_cpu0
	dm_cpu0=$(cpu "$DMPID")
	src_cpu0=$(cpu "${MPID[src]}")
	dst_cpu0=$(cpu "${MPID[dst]}")
	perf_start "dmkit-full$1" "${MPID[dst]}" "$DMPID" "${MPID[src]}"
	# scripts/bench/runtask starts the task and polls its status every 50 ms over one
	# connection (a curl + python3 per poll cost the 2-core machine ~15 % of its CPU).
	local timing
	timing=$(timeout "$STEP_TIMEOUT" "$WORK/runtask" -api "$API" -task bench-full) ||
		die "dmkit full task did not finish (log: $WORK/dm-full$1.log)"
	read -r D_S D_DUMP _ <<<"$timing"
	perf_stop "dmkit-full$1"
	D_CPU=$(cpu_secs "$dm_cpu0" "$(cpu "$DMPID")")
	D_RSS=$(hwm_mb "$DMPID")
	D_SRC_CPU=$(cpu_secs "$src_cpu0" "$(cpu "${MPID[src]}")")
	D_DST_CPU=$(cpu_secs "$dst_cpu0" "$(cpu "${MPID[dst]}")")
	log "dmkit #$1: finished in $D_S s (dump done after $D_DUMP s), dm-server CPU $D_CPU s, peak RSS $D_RSS MiB"
	stop_dm
	verify dst
	rm -rf "$WORK/dm-data-full$1"
	[ "${2:-}" = keep ] && return 0
	sql dst "DROP DATABASE $DB; DROP DATABASE IF EXISTS dm_meta"
}

# full_dmkit_b REP: full_dmkit with DM_BIN_B's dm-server; its figures go to B_*, D_* are kept.
full_dmkit_b() {
	local s=$D_S c=$D_CPU r=$D_RSS dd=$D_DUMP sc=$D_SRC_CPU dc=$D_DST_CPU
	DM_EXE="$WORK/dm-server-b" full_dmkit "${1}b"
	B_S=$D_S B_CPU=$D_CPU B_RSS=$D_RSS B_DUMP=$D_DUMP B_SRC_CPU=$D_SRC_CPU B_DST_CPU=$D_DST_CPU
	D_S=$s D_CPU=$c D_RSS=$r D_DUMP=$dd D_SRC_CPU=$sc D_DST_CPU=$dc
}

# bench_verify: dmkit's full copy of the sysbench rows (verify off), then dmkit's
# verification of the same rows (scripts/bench/verifytime: both sides snapshotted, chunk
# checksums with THREADS connections per side), VERIFY_RUNS times.
bench_verify() {
	start_mariadb src 1
	start_mariadb dst 2
	prepare_source
	build_dm
	VERIFY=off full_dmkit 1 keep
	go build -o "$WORK/verifytime" ./scripts/bench/verifytime || die "go build ./scripts/bench/verifytime failed"
	log "verify: $VERIFY_RUNS comparison(s) of $ROWS rows, threads $THREADS"
	local src_cpu0 dst_cpu0
	src_cpu0=$(cpu "${MPID[src]}")
	dst_cpu0=$(cpu "${MPID[dst]}")
	timeout "$STEP_TIMEOUT" /usr/bin/time -f '%e %U %S %M' -o "$WORK/verifytime.time" \
		"$WORK/verifytime" -src "127.0.0.1:${PORT[src]}" -dst "127.0.0.1:${PORT[dst]}" -user $USER_NAME \
		-password $USER_PASS -schema $DB -threads "$THREADS" -runs "$VERIFY_RUNS" >"$WORK/verifytime.out" 2>&1 ||
		{ cat "$WORK/verifytime.out" >&2; die "scripts/bench/verifytime failed"; }
	cat "$WORK/verifytime.out" >&2
	local vm v_u v_s v_rss src_cpu dst_cpu
	vm=$(awk '/^verify:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "s,") print $i }' "$WORK/verifytime.out" | median)
	read -r _ v_u v_s v_rss <"$WORK/verifytime.time"
	src_cpu=$(cpu_secs "$src_cpu0" "$(cpu "${MPID[src]}")")
	dst_cpu=$(cpu_secs "$dst_cpu0" "$(cpu "${MPID[dst]}")")
	sum_line "== verify: $TABLES tables x $TABLE_SIZE rows = $ROWS rows, data_length $DATA_MB MiB, threads $THREADS"
	sum_line "dmkit full copy (verify off): $D_S s ($(calc "$ROWS / $D_S" | cut -d. -f1) rows/s)"
	while IFS= read -r line; do sum_line "  $line"; done < <(grep '^verify:' "$WORK/verifytime.out")
	sum_line "verification median $vm s ($(calc "$ROWS / $vm" | cut -d. -f1) rows/s); ratio verify/copy: $(calc "$vm / $D_S") (goal <= 0.50)"
	sum_line "CPU s over all $VERIFY_RUNS runs: verifytime $(calc "$v_u + $v_s") | src mariadbd $src_cpu | dst mariadbd $dst_cpu; peak RSS $((v_rss / 1024)) MiB"
}

bench_full() {
	start_mariadb src 1
	if [ "$TARGET_LOG_BIN" = 1 ]; then start_mariadb dst 2; else start_mariadb dst 2 --skip-log-bin; fi
	prepare_source
	build_dm
	local fmt='%-24s %8s %9s %8s %9s %11s %s' rep a_all="" d_all="" f_all="" b_all=""
	sum_line "== full: $TABLES tables x $TABLE_SIZE rows = $ROWS rows, data_length $DATA_MB MiB (index $(calc "$INDEX_BYTES / 1048576") MiB), threads $THREADS"
	sum_line "   charset $CHARSET, dmkit on_duplicate $ON_DUPLICATE, target binlog $([ "$TARGET_LOG_BIN" = 1 ] && echo on || echo off), myloader -e $MYLOADER_BINLOG, dmkit disable_target_binlog $DM_NO_BINLOG, $REPEAT run(s) each, alternating"
	sum_line "$(printf "$fmt" 'run' 'wall s' 'rows/s' 'MiB/s' 'peak RSS' 'dump s' 'CPU s: tool | src mariadbd | dst mariadbd')"
	[ "$FLOOR" = 1 ] && floor_export
	D_S=0 D_CPU=0 D_RSS=0 D_DUMP=0 D_SRC_CPU=0 D_DST_CPU=0
	for ((rep = 1; rep <= REPEAT; rep++)); do
		# Alternate the order: odd runs anchor, floor, dmkit (, B); even runs (B,) dmkit,
		# floor, anchor.
		if [ -n "${DM_BIN_B:-}" ] && ! ((rep % 2)); then full_dmkit_b "$rep"; fi
		if ((rep % 2)); then full_anchor "$rep"; else full_dmkit "$rep"; fi
		if [ "$FLOOR" = 1 ]; then
			full_floor "$rep"
			f_all+="$F_S"$'\n'
		fi
		if ((rep % 2)); then full_dmkit "$rep"; else full_anchor "$rep"; fi
		a_all+="$A_S"$'\n'
		d_all+="$D_S"$'\n'
		if [ -n "${DM_BIN_B:-}" ] && ((rep % 2)); then full_dmkit_b "$rep"; fi
		tsv full_rss "$D_RSS"
		tsv full_run_vs_anchor "$(calc "$D_S / $A_S")"
		[ "$FLOOR" != 1 ] || tsv full_run_vs_floor "$(calc "$D_S / $F_S")"
		tsv full_dmkit_cpu "$D_CPU"
		tsv full_dmkit_dst_cpu "$D_DST_CPU"
		tsv full_anchor_dst_cpu "$A_DST_CPU"
		sum_line "$(printf "$fmt" "#$rep mydumper+myloader" "$A_S" "$(calc "$ROWS / $A_S" | cut -d. -f1)" \
			"$(calc "$DATA_MB / $A_S")" "$(((A_MD_RSS > A_ML_RSS ? A_MD_RSS : A_ML_RSS) / 1024)) MiB" "$A_DUMP" \
			"$A_MD_CPU+$A_ML_CPU | $A_SRC_CPU | $A_DST_CPU")"
		[ "$FLOOR" = 1 ] && sum_line "$(printf "$fmt" "#$rep LOAD DATA floor" "$F_S" "$(calc "$ROWS / $F_S" | cut -d. -f1)" \
			"$(calc "$DATA_MB / $F_S")" "-" "-" "- | - | $F_DST_CPU")"
		sum_line "$(printf "$fmt" "#$rep dmkit full" "$D_S" "$(calc "$ROWS / $D_S" | cut -d. -f1)" \
			"$(calc "$DATA_MB / $D_S")" "$D_RSS MiB" "$D_DUMP" "$D_CPU | $D_SRC_CPU | $D_DST_CPU")"
		if [ -n "${DM_BIN_B:-}" ]; then
			b_all+="$B_S"$'\n'
			sum_line "$(printf "$fmt" "#$rep dmkit B" "$B_S" "$(calc "$ROWS / $B_S" | cut -d. -f1)" \
				"$(calc "$DATA_MB / $B_S")" "$B_RSS MiB" "$B_DUMP" "$B_CPU | $B_SRC_CPU | $B_DST_CPU")"
			sum_line "   run $rep: B/A wall $(calc "$B_S / $D_S"), B/anchor $(calc "$B_S / $A_S")"
		fi
	done
	local am dm fm=""
	am=$(printf '%s' "$a_all" | median)
	dm=$(printf '%s' "$d_all" | median)
	sum_line "median: mydumper+myloader $am s ($(calc "$ROWS / $am" | cut -d. -f1) rows/s), dmkit $dm s ($(calc "$ROWS / $dm" | cut -d. -f1) rows/s)"
	sum_line "ratio dmkit/anchor (medians): $(calc "$dm / $am") (goal <= 0.90); durability $DURABILITY"
	tsv full_anchor_s "$am"
	if [ -n "${DM_BIN_B:-}" ]; then
		local bm
		bm=$(printf '%s' "$b_all" | median)
		sum_line "dmkit B ($DM_BIN_B) median $bm s: B/A (medians) $(calc "$bm / $dm"), B/anchor $(calc "$bm / $am")"
		[ "$FLOOR" != 1 ] || sum_line "dmkit B/floor: $(calc "$bm / $(printf '%s' "$f_all" | median)")"
	fi
	tsv full_dmkit_s "$dm"
	if [ "$FLOOR" = 1 ]; then
		fm=$(printf '%s' "$f_all" | median)
		sum_line "LOAD DATA floor median $fm s ($FLOOR_MB MiB of CSV); ratio dmkit/floor: $(calc "$dm / $fm") (goal <= 1.10)"
		tsv full_floor_s "$fm"
		rm -rf "$WORK/floor"
	fi
	sum_line "targets verified identical to the source after every run (row counts + CHECKSUM TABLE)"
	if [ "$PHASES" = 1 ]; then
		log "phases: dmkit's dumper alone, then its loader alone per variant ($PHASE_VARIANTS)"
		go build -o "$WORK/phases" ./scripts/bench/phases || die "go build ./scripts/bench/phases failed"
		timeout "$STEP_TIMEOUT" "$WORK/phases" -src "127.0.0.1:${PORT[src]}" -dst "127.0.0.1:${PORT[dst]}" \
			-user $USER_NAME -password $USER_PASS -schema $DB -dir "$WORK/phases-dump" -threads "$THREADS" \
			-runs "$PHASE_RUNS" -variants "$PHASE_VARIANTS" -dstpid "${MPID[dst]}" \
			$([ "$PERF" = 1 ] && echo "-cpuprofile $WORK/phases") >"$WORK/phases.out" 2>&1 ||
			{ cat "$WORK/phases.out" >&2; die "scripts/bench/phases failed"; }
		cat "$WORK/phases.out" >&2
		sum_line "phases (dmkit packages alone; compare: mydumper $A_DUMP s, myloader $A_LOAD s in the last anchor run):"
		while IFS= read -r line; do sum_line "  $line"; done < <(grep -v '^  run ' "$WORK/phases.out")
		verify dst
		rm -rf "$WORK/phases-dump"
	fi
}

# json_get URL EXPR: GETs URL and prints the Python expression EXPR over its JSON (as d).
json_get() {
	curl -sS "$1" | python3 -c "import json, sys; d = json.load(sys.stdin); print($2)"
}

# wait_until SECONDS WHAT CMD...: runs CMD every 0.5 s until it succeeds.
wait_until() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$(($(date +%s) + secs))
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || die "timed out after $secs s waiting for $what"
		sleep 0.5
	done
}

verify_done() {
	local st
	task_status bench-val
	[ "$ST_STAGE" = Paused ] && die "the task paused: $ST_ERR (log: $WORK/dm-validate.log)"
	st=$(json_get "$API/tasks/bench-val/verify" "(d['data'][0].get('verify_status') or {}).get('stage', '')")
	[ -n "$st" ] && [ "$st" != running ]
}
validation_idle() {
	[ "$(json_get "$API/tasks/bench-val/validation/status" "d['data'][0]['pending_rows']")" = 0 ]
}
synced() {
	task_status bench-val
	[ "$ST_SYNCED" = true ] || [ "$ST_SYNCED" = True ]
}

# bench_validate: a dmkit task_mode=all task (verify: checksum) copies the sysbench tables;
# then continuous validation (full) runs while sysbench oltp_write_only writes DURATION s at
# LAG_RATE tps, with an on-demand verification half-way through. When replication has caught
# up and every replicated row was checked, nothing may have been reported.
bench_validate() {
	start_mariadb src 1
	start_mariadb dst 2
	prepare_source
	build_dm
	start_dm validate
	create_dm_source
	api POST /tasks "{\"task\":{\"name\":\"bench-val\",\"task_mode\":\"all\",\"on_duplicate\":\"replace\",
		\"meta_schema\":\"dm_meta\",\"verify\":\"checksum\",
		\"target_config\":{\"host\":\"127.0.0.1\",\"port\":${PORT[dst]},\"user\":\"$USER_NAME\",\"password\":\"$USER_PASS\"},
		\"table_migrate_rule\":[{\"source\":{\"source_name\":\"src\",\"schema\":\"$DB\",\"table\":\"*\"}}],
		\"source_config\":{\"full_migrate_conf\":{\"export_threads\":$THREADS,\"import_threads\":$THREADS,
		\"data_dir\":\"dump\"},\"source_conf\":[{\"source_name\":\"src\"}]}}}"
	api POST /tasks/bench-val/start
	wait_until "$STEP_TIMEOUT" "the copy's verification" verify_done
	local after_load
	after_load=$(json_get "$API/tasks/bench-val/verify" "d['data'][0]['verify_status']['stage']")
	[ "$after_load" = clean ] || die "the verification after the load says $after_load (see $API/tasks/bench-val/verify)"
	log "copy verified: $after_load; starting validation (full) and $DURATION s of oltp_write_only at $LAG_RATE tps"
	api POST /tasks/bench-val/validation/start '{"mode":"full"}'
	timeout "$STEP_TIMEOUT" sysbench oltp_write_only --db-driver=mysql --mysql-host=127.0.0.1 \
		--mysql-port="${PORT[src]}" --mysql-user=$USER_NAME --mysql-password=$USER_PASS \
		--mysql-db=$DB --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$BACKLOG_THREADS" \
		--rate="$LAG_RATE" --time="$DURATION" --report-interval=10 run >"$WORK/validate-load.log" 2>&1 &
	local sb=$!
	PIDS+=("$sb")
	sleep $((DURATION / 2))
	api POST /tasks/bench-val/verify '{}'
	wait_until "$STEP_TIMEOUT" "the on-demand verification" verify_done
	local ondemand ondemand_rows
	ondemand=$(json_get "$API/tasks/bench-val/verify" "d['data'][0]['verify_status']['stage']")
	ondemand_rows=$(json_get "$API/tasks/bench-val/verify" "d['data'][0]['verify_status']['mismatched_rows']")
	wait "$sb" || die "sysbench (validate load) failed, see $WORK/validate-load.log"
	local txns
	txns=$(awk '/transactions:/ { print $2 }' "$WORK/validate-load.log")
	wait_until "$STEP_TIMEOUT" "replication to catch up" synced
	wait_until "$STEP_TIMEOUT" "validation to check every row" validation_idle
	local checked errors dropped errlist
	checked=$(json_get "$API/tasks/bench-val/validation/status" "d['data'][0]['checked_rows']")
	errors=$(json_get "$API/tasks/bench-val/validation/status" "d['data'][0]['error_rows']")
	dropped=$(json_get "$API/tasks/bench-val/validation/status" "d['data'][0]['dropped_rows']")
	errlist=$(json_get "$API/tasks/bench-val/validation/errors" "d['total']")
	stop_dm
	verify dst
	sum_line "== validate: $TABLES tables x $TABLE_SIZE rows; oltp_write_only $DURATION s x $BACKLOG_THREADS threads at $LAG_RATE tps: $txns transactions"
	sum_line "verification after the load: $after_load; on-demand verification under the load: $ondemand ($ondemand_rows differing rows)"
	sum_line "continuous validation (full): $checked rows checked, $errors errors ($errlist listed), $dropped not validated"
	[ "$errors" = 0 ] && [ "$errlist" = 0 ] || die "validation reported $errors error(s) with nothing wrong (false positives)"
	[ "$ondemand" = clean ] || die "the on-demand verification under load says $ondemand"
	sum_line "no false positives; target verified identical to the source (row counts + CHECKSUM TABLE)"
}

# ---------------------------------------------------------------------------- incr
# binlog_bytes FILE1 POS1 FILE2 POS2: bytes of the source binlog between two positions.
binlog_bytes() {
	sql src "SHOW BINARY LOGS" | awk -v f1="$1" -v p1="$2" -v f2="$3" -v p2="$4" '
		$1 >= f1 && $1 <= f2 { s = ($1 == f2 ? p2 : $2) - ($1 == f1 ? p1 : 0); t += s }
		END { printf "%d", t }'
}

# native_catchup NAME LABEL: START SLAVE from the snapshot and time until the SQL thread has
# executed up to the backlog's end. Sets NAT_S and NAT_CPU.
native_catchup() {
	local name=$1 t0 res cpu0
	sql "$name" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${PORT[src]},
		MASTER_USER='$USER_NAME', MASTER_PASSWORD='$USER_PASS',
		MASTER_LOG_FILE='$SNAP_FILE', MASTER_LOG_POS=$SNAP_POS, MASTER_USE_GTID=no"
	cpu0=$(cpu "${MPID[$name]}")
	perf_start "native-$name" "${MPID[$name]}"
	t0=$(now)
	res=$(mariadb --socket="${SOCK[$name]}" -uroot -N -B -e "START SLAVE;
		SELECT MASTER_POS_WAIT('$END_FILE', $END_POS, $STEP_TIMEOUT)") || die "START SLAVE on $name failed"
	NAT_S=$(calc "$(now) - $t0")
	perf_stop "native-$name"
	NAT_CPU=$(cpu_secs "$cpu0" "$(cpu "${MPID[$name]}")")
	case "$res" in
	'' | NULL | -*)
		sql "$name" "SHOW SLAVE STATUS\G" >&2 || true
		die "$name did not catch up (MASTER_POS_WAIT returned '$res'; slave status above)"
		;;
	esac
	log "native $2: caught up in $NAT_S s (replica mariadbd CPU $NAT_CPU s)"
}

# heartbeat_lag TARGET SECONDS OUT: writes a heartbeat row on the source every 50 ms and
# samples NOW(6) - heartbeat on TARGET every 100 ms while sysbench runs LAG_RATE tps.
# Prints "p50 p99 max" in ms and the achieved tps.
heartbeat_lag() {
	local target=$1 secs=$2 out=$3 n
	n=$((secs * 20 + 40))
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
		print "UPDATE '"$DB"'.bench_heartbeat SET ts = NOW(6) WHERE id = 1; DO SLEEP(0.05);" }' |
		mariadb -h 127.0.0.1 -P "${PORT[src]}" -u$USER_NAME -p$USER_PASS >/dev/null 2>&1 &
	local hb=$!
	PIDS+=("$hb")
	sleep 1
	awk -v n="$((secs * 10))" 'BEGIN { for (i = 0; i < n; i++)
		print "SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) FROM '"$DB"'.bench_heartbeat WHERE id = 1; DO SLEEP(0.1);" }' |
		mariadb --socket="${SOCK[$target]}" -uroot -N -B >"$out.lag" 2>&1 &
	local rd=$!
	PIDS+=("$rd")
	timeout "$STEP_TIMEOUT" sysbench oltp_write_only --db-driver=mysql --mysql-host=127.0.0.1 \
		--mysql-port="${PORT[src]}" --mysql-user=$USER_NAME --mysql-password=$USER_PASS \
		--mysql-db=$DB --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$BACKLOG_THREADS" \
		--rate="$LAG_RATE" --time="$secs" --report-interval=10 run >"$out.sysbench" 2>&1 ||
		die "sysbench (lag load) failed, see $out.sysbench"
	wait "$rd" || true
	kill "$hb" 2>/dev/null || true
	wait "$hb" 2>/dev/null || true
	LAG_TPS=$(awk '/transactions:/ { gsub(/\(/, "", $3); printf "%.0f", $3 }' "$out.sysbench")
	LAG_STATS=$(sort -n "$out.lag" | awk '/^[0-9]+$/ { v[n++] = $1 }
		END { if (n == 0) { print "- - -"; exit }
		      printf "%.0f %.0f %.0f", v[int(n * 0.5)] / 1000, v[int(n * 0.99)] / 1000, v[n - 1] / 1000 }')
}

# relay_caught_up: true when the source's relay reports relay_catch_up_master.
relay_caught_up() {
	curl -s "$API/sources/src/status" | python3 -c 'import json, sys
d = json.load(sys.stdin).get("data") or []
print("true" if any((s.get("relay_status") or {}).get("relay_catch_up_master") for s in d) else "false")'
}

# relay_catchup INCR_CONF DIRECT_S: the relay variant of the incremental benchmark, on the
# same backlog. The relay is pulled from the snapshot's file (timed on its own), then a
# task into dmrelay reads it from the snapshot position (timed like the direct task).
# Appends its summary to relay_lines; relay is disabled again afterwards.
relay_catchup() {
	local conf=$1 direct_s=$2 t0 deadline pull_s rl_s rl_cpu0 rl_cpu rss0 rss1 kind relay_mb
	rss0=$(hwm_mb "$DMPID")
	# relay_binlog_name is a source setting: DM refuses to change it while a task runs.
	api POST /tasks/bench-incr/stop
	log "dmkit relay: pulling the source from ($SNAP_FILE, 4) into the relay"
	t0=$(now)
	api POST /sources/src/relay/enable "{\"relay_binlog_name\":\"$SNAP_FILE\"}"
	deadline=$(($(date +%s) + STEP_TIMEOUT))
	until [ "$(relay_caught_up)" = true ]; do
		[ "$(date +%s)" -lt "$deadline" ] || die "the relay did not catch up in $STEP_TIMEOUT s (log: $WORK/dm-incr.log)"
		sleep 0.1
	done
	pull_s=$(calc "$(now) - $t0")
	relay_mb=$(du -sm "$WORK/dm-data-incr/relay-dir" | cut -f1)
	log "dmkit relay: caught up in $pull_s s ($relay_mb MiB of relay files)"
	api POST /tasks "{\"task\":{\"name\":\"bench-relay\",\"task_mode\":\"incremental\",\"on_duplicate\":\"replace\",
		\"meta_schema\":\"dm_meta\",
		\"target_config\":{\"host\":\"127.0.0.1\",\"port\":${PORT[dmrelay]},\"user\":\"$USER_NAME\",\"password\":\"$USER_PASS\"},
		\"table_migrate_rule\":[{\"source\":{\"source_name\":\"src\",\"schema\":\"$DB\",\"table\":\"*\"}}],
		\"source_config\":{\"incr_migrate_conf\":{$conf},
		\"source_conf\":[{\"source_name\":\"src\",\"binlog_name\":\"$SNAP_FILE\",\"binlog_pos\":$SNAP_POS}]}}}"
	rl_cpu0=$(cpu "$DMPID")
	catch_up bench-relay "dmkit (relay)" "$WORK/dm-incr.log"
	rl_s=$CU_S
	rl_cpu=$(cpu_secs "$rl_cpu0" "$(cpu "$DMPID")")
	rss1=$(hwm_mb "$DMPID")
	kind=$(curl -s "$API/tasks/bench-relay/status" | python3 -c 'import json, sys
print(((json.load(sys.stdin).get("data") or [{}])[0].get("sync_status") or {}).get("binlog_type", "-"))')
	[ "$kind" = local ] || die "the relay task read binlog_type '$kind', not local"
	log "dmkit relay: task caught up in $rl_s s reading the relay, dm-server CPU $rl_cpu s, peak RSS $rss0 -> $rss1 MiB"
	verify dmrelay
	api POST /tasks/bench-relay/stop
	api POST /sources/src/relay/disable
	api POST /tasks/bench-incr/start
	relay_lines+=("$(printf '%-34s %9s %10s %12s %s' 'dmkit incremental, relay (local)' "$rl_s" \
		"$(calc "$txns / $rl_s" | cut -d. -f1)" "$(calc "$mb / $rl_s")" "$rl_cpu | -, $rss1 MiB")")
	relay_lines+=("relay pull of the backlog: $pull_s s, $relay_mb MiB relay files; dm-server peak RSS before relay $rss0 MiB, after $rss1 MiB")
	relay_lines+=("ratio dmkit relay/direct catch-up: $(calc "$rl_s / $direct_s") (goal <= 1.15)")
}

# NATIVES: the native replicas of this run, "name threads lsu label" each.
NATIVES=()
declare -A NAT_T NAT_C
# run_natives: each native replica catches up on the backlog, one at a time.
run_natives() {
	local n name thr lsu label
	for n in "${NATIVES[@]}"; do
		read -r name thr lsu label <<<"$n"
		if [ "$thr" -gt 0 ]; then
			sql "$name" "SET GLOBAL slave_parallel_threads=$thr; SET GLOBAL slave_parallel_mode='$PAR_MODE'"
		fi
		native_catchup "$name" "$label"
		NAT_T[$name]=$NAT_S
		NAT_C[$name]=$NAT_CPU
	done
}

# incr_dmkit_b INCR_CONF: DM_BIN_B's dm-server runs the same incremental task into dmdstb
# (loaded with the same snapshot), timed like the first; sets B_S, B_CPU, B_DST_CPU, B_RSS.
# The first dm-server keeps running meanwhile, idle.
incr_dmkit_b() {
	local api_a=$API pid_a=$DMPID dm_cpu0 dst_cpu0
	DM_EXE="$WORK/dm-server-b" start_dm incrb
	create_dm_source
	api POST /tasks "{\"task\":{\"name\":\"bench-incr\",\"task_mode\":\"incremental\",\"on_duplicate\":\"replace\",
		\"meta_schema\":\"dm_meta\",
		\"target_config\":{\"host\":\"127.0.0.1\",\"port\":${PORT[dmdstb]},\"user\":\"$USER_NAME\",\"password\":\"$USER_PASS\"},
		\"table_migrate_rule\":[{\"source\":{\"source_name\":\"src\",\"schema\":\"$DB\",\"table\":\"*\"}}],
		\"source_config\":{\"incr_migrate_conf\":{$1},
		\"source_conf\":[{\"source_name\":\"src\",\"binlog_name\":\"$SNAP_FILE\",\"binlog_pos\":$SNAP_POS}]}}}"
	log "dmkit B ($DM_BIN_B): the same incremental task into dmdstb"
	dm_cpu0=$(cpu "$DMPID")
	dst_cpu0=$(cpu "${MPID[dmdstb]}")
	catch_up bench-incr "dmkit B" "$WORK/dm-incrb.log"
	B_S=$CU_S
	B_CPU=$(cpu_secs "$dm_cpu0" "$(cpu "$DMPID")")
	B_DST_CPU=$(cpu_secs "$dst_cpu0" "$(cpu "${MPID[dmdstb]}")")
	B_RSS=$(hwm_mb "$DMPID")
	log "dmkit B: caught up in $B_S s, dm-server CPU $B_CPU s, target CPU $B_DST_CPU s"
	stop_dm
	verify dmdstb
	API=$api_a DMPID=$pid_a
}

bench_incr() {
	start_mariadb src 1
	local lsus="1 0" lsu n name thr label
	[ "$NATIVE_LSU" = both ] || lsus=$NATIVE_LSU
	NATIVES=()
	for lsu in $lsus; do
		for thr in 0 "$PAR_THREADS"; do
			name=rpar
			label="native parallel ($PAR_THREADS, $PAR_MODE)"
			if [ "$thr" = 0 ]; then name=rserial label="native serial"; fi
			if [ "$lsu" = 1 ]; then label+=", log_slave_updates"; else name+=_nolsu label+=", no log_slave_updates"; fi
			NATIVES+=("$name $thr $lsu $label")
		done
	done
	local nid=11 natnames=()
	for n in "${NATIVES[@]}"; do
		read -r name thr lsu label <<<"$n"
		if [ "$lsu" = 1 ]; then start_mariadb "$name" $nid; else start_mariadb "$name" $nid --log-slave-updates=0; fi
		natnames+=("$name")
		nid=$((nid + 1))
	done
	start_mariadb dmdst 20
	local b_dst=""
	if [ -n "${DM_BIN_B:-}" ]; then
		start_mariadb dmdstb 21
		b_dst=dmdstb
	fi
	local relay_dst=""
	if [ "$RELAY" = 1 ]; then
		start_mariadb dmrelay 14
		relay_dst=dmrelay
	fi
	prepare_source
	sql src "CREATE TABLE $DB.bench_heartbeat (id INT PRIMARY KEY, ts DATETIME(6) NOT NULL);
		INSERT INTO $DB.bench_heartbeat VALUES (1, NOW(6))"
	read -r SNAP_FILE SNAP_POS _ < <(sql src "SHOW MASTER STATUS")
	SNAP_GTID=$(sql src "SELECT @@gtid_binlog_pos")
	log "snapshot at ($SNAP_FILE, $SNAP_POS), GTID $SNAP_GTID (source idle)"

	log "loading the snapshot into rserial, rpar, dmdst (mydumper + myloader)"
	timeout "$STEP_TIMEOUT" mydumper -h 127.0.0.1 -P "${PORT[src]}" -u $USER_NAME -p $USER_PASS -B $DB \
		-t "$THREADS" -o "$WORK/snap" -v 2 >"$WORK/snap-mydumper.log" 2>&1 ||
		die "mydumper (snapshot) failed, see $WORK/snap-mydumper.log"
	grep -q "$SNAP_POS" "$WORK/snap/metadata" ||
		die "the snapshot's position moved (expected $SNAP_POS in $WORK/snap/metadata)"
	local r
	for r in "${natnames[@]}" dmdst $b_dst $relay_dst; do
		timeout "$STEP_TIMEOUT" myloader -h 127.0.0.1 -P "${PORT[$r]}" -u $USER_NAME -p $USER_PASS \
			-d "$WORK/snap" -t "$THREADS" -v 2 >"$WORK/snap-myloader-$r.log" 2>&1 ||
			die "myloader into $r failed, see $WORK/snap-myloader-$r.log"
	done
	rm -rf "$WORK/snap"
	verify "${natnames[@]}" dmdst $b_dst $relay_dst

	log "backlog: sysbench oltp_write_only, $BACKLOG_THREADS threads, $DURATION s"
	timeout "$STEP_TIMEOUT" sysbench oltp_write_only --db-driver=mysql --mysql-host=127.0.0.1 \
		--mysql-port="${PORT[src]}" --mysql-user=$USER_NAME --mysql-password=$USER_PASS \
		--mysql-db=$DB --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$BACKLOG_THREADS" \
		--time="$DURATION" --report-interval=10 run >"$WORK/backlog.log" 2>&1 ||
		die "sysbench run (backlog) failed, see $WORK/backlog.log"
	read -r END_FILE END_POS _ < <(sql src "SHOW MASTER STATUS")
	local txns bytes mb
	txns=$(awk '/transactions:/ { print $2 }' "$WORK/backlog.log")
	bytes=$(binlog_bytes "$SNAP_FILE" "$SNAP_POS" "$END_FILE" "$END_POS")
	mb=$(calc "$bytes / 1048576")
	log "backlog: $txns transactions ($(calc "$txns / $DURATION") tps on the source), $mb MiB of binlog, end ($END_FILE, $END_POS)"

	# (a) native replication, one replica at a time (before or after dmkit: INCR_ORDER).
	[ "$INCR_ORDER" = dmkit-first ] || run_natives

	# (b) dmkit incremental from the same position.
	build_dm
	start_dm incr
	create_dm_source
	local incr_conf=""
	[ -n "$REPL_THREADS" ] && incr_conf+="\"repl_threads\":$REPL_THREADS"
	[ -n "$REPL_BATCH" ] && incr_conf+="${incr_conf:+,}\"repl_batch\":$REPL_BATCH"
	api POST /tasks "{\"task\":{\"name\":\"bench-incr\",\"task_mode\":\"incremental\",\"on_duplicate\":\"replace\",
		\"meta_schema\":\"dm_meta\",
		\"target_config\":{\"host\":\"127.0.0.1\",\"port\":${PORT[dmdst]},\"user\":\"$USER_NAME\",\"password\":\"$USER_PASS\"},
		\"table_migrate_rule\":[{\"source\":{\"source_name\":\"src\",\"schema\":\"$DB\",\"table\":\"*\"}}],
		\"source_config\":{\"incr_migrate_conf\":{$incr_conf},
		\"source_conf\":[{\"source_name\":\"src\",\"binlog_name\":\"$SNAP_FILE\",\"binlog_pos\":$SNAP_POS}]}}}"
	log "dmkit: task_mode=incremental from ($SNAP_FILE, $SNAP_POS), incr_migrate_conf {$incr_conf}"
	local dm_cpu0 dst_cpu0 deadline
	dm_cpu0=$(cpu "$DMPID")
	dst_cpu0=$(cpu "${MPID[dmdst]}")
	perf_start dmkit-incr "${MPID[dmdst]}" "$DMPID"
	catch_up bench-incr "dmkit incremental" "$WORK/dm-incr.log"
	local dm_s=$CU_S dm_cpu dm_rss dm_dst_cpu dm_events=$CU_EVENTS
	perf_stop dmkit-incr
	dm_cpu=$(cpu_secs "$dm_cpu0" "$(cpu "$DMPID")")
	dm_dst_cpu=$(cpu_secs "$dst_cpu0" "$(cpu "${MPID[dmdst]}")")
	dm_rss=$(hwm_mb "$DMPID")
	log "dmkit: caught up in $dm_s s ($dm_events events), dm-server CPU $dm_cpu s, target mariadbd CPU $dm_dst_cpu s, peak RSS $dm_rss MiB"
	[ "$INCR_ORDER" != dmkit-first ] || run_natives
	local b_line=""
	if [ -n "$b_dst" ]; then
		incr_dmkit_b "$incr_conf"
		b_line=$(printf '%-56s %9s %10s %12s %s' "dmkit B ($DM_BIN_B)" "$B_S" "$(calc "$txns / $B_S" | cut -d. -f1)" \
			"$(calc "$mb / $B_S")" "$B_CPU | $B_DST_CPU, $B_RSS MiB")
	fi
	verify "${natnames[@]}" dmdst

	local relay_lines=()
	[ "$RELAY" = 1 ] && relay_catchup "$incr_conf" "$dm_s"

	local lag_line=()
	if [ "$LAG" = 1 ]; then
		for r in "${natnames[@]}"; do sql "$r" "STOP SLAVE"; done
		if [ "$LAG_RATE" = auto ]; then
			# The highest rate the native serial replica sustains: its catch-up rate.
			# Capped at half the source's unthrottled backlog rate: on a small machine the
			# source cannot generate more while an applier runs beside it (sysbench --rate
			# then aborts with a full event queue).
			read -r name _ <<<"${NATIVES[0]}"
			local nat_rate src_rate
			nat_rate=$(calc "$txns / ${NAT_T[$name]}" | cut -d. -f1)
			src_rate=$(calc "$txns / $DURATION / 2" | cut -d. -f1)
			LAG_RATE=$((nat_rate < src_rate ? nat_rate : src_rate))
			LAG_RATE=$((LAG_RATE / BACKLOG_THREADS * BACKLOG_THREADS))
			log "LAG_RATE=auto: $LAG_RATE tps (catch-up rate of $name $nat_rate tps, half the source's backlog rate $src_rate tps)"
		fi
		log "steady-state lag: dmkit, sysbench --rate=$LAG_RATE for $LAG_SECONDS s"
		local bsamples="$WORK/lag-dm.behind"
		(while kill -0 "$DMPID" 2>/dev/null; do
			curl -s "$API/tasks/bench-incr/status" | python3 "$STATUS_PY" | cut -f9
			sleep 1
		done >"$bsamples") &
		local sampler=$!
		PIDS+=("$sampler")
		heartbeat_lag dmdst "$LAG_SECONDS" "$WORK/lag-dm"
		kill "$sampler" 2>/dev/null || true
		local behind_max
		behind_max=$(sort -n "$bsamples" | tail -1)
		read -r p50 p99 pmax <<<"$LAG_STATS"
		tsv lag_dmkit_p99 "$p99"
		tsv lag_dmkit_tps "$LAG_TPS"
		lag_line+=("$(printf '%-34s %8s %8s %8s %8s %s' 'dmkit incremental' "$LAG_TPS" "$p50" "$p99" "$pmax" \
			"max seconds_behind_master ${behind_max:-?}")")
		deadline=$(($(date +%s) + STEP_TIMEOUT))
		local ef ep
		read -r ef ep _ < <(sql src "SHOW MASTER STATUS")
		while :; do
			task_status bench-incr
			if [ "$ST_SYNCED" = true ] && [ "$ST_SFILE" = "$ef" ] && [ "$ST_SPOS" -ge "$ep" ]; then break; fi
			[ "$ST_STAGE" = Paused ] && die "dmkit incremental task paused: $ST_ERR"
			[ "$(date +%s)" -lt "$deadline" ] || die "dmkit did not catch up after the lag load"
			sleep 0.2
		done
		verify dmdst
		api POST /tasks/bench-incr/stop

		local r label
		for r in "${natnames[@]:0:2}"; do
			label="native serial"
			[ "${r#rpar}" != "$r" ] && label="native parallel ($PAR_THREADS, $PAR_MODE)"
			[ "${r%_nolsu}" != "$r" ] && label+=", no log_slave_updates"
			log "steady-state lag: $label, same load"
			sql "$r" "START SLAVE"
			sql "$r" "SELECT MASTER_POS_WAIT('$ef', $ep, $STEP_TIMEOUT)" >/dev/null
			heartbeat_lag "$r" "$LAG_SECONDS" "$WORK/lag-$r"
			read -r p50 p99 pmax <<<"$LAG_STATS"
			lag_line+=("$(printf '%-34s %8s %8s %8s %8s' "$label" "$LAG_TPS" "$p50" "$p99" "$pmax")")
			read -r ef ep _ < <(sql src "SHOW MASTER STATUS")
			sql "$r" "SELECT MASTER_POS_WAIT('$ef', $ep, $STEP_TIMEOUT)" >/dev/null
			sql "$r" "STOP SLAVE"
			verify "$r"
		done
	fi
	stop_dm

	sum_line "== incr: backlog of $DURATION s oltp_write_only x $BACKLOG_THREADS threads on $TABLES x $TABLE_SIZE rows: $txns transactions, $mb MiB binlog"
	sum_line "$(printf '%-56s %9s %10s %12s %s' 'catch-up' 'wall s' 'txn/s' 'binlog MiB/s' 'CPU s (applier | target mariadbd), peak RSS')"
	for n in "${NATIVES[@]}"; do
		read -r name thr lsu label <<<"$n"
		sum_line "$(printf '%-56s %9s %10s %12s %s' "$label" "${NAT_T[$name]}" "$(calc "$txns / ${NAT_T[$name]}" | cut -d. -f1)" \
			"$(calc "$mb / ${NAT_T[$name]}")" "- | ${NAT_C[$name]}")"
	done
	sum_line "$(printf '%-56s %9s %10s %12s %s' 'dmkit incremental (dm-server)' "$dm_s" \
		"$(calc "$txns / $dm_s" | cut -d. -f1)" "$(calc "$mb / $dm_s")" "$dm_cpu | $dm_dst_cpu, $dm_rss MiB")"
	if [ -n "$b_line" ]; then
		sum_line "$b_line"
		sum_line "dmkit B/A on the same backlog: $(calc "$B_S / $dm_s") (B: $DM_BIN_B, run after A)"
		tsv incr_b_s "$B_S"
	fi
	sum_line "dmkit binlog events applied: $dm_events ($(calc "$dm_events / $dm_s" | cut -d. -f1) events/s); order $INCR_ORDER; durability $DURABILITY"
	tsv incr_dmkit_s "$dm_s"
	tsv incr_dmkit_rss "$dm_rss"
	tsv incr_dmkit_cpu "$dm_cpu"
	tsv incr_dmkit_dst_cpu "$dm_dst_cpu"
	tsv incr_txns "$txns"
	for n in "${NATIVES[@]}"; do
		read -r name thr lsu label <<<"$n"
		sum_line "ratio dmkit / $label: $(calc "$dm_s / ${NAT_T[$name]}") (goal <= $([ "$thr" = 0 ] && echo 0.80 || echo 1.00))"
		tsv "incr_${name}_s" "${NAT_T[$name]}"
		tsv "incr_${name}_cpu" "${NAT_C[$name]}"
	done
	sum_line "targets verified identical to the source (row counts + CHECKSUM TABLE)"
	for r in "${relay_lines[@]}"; do sum_line "$r"; done
	if [ ${#lag_line[@]} -gt 0 ]; then
		tsv lag_rate "$LAG_RATE"
		sum_line "steady-state lag under sysbench oltp_write_only --rate=$LAG_RATE x $BACKLOG_THREADS threads for $LAG_SECONDS s, one applier at a time"
		sum_line "(heartbeat row written every 50 ms on the source, NOW(6) - heartbeat read every 100 ms on the target), ms:"
		sum_line "$(printf '%-34s %8s %8s %8s %8s' 'applier' 'src tps' 'p50' 'p99' 'max')"
		for r in "${lag_line[@]}"; do sum_line "$r"; done
	fi
}

# ---------------------------------------------------------------------------- matrix
# bench_matrix: every PROFILES x mode combination, REPEAT runs each (full: one invocation
# alternating the contenders inside; incr: REPEAT invocations, the profiles interleaved and
# the applier order alternating), each a fresh run of this script; then one table of
# every combination's ratios (medians of the per-run ratios, each ratio from one run).
bench_matrix() {
	local dir="$WORK/matrix" prof mode rep order rc=0
	mkdir -p "$dir"
	for mode in $MATRIX_MODES; do
		case "$mode" in
		full)
			for prof in $PROFILES; do
				log "matrix: full, durability $prof, $REPEAT alternating runs"
				DURABILITY=$prof REPEAT=$REPEAT TSV_OUT="$dir/$prof-full-1.tsv" KEEP=0 RESULTS="" "$ROOT/scripts/bench.sh" full \
					>"$dir/$prof-full.out" 2>"$dir/$prof-full.err" || rc=$?
				cat "$dir/$prof-full.out"
				[ "$rc" = 0 ] || { tail -20 "$dir/$prof-full.err" >&2; die "matrix: full ($prof) failed"; }
			done
			;;
		incr)
			for ((rep = 1; rep <= REPEAT; rep++)); do
				order=native-first
				((rep % 2)) || order=dmkit-first
				for prof in $PROFILES; do
					log "matrix: incr, durability $prof, run $rep of $REPEAT ($order)"
					DURABILITY=$prof INCR_ORDER=$order TSV_OUT="$dir/$prof-incr-$rep.tsv" KEEP=0 RESULTS="" RELAY=0 \
						LAG="${MATRIX_LAG:-0}" "$ROOT/scripts/bench.sh" incr >"$dir/$prof-incr-$rep.out" 2>"$dir/$prof-incr-$rep.err" || rc=$?
					cat "$dir/$prof-incr-$rep.out"
					[ "$rc" = 0 ] || { tail -20 "$dir/$prof-incr-$rep.err" >&2; die "matrix: incr ($prof, run $rep) failed"; }
				done
			done
			;;
		*) die "MATRIX_MODES: unknown mode $mode (full, incr)" ;;
		esac
	done
	while IFS= read -r line; do sum_line "$line"; done < <(python3 "$ROOT/scripts/bench/matrix.py" "$dir" "$PAR_THREADS" "$PAR_MODE")
}

# ---------------------------------------------------------------------------- main
install_deps
log "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $($MARIADBD --version | cut -d' ' -f2-4); $(mydumper --version 2>&1 | head -1); $(sysbench --version)"
log "work dir $WORK"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
case "$MODE" in
full) bench_full ;;
incr) bench_incr ;;
verify) bench_verify ;;
validate) bench_validate ;;
matrix)
	PROFILES=${PROFILES:-default relaxed}
	MATRIX_MODES=${MATRIX_MODES:-full incr}
	REPEAT=${REPEAT_ENV:-3}
	bench_matrix
	;;
all)
	bench_full
	stop_all
	rm -rf "${WORK:?}"/*
	bench_incr
	;;
esac

{
	echo
	echo "==================== dmkit benchmark summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores) ===================="
	printf '%s\n' "${SUMMARY[@]}"
	echo "load average (1, 5, 15 min): before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee ${RESULTS:+-a "$RESULTS"}
