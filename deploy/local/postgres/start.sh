#!/usr/bin/env bash
# Runs the local PostgreSQL 15 in the foreground (process-compose supervises it; SIGINT is its
# fast shutdown). Data in .stack/postgres, unix socket in .stack/postgres-socket (so it never
# clashes with a system PostgreSQL; both move to /var/tmp when the postgres OS user cannot reach
# .stack/), TCP on 127.0.0.1:$POSTGRES_PORT with password auth only.
# First start only (like the postgres Docker image): initdb, then create POSTGRES_USER and
# POSTGRES_DB from stack.env on a socket-only temporary server. initdb refuses root, so as root
# everything runs as the `postgres` OS user; setpriv execs (no runuser parent in between), so the
# supervisor's signals reach the postmaster itself.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# Port and credentials from stack.env, each unless already set: a test runs a private server of
# its own with a STACK_DIR and POSTGRES_PORT of its choosing (tests/e2e/conftest.py).
while IFS='=' read -r key value; do
  [ -n "${!key+set}" ] || declare "$key=$value"
done < <(grep -E '^[A-Z_]+=' "$ROOT/deploy/local/stack.env")
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
PG_BIN=/usr/lib/postgresql/15/bin
DATA="$STACK_DIR/postgres"
SOCK="$STACK_DIR/postgres-socket"

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
own() { [ "$(id -u)" -ne 0 ] || chown postgres: "$@"; }

mkdir -p "$STACK_DIR"
if ! "${as_owner[@]}" test -x "$STACK_DIR"; then
  # The postgres OS user cannot traverse the checkout (a clone under a 0700 mktemp dir or /root):
  # its data and socket live in a folder of its own instead, linked from .stack/postgres-home
  # (`stack.sh reset` wipes it too). Keyed by the stack's path, so two checkouts never share it.
  home="/var/tmp/polystream-postgres-$(printf %s "$STACK_DIR" | sha256sum | cut -c1-12)"
  mkdir -p "$home" && own "$home" && chmod 700 "$home"
  ln -sfn "$home" "$STACK_DIR/postgres-home"
  DATA="$home/data" SOCK="$home/socket"
fi
mkdir -p "$SOCK" && own "$SOCK"
if ! "${as_owner[@]}" test -x "$SOCK"; then
  echo "postgres: the postgres OS user cannot reach $SOCK" >&2
  exit 1
fi
if [ ! -f "$DATA/PG_VERSION" ]; then
  # Build in a scratch dir and move it in place only when complete: a failed first start retries.
  init="$DATA.init"
  rm -rf "$init" && mkdir -p "$init" && own "$init" && chmod 700 "$init"
  "${as_owner[@]}" "$PG_BIN/initdb" -D "$init" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256
  "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$init" -w -l "$init/setup.log" start \
    -o "-c listen_addresses='' -c unix_socket_directories='$SOCK' -p $POSTGRES_PORT"
  "${as_owner[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$POSTGRES_PORT" \
    -U postgres -d postgres -v user="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" \
    -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"user" LOGIN SUPERUSER PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
  "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$init" -w -m fast stop
  rm -f "$init/setup.log"
  mv "$init" "$DATA"
fi

exec "${as_owner[@]}" "$PG_BIN/postgres" -D "$DATA" -p "$POSTGRES_PORT" \
  -c listen_addresses=127.0.0.1 -c unix_socket_directories="$SOCK" \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
