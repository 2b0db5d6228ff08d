#!/usr/bin/env bash
# Backup and restore benchmark: fills a fresh SQLite database with every bundled plugin and
# BENCH_ASSETS demo assets (a plant with bays and floor plans, PCs with their software,
# machines, network gear, subnets, printers, USB loans; each record audited and indexed as
# the API would), then times `shopdb backup` of it and `shopdb restore` of the archive into a
# new SQLite database (and, with BENCH_RESTORE_URL, into that server as well), with the peak
# memory of each. Prints a markdown summary.
#
# Not a test: loading the demo data takes minutes.
#
# Environment (all optional):
#   CARGO_TARGET_DIR    build directory (default $HOME/.cache/shopdb-target)
#   BENCH_PROFILE       release (default) or debug
#   BENCH_SKIP_BUILD=1  use the existing binary as is
#   BENCH_ASSETS        demo assets (default 100000)
#   BENCH_SOURCE        an existing SQLite file to back up (in place) instead of loading demo data
#   BENCH_RESTORE_URL   also restore into this server, e.g. mysql://root@127.0.0.1:3306 or
#                       postgres://postgres@127.0.0.1:5432 (database shopdbrestore, made afresh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopdb-target}"
PROFILE="${BENCH_PROFILE:-release}"
ASSETS="${BENCH_ASSETS:-100000}"
TARGET_SECS=30

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building the $PROFILE binary"
    if [ "$PROFILE" = release ]; then
        (cd "$ROOT" && cargo build --release -p shopdb)
    else
        (cd "$ROOT" && cargo build -p shopdb)
    fi
fi
BIN="$CARGO_TARGET_DIR/$PROFILE/shopdb"
[ -x "$BIN" ] || die "no binary at $BIN"

TMP="$(mktemp -d -t shopdb-backup-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
export SECRET_KEY="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SHOPDB_LOG=warn
unset SHOPDB_ENV 2>/dev/null || true

# Runs the binary under /usr/bin/time; prints "seconds peak-MB".
timed() {
    /usr/bin/time -f '%e %M' -o "$TMP/time" "$BIN" "$@" >"$TMP/out" 2>"$TMP/err" ||
        { cat "$TMP/err" >&2; die "shopdb $* failed"; }
    read -r secs kb <"$TMP/time"
    echo "$secs $((kb / 1024))"
}

SOURCE="$TMP/source.sqlite"
if [ -n "${BENCH_SOURCE:-}" ]; then
    # Backed up in place (a backup only reads); a copy with cp could miss the -wal file.
    SOURCE="$(cd "$(dirname "$BENCH_SOURCE")" && pwd)/$(basename "$BENCH_SOURCE")"
    export DATABASE_URL="sqlite://$SOURCE"
else
    export DATABASE_URL="sqlite://$TMP/source.sqlite"
    for plugin in computers network equipment printers usb notifications; do
        "$BIN" plugin install "$plugin" >/dev/null
    done
    log "loading $ASSETS demo assets"
    "$BIN" demo-data --assets "$ASSETS" >/dev/null
fi
rows=$(sqlite3 "$SOURCE" "SELECT (SELECT COUNT(*) FROM assets) || ' assets'" 2>/dev/null || echo "?")

log "backup"
read -r backup_secs backup_mb < <(timed backup "$TMP/site.zip")
summary=$(cat "$TMP/out")
archive_mb=$(( $(stat -c %s "$TMP/site.zip") / 1024 / 1024 ))

log "restore into SQLite"
export DATABASE_URL="sqlite://$TMP/restored.sqlite"
read -r restore_secs restore_mb < <(timed restore "$TMP/site.zip")

server_line=""
if [ -n "${BENCH_RESTORE_URL:-}" ]; then
    server="${BENCH_RESTORE_URL%/}"
    case "$server" in
        mysql://*|mariadb://*)
            hostport="${server#*@}"; host="${hostport%%:*}"; port="${hostport##*:}"
            [ "$port" = "$hostport" ] && port=3306
            mysql -h "$host" -P "$port" -u root -e "DROP DATABASE IF EXISTS shopdbrestore; CREATE DATABASE shopdbrestore" ;;
        postgres://*|postgresql://*)
            psql "$server/postgres" -qc "DROP DATABASE IF EXISTS shopdbrestore WITH (FORCE)" -c "CREATE DATABASE shopdbrestore" ;;
        *) die "BENCH_RESTORE_URL must be mysql:// or postgres://" ;;
    esac
    log "restore into ${server%%:*}"
    export DATABASE_URL="$server/shopdbrestore"
    read -r server_secs server_mb < <(timed restore "$TMP/site.zip")
    server_line="| restore into ${server%%:*} | ${server_secs} s | ${server_mb} MB |"
fi

verdict() { awk -v s="$1" -v t="$TARGET_SECS" 'BEGIN { print (s <= t) ? "met" : "MISSED" }'; }
cat <<EOF

### Backup and restore ($PROFILE build, $(nproc) cores, SQLite source with $rows)

$summary; archive ${archive_mb} MB

| step | time | peak memory |
|---|---|---|
| backup | ${backup_secs} s ($(verdict "$backup_secs") <= ${TARGET_SECS} s) | ${backup_mb} MB |
| restore into SQLite | ${restore_secs} s ($(verdict "$restore_secs") <= ${TARGET_SECS} s) | ${restore_mb} MB |
$server_line
EOF
