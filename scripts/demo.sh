#!/usr/bin/env bash
# dmkit demo: starts a throwaway source and target MariaDB and dm-server, then walks the
# main OpenAPI operations with curl, printing each request and answer. Everything lives in
# a temp dir and is removed on exit (the server log is copied out). Usage: scripts/demo.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >/dev/null

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
WORK=$(mktemp -d /tmp/dmkit-demo.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
USER_FLAG=()
[ "$(id -u)" = 0 ] && USER_FLAG=(--user=root)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_mariadb NAME SERVER_ID → sets PORT_<NAME>
start_mariadb() {
	local name=$1 id=$2 dir="$WORK/$1" port
	port=$(free_port)
	mkdir -p "$dir"
	mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
		--skip-test-db "${USER_FLAG[@]}" >"$dir/install.log" 2>&1
	"$MARIADBD" --no-defaults --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
		--bind-address=127.0.0.1 --log-error="$dir/error.log" --pid-file="$dir/pid" \
		--server-id="$id" --log-bin="$dir/data/mysql-bin" --binlog-format=ROW --binlog-row-image=FULL \
		--innodb-buffer-pool-size=32M --skip-name-resolve \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci "${USER_FLAG[@]}" &
	PIDS+=($!)
	for _ in $(seq 1 120); do
		mariadb --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
		sleep 0.5
	done
	mariadb --socket="$dir/sock" -uroot -e "SET sql_log_bin=0; CREATE USER 'dmkit'@'%' IDENTIFIED BY 'dmkit'; GRANT ALL ON *.* TO 'dmkit'@'%' WITH GRANT OPTION;"
	eval "PORT_$name=$port"
	eval "SOCK_$name=$dir/sock"
}

echo "==> starting source and target MariaDB"
start_mariadb src 101
start_mariadb dst 102
echo "    source 127.0.0.1:$PORT_src, target 127.0.0.1:$PORT_dst (user dmkit / dmkit)"

mariadb --default-character-set=utf8mb4 --socket="$SOCK_src" -uroot -e "
CREATE DATABASE shop;
CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80) UNIQUE);
CREATE TABLE shop.orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer_id INT, amount DECIMAL(10,2), note TEXT);
INSERT INTO shop.customers VALUES (1,'Ada','ada@example.com'),(2,'Grace','grace@example.com'),(3,'Linus','linus@example.com');
INSERT INTO shop.orders (customer_id, amount, note) VALUES (1, 12.50, 'first 🚀'), (2, 99.99, NULL), (3, 7.00, 'it''s fine');"

echo "==> building and starting dm-server"
go build -o "$WORK/dm-server" ./cmd/dm-server
API_PORT=$(free_port)
API="http://127.0.0.1:$API_PORT/api/v1"
"$WORK/dm-server" --listen "127.0.0.1:$API_PORT" --data-dir "$WORK/dm-data" --workers 2 >"$WORK/dm-server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fs "$API/cluster/masters" >/dev/null 2>&1 && break; sleep 0.2; done

call() {
	local method=$1 path=$2 body=${3:-}
	echo
	echo "\$ curl -X $method $API$path${body:+ -d '…'}"
	if [ -n "$body" ]; then
		curl -sS -X "$method" "$API$path" -H 'Content-Type: application/json' -d "$body" -w '\n[HTTP %{http_code}]\n'
	else
		curl -sS -X "$method" "$API$path" -w '\n[HTTP %{http_code}]\n'
	fi
}

call GET /cluster/masters
call GET /cluster/workers
call POST /sources "{\"source_name\":\"mysql-01\",\"host\":\"127.0.0.1\",\"port\":$PORT_src,\"user\":\"dmkit\",\"password\":\"dmkit\",\"enable\":true,\"enable_gtid\":false}"
call GET '/sources/mysql-01?with_status=true'
call GET /sources/mysql-01/schemas
call GET /sources/mysql-01/schemas/shop
call POST /tasks "{\"task\":{\"name\":\"task-1\",\"task_mode\":\"all\",\"meta_schema\":\"dm_meta\",\"on_duplicate\":\"replace\",
  \"target_config\":{\"host\":\"127.0.0.1\",\"port\":$PORT_dst,\"user\":\"dmkit\",\"password\":\"dmkit\"},
  \"table_migrate_rule\":[{\"source\":{\"source_name\":\"mysql-01\",\"schema\":\"shop\",\"table\":\"*\"}}],
  \"source_config\":{\"full_migrate_conf\":{\"export_threads\":4,\"import_threads\":4,\"data_dir\":\"dump\"},
  \"source_conf\":[{\"source_name\":\"mysql-01\"}]}}}"
call GET /tasks/task-1/sources/mysql-01/migrate_targets
call GET /tasks/task-1/sources/mysql-01/schemas/shop/customers
call POST /tasks/task-1/start
echo
echo "==> waiting for the full copy to finish and replication to start"
for _ in $(seq 1 120); do
	st=$(curl -s "$API/tasks/task-1/status")
	case "$st" in *'"unit": "Sync"'*) break ;; *'"stage": "Paused"'*) echo "$st"; exit 1 ;; esac
	sleep 0.5
done
call GET /tasks/task-1/status

show() {
	for t in customers orders; do
		echo "-- shop.$t on the $1:"
		mariadb --default-character-set=utf8mb4 --socket="$2" -uroot -t -e "SELECT * FROM shop.$t ORDER BY id; CHECKSUM TABLE shop.$t;"
	done
}
echo
echo "==> after the full copy: source and target side by side"
show source "$SOCK_src"
show target "$SOCK_dst"

echo
echo "==> live replication: writing to the source"
mariadb --default-character-set=utf8mb4 --socket="$SOCK_src" -uroot -e "
INSERT INTO shop.customers VALUES (4,'Barbara','barbara@example.com');
UPDATE shop.orders SET amount = amount * 2 WHERE customer_id = 1;
DELETE FROM shop.orders WHERE customer_id = 2;
ALTER TABLE shop.orders ADD COLUMN shipped BOOLEAN DEFAULT FALSE;
INSERT INTO shop.orders (customer_id, amount, note, shipped) VALUES (4, 42.00, 'replicated live', TRUE);"
for _ in $(seq 1 60); do
	a=$(mariadb --socket="$SOCK_src" -uroot -N -e "CHECKSUM TABLE shop.orders" | awk '{print $2}')
	b=$(mariadb --socket="$SOCK_dst" -uroot -N -e "CHECKSUM TABLE shop.orders" 2>/dev/null | awk '{print $2}')
	[ "$a" = "$b" ] && break
	sleep 0.25
done
show source "$SOCK_src"
show target "$SOCK_dst"
call GET /tasks/task-1/status
call GET '/tasks?with_status=true'

call POST /tasks/task-1/stop
call DELETE '/tasks/task-1?force=true'
call DELETE /sources/mysql-01
# The work dir is removed on exit: keep the server log where the last line says it is.
LOG_KEPT="${TMPDIR:-/tmp}/dmkit-demo-server.log"
cp "$WORK/dm-server.log" "$LOG_KEPT"
echo
echo "==> done (dm-server log: $LOG_KEPT)"
