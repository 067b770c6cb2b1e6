#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benchmarks: 127.0.0.1, a non-default port, data in
# a temporary folder. initdb refuses to run as root, so the cluster belongs to the postgres user.
#
#   scripts/postgres.sh start DIR [PORT]   prints the store URL (postgres://chute@127.0.0.1:PORT/chute);
#                                          PORT defaults to the first free one from 54329
#   scripts/postgres.sh stop DIR
set -euo pipefail
command="${1:?usage: postgres.sh start|stop DIR [PORT]}"
dir="${2:?usage: postgres.sh start|stop DIR [PORT]}"
# The first free port from 54329 unless one is given.
port="${3:-$(python3 -c '
import socket
for port in range(54329, 54400):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port)); print(port); break
        except OSError:
            pass
')}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL server binaries not found (apt install postgresql)" >&2; exit 1; }
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$command" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U chute --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U chute chute
    echo "postgres://chute@127.0.0.1:$port/chute"
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    ;;
  *) echo "postgres.sh: unknown command $command" >&2; exit 1 ;;
esac
