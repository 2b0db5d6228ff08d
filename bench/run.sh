#!/usr/bin/env bash
# ShopDB HTTP benchmark: builds the release binary and loads a site shaped like a plant
# group's central instance into a fresh database: demo assets, every bundled plugin, and
# computers created through the collector the way inventory scripts push them (host names
# WJ-PC-nnnnnn with serial, MAC, IP, OS and user). Then it measures collectors (bench/
# collector.py: 16 at once, 100-record batches, mixed / all new / all changed / as the
# shipped scripts send), search, the asset list and detail, the web pages (wrk), and the
# server's peak memory. Prints a markdown summary at the end.
#
# Not a test: it takes several minutes and the figures depend on the machine.
#
# BENCH_SCOPE=soak builds the same site, then, instead of the measurements, runs bench/
# soak.py: a steady mix of lists, details, searches and collector batches at twice a
# nominal site's load for SOAK_SECS (600) seconds, every answer checked and the server's
# memory sampled; it prints per-minute figures and a verdict, and exits 1 when it fails.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   build directory (default $HOME/.cache/shopdb-target)
#   BENCH_DATABASE_URL a MySQL/MariaDB or PostgreSQL server URL *without* a database name
#                      (mysql://root@127.0.0.1:3306, postgres://postgres@127.0.0.1:5432):
#                      the database shopdbbench is made there afresh; default: SQLite
#                      in a temporary folder
#   BENCH_SCOPE        full (default), collector-search (collectors and search only) or
#                      create (creating the computers and the one-batch timings only) or
#                      soak (see above)
#   SOAK_SECS          soak duration in seconds (default 600); SOAK_ARGS: more soak.py options
#   BENCH_ASSETS       demo assets to load        (default 50000)
#   BENCH_COMPUTERS    computers the collector creates (default 50000)
#   BENCH_PORT         first port to try          (default 5099)
#   BENCH_DURATION     wrk duration per scenario  (default 15s)
#   BENCH_THREADS      wrk threads                (default 2)
#   BENCH_CONNECTIONS  wrk connections            (default 16)
#   BENCH_SKIP_BUILD=1 use the existing release binary as is
#   BENCH_KEEP_DB      SQLite only: copy the database there when the run ends (for profiling)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopdb-target}"
ASSETS="${BENCH_ASSETS:-50000}"
COMPUTERS="${BENCH_COMPUTERS:-50000}"
SCOPE="${BENCH_SCOPE:-full}"
COLLECT_SECS="${BENCH_COLLECT_SECS:-20}"
PORT="${BENCH_PORT:-5099}"
DURATION="${BENCH_DURATION:-15s}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
ADMIN_USER="benchadmin"
ADMIN_PASSWORD="bench-password-$RANDOM-$RANDOM"

# Targets the summary is compared against.
TARGET_LIST_RPS=5000
TARGET_SEARCH_P99_MS=10
TARGET_PAGE_P99_MS=50
TARGET_COLLECT_RPS=5000
TARGET_BATCH_P99_MS=250
TARGET_SINGLE_BATCH_MS=20
TARGET_RSS_MB=40

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- 1. tools -------------------------------------------------------------------------------
need_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $*"
    fi
}
missing=()
for tool in wrk curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    # apt/dpkg chatter goes to stderr so stdout stays the summary.
    need_root apt-get update -qq >&2
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo is required to build (or set BENCH_SKIP_BUILD=1)"
fi

# --- 2. build -------------------------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building release binary (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    build_start=$(date +%s)
    (cd "$ROOT" && cargo build --release -p shopdb)
    BUILD_INFO="$(( $(date +%s) - build_start ))s"
else
    BUILD_INFO="skipped"
fi
BIN="$CARGO_TARGET_DIR/release/shopdb"
[ -x "$BIN" ] || die "no binary at $BIN"

# --- 3. fresh database and server -----------------------------------------------------------
TMP="$(mktemp -d -t shopdb-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "${BENCH_KEEP_DB:-}" ] && [ -f "$TMP/bench.sqlite" ]; then
        cp "$TMP/bench.sqlite" "$BENCH_KEEP_DB" && echo "bench: database kept at $BENCH_KEEP_DB" >&2
        if [ -f "$TMP/bench.sqlite-wal" ]; then cp "$TMP/bench.sqlite-wal" "$BENCH_KEEP_DB-wal"; fi
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run the binary from the temp dir so no .env file of the checkout is picked up.
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    server_url="${BENCH_DATABASE_URL%/}"
    case "$server_url" in
        mysql://*|mariadb://*)
            command -v mysql >/dev/null || die "the mysql client is needed to make the database"
            hostport="${server_url#*@}"; host="${hostport%%:*}"; port="${hostport##*:}"
            [ "$port" = "$hostport" ] && port=3306
            mysql -h "$host" -P "$port" -u root -e "DROP DATABASE IF EXISTS shopdbbench; CREATE DATABASE shopdbbench" ;;
        postgres://*|postgresql://*)
            command -v psql >/dev/null || die "the psql client is needed to make the database"
            psql "$server_url/postgres" -qc "DROP DATABASE IF EXISTS shopdbbench WITH (FORCE)" -c "CREATE DATABASE shopdbbench" ;;
        *) die "BENCH_DATABASE_URL must be mysql:// or postgres://" ;;
    esac
    export DATABASE_URL="$server_url/shopdbbench"
else
    export DATABASE_URL="sqlite://$TMP/bench.sqlite"
fi
DB_KIND="${DATABASE_URL%%:*}"
export SECRET_KEY="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SHOPDB_LOG=warn
unset SHOPDB_ENV SHOPDB_BIND 2>/dev/null || true
cd "$TMP"

log "loading $ASSETS demo assets into $DATABASE_URL"
seed_start=$(date +%s.%N)
"$BIN" demo-data --assets "$ASSETS" >"$TMP/demo.log" 2>&1 || { cat "$TMP/demo.log" >&2; die "demo-data failed"; }
seed_end=$(date +%s.%N)
SEED_SECS=$(awk -v a="$seed_start" -v b="$seed_end" 'BEGIN { printf "%.1f", b - a }')
SEED_RATE=$(awk -v n="$ASSETS" -v s="$SEED_SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
echo "demo-data: $ASSETS assets in ${SEED_SECS}s ($SEED_RATE assets/s)" >&2
for plugin in computers equipment network printers usb notifications; do
    "$BIN" plugin install "$plugin" >/dev/null
done
COLLECTOR_TOKEN=$("$BIN" token create --name inventory-bench --plugin computers 2>/dev/null)

printf '%s' "$ADMIN_PASSWORD" | "$BIN" user create "$ADMIN_USER" --role admin --password-stdin >/dev/null

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
    port_free "$PORT" && break
    PORT=$((PORT + 1))
done
port_free "$PORT" || die "no free port found"
BASE="http://127.0.0.1:$PORT"

log "starting server on $BASE"
"$BIN" serve --bind "127.0.0.1:$PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/api/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "server exited"; }
    sleep 0.1
done
curl -fsS "$BASE/api/health" >/dev/null || { cat "$TMP/server.log" >&2; die "server not healthy"; }

TOKEN=$(curl -fsS -X POST "$BASE/api/auth/login" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg u "$ADMIN_USER" --arg p "$ADMIN_PASSWORD" '{username: $u, password: $p}')" |
    jq -r '.data.token')
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || die "login failed"
AUTH="Authorization: Bearer $TOKEN"

api() { curl -fsS -H "$AUTH" "$BASE$1"; }

# --- 4. collectors: the computers table filled through the collector, then loads on it ----
COLLECT() { python3 "$ROOT/bench/collector.py" --url "$BASE" --token "$COLLECTOR_TOKEN" "$@"; }
if [ "$SCOPE" = soak ]; then
    # The soak's check-ins need every PC as created: no scenario may have changed them.
    log "collector: creating $COMPUTERS computers (500-record batches, 2 at a time)"
    COLLECT --header create --count "$COMPUTERS" --batch 500 --concurrency 2 --window 10000 |
        tee "$TMP/collector.md" >&2
else
    log "collector: creating $COMPUTERS computers (500-record batches, 2 at a time), with one-batch timings at 500 and at $COMPUTERS computers"
    {
        COLLECT --header create --count 500 --batch 500 --concurrency 1 --window 500
        COLLECT changed --concurrency 1 --lo 0 --hi 500 --duration 10
        COLLECT create --start 500 --count $((COMPUTERS - 500)) --batch 500 --concurrency 2 --window 5000
        COLLECT changed --concurrency 1 --duration 10
        [ "$SCOPE" = create ] && exit 0
        COLLECT mixed --concurrency 16 --duration "$COLLECT_SECS"
        COLLECT changed --concurrency 16 --duration "$COLLECT_SECS"
        COLLECT scripts --concurrency 16 --duration "$COLLECT_SECS"
    } | tee "$TMP/collector.md" >&2
    if [ "$SCOPE" = create ]; then
        LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
        echo
        echo "## ShopDB collector creates, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "Commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown). Database: $DB_KIND." \
            "Load average (1/5/15 min) after: $LOAD_AFTER."
        if [ "$DB_KIND" = sqlite ]; then echo "SQLite file: $(du -m "$TMP/bench.sqlite" | cut -f1) MB."; fi
        echo
        cat "$TMP/collector.md"
        exit 0
    fi
fi
# Records of the other plugins, through demo-data with them installed.
"$BIN" demo-data --assets 1000 >>"$TMP/demo.log" 2>&1 || { tail -5 "$TMP/demo.log" >&2; die "demo-data with plugins failed"; }

# Sanity checks: each endpoint answers 200 with the data expected.
TOTAL=$(api "/api/assets?per_page=50&page=1" | jq -r '.meta.total')
[ "$TOTAL" -ge "$ASSETS" ] || die "asset list reports total $TOTAL, expected at least $ASSETS"
api "/api/assets?per_page=50&page=1" | jq -e '.data | length == 50 and (.[0].assettypename != null) and (.[0].statusname != null) and (.[0].locationname != null)' >/dev/null ||
    die "asset list does not carry 50 rows with type/status/location names"
MID_ID=$(api "/api/assets?per_page=1&page=$((TOTAL / 2))" | jq -r '.data[0].assetid')
api "/api/assets/$MID_ID" | jq -e '.data.assetid' >/dev/null || die "asset detail failed"
PAGES=$(( (TOTAL + 49) / 50 ))

# Search terms: parts of collector host names (WJ-PC-000000 …): 'PC-0123' is in the host
# name and asset number of 100 PCs (WJ-PC-012300 … 012399),
# 'PC-04999' in ten, 'PC-09999' in none.
SEARCH_MANY="PC-0123"
SEARCH_FEW="PC-04999"
SEARCH_ONE="PC-09999"   # no PC has it: the cost of looking alone
hits() { api "/api/search?q=$1" | jq '.meta.total'; }
HITS_MANY=$(hits "$SEARCH_MANY")
HITS_FEW=$(hits "$SEARCH_FEW")
HITS_ONE=$(hits "$SEARCH_ONE")
echo "search hits: '$SEARCH_MANY' $HITS_MANY, '$SEARCH_FEW' $HITS_FEW, '$SEARCH_ONE' $HITS_ONE (a page holds 20)" >&2

# --- soak: a steady mixed load for SOAK_SECS instead of the measurements -------------------
if [ "$SCOPE" = soak ]; then
    SOAK_SECS="${SOAK_SECS:-600}"
    db_size() { [ "$DB_KIND" = sqlite ] && du -m "$TMP/bench.sqlite" | cut -f1 || echo "?"; }
    SIZE_BEFORE=$(db_size)
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    log "soak: $SOAK_SECS s at twice the nominal load (bench/soak.py)"
    soak_rc=0
    # shellcheck disable=SC2086  # SOAK_ARGS is a list of options
    python3 "$ROOT/bench/soak.py" --url "$BASE" --token "$TOKEN" --collector-token "$COLLECTOR_TOKEN" \
        --pid "$SERVER_PID" --secs "$SOAK_SECS" --pcs "$COMPUTERS" ${SOAK_ARGS:-} >"$TMP/soak.md" || soak_rc=$?
    LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
    echo
    echo "## ShopDB soak, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo);" \
        "the load generator and the server share it. Load average before: $LOAD_BEFORE; after: $LOAD_AFTER."
    echo "Commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain -- crates plugins Cargo.toml Cargo.lock 2>/dev/null)" ] && echo ' (with uncommitted source changes)')"
    echo "Database: $DB_KIND ($ASSETS demo assets, $COMPUTERS computers through the collector, 1,000 demo assets with every plugin)."
    [ "$DB_KIND" = sqlite ] && echo "SQLite file: $SIZE_BEFORE MB before the soak, $(db_size) MB after."
    echo
    cat "$TMP/soak.md"
    grep -q . "$TMP/server.log" && { echo; echo "Server log (warnings and errors):"; tail -20 "$TMP/server.log" | cut -c1-240 | sed "s/^/    /"; }
    exit "$soak_rc"
fi

# --- 4. measurements ------------------------------------------------------------------------
LUA_DIR="$TMP/lua"
mkdir -p "$LUA_DIR"
cat >"$LUA_DIR/random_page.lua" <<EOF
-- Random page of the asset list: deep pages pay for their OFFSET.
local t = 0
function setup(thread) t = t + 1; thread:set("seed", t) end
function init(args) math.randomseed(os.time() + (seed or 0) * 7919) end
function request()
  return wrk.format(nil, "/api/assets?per_page=50&page=" .. math.random(1, $PAGES))
end
EOF
cat >"$LUA_DIR/random_asset.lua" <<EOF
-- Random asset by id across the whole table.
local t = 0
function setup(thread) t = t + 1; thread:set("seed", t) end
function init(args) math.randomseed(os.time() + (seed or 0) * 7919) end
function request()
  return wrk.format(nil, "/api/assets/" .. math.random(1, $TOTAL))
end
EOF

# wrk latency strings (750.00us, 1.23ms, 1.02s) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else { printf "?" }
    }'
}

RESULTS=()   # "name|url|connections|rps|p50|p99|errors"
measure() {  # name connections path [lua-script]
    local name="$1" conns="$2" path="$3" script="${4:-}" out threads
    threads=$THREADS
    [ "$conns" -lt "$threads" ] && threads=$conns
    local args=(-t"$threads" -c"$conns" -d"$DURATION" --latency -H "$AUTH")
    [ -n "$script" ] && args+=(-s "$LUA_DIR/$script")
    log "$name: wrk -t$threads -c$conns -d$DURATION --latency ${script:+-s $script }$BASE$path"
    out=$(wrk "${args[@]}" "$BASE$path")
    echo "$out" >&2
    local rps p50 p99 non2xx sockerr
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    sockerr=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' <<<"$out")
    local errors="${non2xx:-0}"
    [ -n "$sockerr" ] && errors="$errors; socket: $sockerr"
    local shown="$path"
    case "$script" in
        random_page.lua) shown="/api/assets?per_page=50&page={random 1..$PAGES}" ;;
        random_asset.lua) shown="/api/assets/{random 1..$TOTAL}" ;;
    esac
    RESULTS+=("$name|$shown|$conns|$rps|$p50|$p99|$errors")
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
C=$CONNECTIONS
# Baseline: the cheapest route (one trivial query, no auth) shows what this machine can do at
# all with wrk and the server sharing its CPUs.
measure "search '$SEARCH_MANY' ($HITS_MANY hits)" "$C" "/api/search?q=$SEARCH_MANY"
measure "search '$SEARCH_FEW' ($HITS_FEW hits)" "$C" "/api/search?q=$SEARCH_FEW"
measure "search '$SEARCH_ONE' ($HITS_ONE hits)" "$C" "/api/search?q=$SEARCH_ONE"
PAGE_NAMES=()
if [ "$SCOPE" = full ]; then
    measure "health (baseline)"         "$C" "/api/health"
    measure "list, page 1"              "$C" "/api/assets?per_page=50&page=1"
    measure "list, random page"         "$C" "/api/assets?per_page=50&page=1" random_page.lua
    measure "list, last page"           "$C" "/api/assets?per_page=50&page=$PAGES"
    measure "detail, random id"         "$C" "/api/assets/$MID_ID" random_asset.lua
    measure "detail, fixed id"          "$C" "/api/assets/$MID_ID"
    measure "computer list, page 1"     "$C" "/api/computers?per_page=50&page=1"
    # One connection: the latency of a single request with no queueing behind others.
    measure "list, page 1, 1 conn"      1 "/api/assets?per_page=50&page=1"
    measure "detail, fixed id, 1 conn"  1 "/api/assets/$MID_ID"
    measure "search '$SEARCH_MANY', 1 conn" 1 "/api/search?q=$SEARCH_MANY"
    measure "health, 1 conn"            1 "/api/health"

    # Web pages, rendered on the server: one connection, so latency is the render time.
    BAY_A=$(api "/api/locations?name=Bay%20A" | jq -r '.data[0].locationid')
    page() { # name path
        measure "page: $1" 1 "$2"
        PAGE_NAMES+=("page: $1")
    }
    page "dashboard"                    "/"
    page "asset list"                   "/assets"
    page "asset list, filtered, sorted" "/assets?statusid=1&sort=-assetnumber&q=0421"
    page "asset list, last page"        "/assets?page=$PAGES"
    page "asset detail"                 "/assets/$MID_ID"
    page "computer list"                "/computers"
    page "search results"               "/search?q=$SEARCH_MANY"
    page "floor map, Bay A (1000 markers)" "/map/$BAY_A"
    page "audit log"                    "/admin/audit"
fi
# Last, as it adds computers: collectors reporting only new machines.
python3 "$ROOT/bench/collector.py" --url "$BASE" --token "$COLLECTOR_TOKEN" new --concurrency 16 --duration "$COLLECT_SECS" |
    tee -a "$TMP/collector.md" >&2

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
PEAK_RSS=$(awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$SERVER_PID/status")
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# --- 5. summary -----------------------------------------------------------------------------
get() { # field-index name
    local r
    for r in "${RESULTS[@]}"; do
        [ "${r%%|*}" = "$2" ] && { cut -d'|' -f"$1" <<<"$r"; return; }
    done
}
verdict() { # value op target
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
        ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print (ok ? "met" : "NOT met") }'
}
collector_rate() { # scenario-prefix -> records/s
    awk -F'|' -v want="$1" 'index($2, want) == 2 { gsub(/[ ,]/, "", $5); print $5; exit }' "$TMP/collector.md"
}
collector_p() { # scenario-prefix column -> value
    awk -F'|' -v want="$1" -v col="$2" 'index($2, want) == 2 { gsub(/ /, "", $col); print $col; exit }' "$TMP/collector.md"
}
search_many_p99=$(get 6 "search '$SEARCH_MANY' ($HITS_MANY hits)")
search_few_p99=$(get 6 "search '$SEARCH_FEW' ($HITS_FEW hits)")
search_one_p99=$(get 6 "search '$SEARCH_ONE' ($HITS_ONE hits)")
mixed_rate=$(collector_rate "mixed")
mixed_p99=$(collector_p "mixed" 7)
single_p50=$(awk -F'|' 'index($2, "all changed: one collector") == 2 { v = $6 } END { gsub(/ /, "", v); print v }' "$TMP/collector.md")
create_min=$(awk -F'|' 'index($2, "create, computers") == 2 && $3 + 0 > 1 { gsub(/[ ,]/, "", $5); if (min == "" || $5 + 0 < min + 0) min = $5 } END { print min }' "$TMP/collector.md")
rss_mb=$(awk '{ print $1 }' <<<"$PEAK_RSS")

echo
echo "## ShopDB benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;" \
    "the load generators and the server share the machine."
echo "Commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain -- crates plugins Cargo.toml Cargo.lock 2>/dev/null)" ] && echo ' (with uncommitted source changes)')"
echo "Database: $DB_KIND. Release build: $BUILD_INFO. Demo data: $ASSETS assets in ${SEED_SECS}s ($SEED_RATE assets/s), then $COMPUTERS computers through the collector."
if [ "$DB_KIND" = sqlite ]; then echo "SQLite file: $(du -m "$TMP/bench.sqlite" | cut -f1) MB."; fi
echo "wrk: -t$THREADS -d$DURATION --latency, connections as listed. Server peak RSS (VmHWM): $PEAK_RSS."
echo "Load average (1/5/15 min) before the measurements: $LOAD_BEFORE; after: $LOAD_AFTER" \
    "(anything above ~$(nproc) before they start means other work was competing)."
echo
echo "Collectors (bench/collector.py; each batch checked against the answers expected):"
echo
cat "$TMP/collector.md"
echo
echo "| Scenario | Request | Conns | Req/s | p50 ms | p99 ms | Non-2xx / errors |"
echo "|---|---|---:|---:|---:|---:|---|"
for r in "${RESULTS[@]}"; do
    IFS='|' read -r name path conns rps p50 p99 errors <<<"$r"
    echo "| $name | \`$path\` | $conns | $rps | $p50 | $p99 | $errors |"
done
echo
echo "| Target | Measured | Result |"
echo "|---|---|---|"
echo "| collector, 16 at once, 50 unchanged + 50 changed: >= $TARGET_COLLECT_RPS records/s | $mixed_rate records/s | $(verdict "$mixed_rate" ">=" $TARGET_COLLECT_RPS) |"
echo "| collector, 16 at once: batch p99 <= $TARGET_BATCH_P99_MS ms | $mixed_p99 ms | $(verdict "$mixed_p99" "<=" $TARGET_BATCH_P99_MS) |"
echo "| one batch of 100 changed records alone <= $TARGET_SINGLE_BATCH_MS ms (p50, at $COMPUTERS computers) | $single_p50 ms | $(verdict "$single_p50" "<=" $TARGET_SINGLE_BATCH_MS) |"
echo "| creating $COMPUTERS computers >= $TARGET_COLLECT_RPS records/s throughout (slowest 5,000) | $create_min records/s | $(verdict "$create_min" ">=" $TARGET_COLLECT_RPS) |"
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms ('$SEARCH_MANY') | $search_many_p99 ms | $(verdict "$search_many_p99" "<=" $TARGET_SEARCH_P99_MS) |"
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms ('$SEARCH_FEW') | $search_few_p99 ms | $(verdict "$search_few_p99" "<=" $TARGET_SEARCH_P99_MS) |"
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms ('$SEARCH_ONE') | $search_one_p99 ms | $(verdict "$search_one_p99" "<=" $TARGET_SEARCH_P99_MS) |"
echo "| server peak RSS <= $TARGET_RSS_MB MB | $PEAK_RSS | $(verdict "$rss_mb" "<=" $TARGET_RSS_MB) |"
[ "$SCOPE" = full ] || exit 0
list_rps=$(get 4 "list, page 1")
list_rand_rps=$(get 4 "list, random page")
echo "| list >= $TARGET_LIST_RPS req/s (page 1) | $list_rps req/s | $(verdict "$list_rps" ">=" $TARGET_LIST_RPS) |"
echo "| list >= $TARGET_LIST_RPS req/s (random page) | $list_rand_rps req/s | $(verdict "$list_rand_rps" ">=" $TARGET_LIST_RPS) |"
for name in "${PAGE_NAMES[@]}"; do
    page_p99=$(get 6 "$name")
    echo "| $name p99 <= $TARGET_PAGE_P99_MS ms | $page_p99 ms | $(verdict "$page_p99" "<=" $TARGET_PAGE_P99_MS) |"
done
