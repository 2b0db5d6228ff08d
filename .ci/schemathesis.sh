#!/usr/bin/env bash
# The API as a client developer meets it: schemathesis (pinned below, installed into a
# virtualenv that is reused between runs) against /api/openapi.json of a real
# `shopdb serve` on a fresh SQLite database with all six bundled plugins installed and an
# admin API token. All checks, all operations, the stateful phase included; any failure
# fails the run. What the run allows and why: docs/API-CHECKS.md.
#
#   .ci/schemathesis.sh                      the CI run (a few minutes)
#   MAX_EXAMPLES=60 .ci/schemathesis.sh      the long run (over 10,000 cases)
#   PROFILE=release                          test a release build instead of a debug one
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

SCHEMATHESIS_VERSION=4.32.5
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopdb-target}"
venv="${SHOPDB_VENV:-$HOME/.cache/shopdb-venv}"
max_examples="${MAX_EXAMPLES:-10}"
profile="${PROFILE:-debug}"

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "schemathesis: installing $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ "$profile" = release ]; then
  cargo build -q --release --bin shopdb
else
  cargo build -q --bin shopdb
fi
shopdb="$CARGO_TARGET_DIR/$profile/shopdb"

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ "${KEEP:-}" = "" ]; then rm -rf "$work"; else echo "schemathesis: kept $work"; fi
}
trap cleanup EXIT
cd "$work"
export DATABASE_URL="sqlite://$work/shopdb.sqlite" SHOPDB_ENV=development SHOPDB_LOG=warn
unset COOKIE_SECURE CORS_ORIGINS
"$shopdb" db upgrade >/dev/null
for plugin in computers equipment network printers usb notifications; do
  "$shopdb" plugin install "$plugin" >/dev/null
done
# A small plant, so references such as assettypeid=1 or locationid=1 exist.
"$shopdb" demo-data --assets 20 >/dev/null 2>&1
token=$("$shopdb" token create --name schemathesis --role admin 2>"$work/token.err")
token_id=$(sed -n 's/^token \([0-9]*\) created.*/\1/p' "$work/token.err")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$shopdb" serve --bind "127.0.0.1:$port" >"$work/server.out" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  if "$shopdb" healthcheck --url "http://127.0.0.1:$port" >/dev/null 2>&1; then break; fi
  sleep 0.2
done

cd "$root"
export SHOPDB_RUN_TOKEN_ID="$token_id"
status=0
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$root/.ci" "$venv/bin/st" \
  --config-file "$root/.ci/schemathesis.toml" run \
  "http://127.0.0.1:$port/api/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --seed "${SEED:-14}" \
  --workers 2 \
  --report junit --report-dir "$work/report" \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "schemathesis: failed; server log:" >&2
  tail -n 50 "$work/server.log" >&2 || true
fi
exit "$status"
