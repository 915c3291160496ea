#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests on 127.0.0.1 and print its URL.
# Reuses a running one. The cluster lives under /tmp and belongs to user postgres.
set -euo pipefail
port="${TIKGUARD_TEST_PG_PORT:-54329}"
dir="/tmp/tikguard-test-pg"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[ -n "$bin" ] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
url="postgresql+psycopg://tikguard:tikguard@127.0.0.1:$port/tikguard_test"
run() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if ! run "$bin/pg_ctl -D $dir status" >/dev/null 2>&1; then
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    run "$bin/initdb -D $dir -U postgres --auth=trust -E UTF8" >/dev/null
  fi
  run "$bin/pg_ctl -D $dir -l $dir/server.log -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off' -w start" >/dev/null
fi
psql_() { run "$bin/psql -h $dir -p $port -U postgres -v ON_ERROR_STOP=1 -qAt -c \"$1\""; }
psql_ "SELECT 1 FROM pg_roles WHERE rolname='tikguard'" | grep -q 1 || psql_ "CREATE ROLE tikguard LOGIN PASSWORD 'tikguard' CREATEDB"
# The tests drop their throwaway databases WITH (FORCE); that may have to end a
# backend of another role (an autovacuum worker visiting the database).
psql_ "GRANT pg_signal_backend TO tikguard" >/dev/null
psql_ "SELECT 1 FROM pg_database WHERE datname='tikguard_test'" | grep -q 1 || psql_ "CREATE DATABASE tikguard_test OWNER tikguard"
echo "$url"
