# Sourced by integration tests that need a PostgreSQL server of their own:
#   pg_start WORKDIR [PREFIX...]   initdb into WORKDIR/pg and start a server on
#                                  a free port of 127.0.0.1; PREFIX (e.g.
#                                  `ip netns exec NS`) runs it elsewhere.
#                                  Sets PG_URL (database sipman, user sipman).
#                                  Also exports PG_CTL (a shell-quoted pg_ctl
#                                  command line for this server, run as its
#                                  owner) and PG_START_ARGS (pg_ctl's arguments
#                                  that start it again), for tests that stop
#                                  and restart the server themselves.
#   pg_stop                        stops it (safe to call twice, or unstarted).
# As root the server runs as the postgres user (initdb refuses root). The
# caller's `skip` function is called when no server binaries are found.
# Debian's postgresql package installs them (scripts/bootstrap).
pg_started=0
pg_prefix=()
pg_as=()
pg_dir=""

pg_find_bin() {
  pgbin=${SIPMAN_PG_BIN:-}
  if [ -z "$pgbin" ]; then
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pgbin=$d; done
  fi
  [ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] ||
    skip "PostgreSQL server binaries not found (Debian's postgresql, or SIPMAN_PG_BIN)"
}

pg_start() {
  local work=$1
  shift
  pg_prefix=("$@")
  pg_find_bin
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || skip "running as root and no postgres user for initdb"
    pg_as=(runuser -u postgres --)
  fi
  pg_dir=$work/pg
  mkdir -p "$pg_dir"
  [ ${#pg_as[@]} -eq 0 ] || chown postgres "$pg_dir"
  chmod 755 "$work"
  local port
  port=$("${pg_prefix[@]}" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${pg_as[@]}" "$pgbin/initdb" -D "$pg_dir/data" -A trust -U sipman -E UTF8 --no-locale \
    --no-sync --no-instructions >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log"; echo "FAIL: initdb"; exit 1; }
  pg_started=1
  local start_args=(-l "$pg_dir/server.log" -w -t 60
                    -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start)
  "${pg_prefix[@]}" "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pg_dir/data" "${start_args[@]}" >/dev/null ||
    { cat "$pg_dir/server.log"; echo "FAIL: pg_ctl start"; exit 1; }
  PG_CTL=$(printf '%q ' "${pg_prefix[@]}" "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pg_dir/data")
  PG_START_ARGS=$(printf '%q ' "${start_args[@]}")
  export PG_CTL PG_START_ARGS
  "${pg_prefix[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U sipman sipman
  PG_URL="postgresql://sipman@127.0.0.1:$port/sipman"
}

pg_stop() {
  if [ "$pg_started" = 1 ]; then
    "${pg_prefix[@]}" "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop \
      >/dev/null 2>&1 || true
    pg_started=0
  fi
}
