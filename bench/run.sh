#!/usr/bin/env bash
# ShopDB HTTP benchmark: builds the release binary, loads 100,000 demo assets into a fresh
# SQLite database, starts the server and measures the asset list, asset detail and search
# endpoints with wrk. Prints a markdown summary at the end.
#
# Not a test: it takes a few minutes and the figures depend on the machine.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   build directory (default $HOME/.cache/shopdb-target)
#   BENCH_ASSETS       demo assets to load        (default 100000)
#   BENCH_PORT         first port to try          (default 5099)
#   BENCH_DURATION     wrk duration per scenario  (default 15s)
#   BENCH_THREADS      wrk threads                (default 2)
#   BENCH_CONNECTIONS  wrk connections            (default 16)
#   BENCH_SKIP_BUILD=1 use the existing release binary as is
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopdb-target}"
ASSETS="${BENCH_ASSETS:-100000}"
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

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- 1. tools -------------------------------------------------------------------------------
need_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $*"
    fi
}
missing=()
for tool in wrk curl jq; do
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
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run the binary from the temp dir so no .env file of the checkout is picked up.
export DATABASE_URL="sqlite://$TMP/bench.sqlite"
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
DB_MB=$(du -m "$TMP/bench.sqlite" | cut -f1)
echo "demo-data: $ASSETS assets in ${SEED_SECS}s ($SEED_RATE assets/s), database ${DB_MB} MB" >&2

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

# Sanity checks: each endpoint answers 200 with the data expected.
TOTAL=$(api "/api/assets?per_page=50&page=1" | jq -r '.meta.total')
[ "$TOTAL" -ge "$ASSETS" ] || die "asset list reports total $TOTAL, expected at least $ASSETS"
api "/api/assets?per_page=50&page=1" | jq -e '.data | length == 50 and (.[0].assettypename != null) and (.[0].statusname != null) and (.[0].locationname != null)' >/dev/null ||
    die "asset list does not carry 50 rows with type/status/location names"
MID_ID=$(api "/api/assets?per_page=1&page=$((TOTAL / 2))" | jq -r '.data[0].assetid')
api "/api/assets/$MID_ID" | jq -e '.data.assetid' >/dev/null || die "asset detail failed"
PAGES=$(( (TOTAL + 49) / 50 ))

# Search terms, partial asset numbers (demo numbers run A000001 … A100000). With 100,000
# assets '0421' matches 125 records (A000421, A00421x, A0421xx, A0x0421 …), '04211' a dozen
# (A004211, A04211x, …) and '99999' two (A099999 and one serial number). The search reads
# every row whatever the hit count, so the near-empty one shows the worst cost per result.
SEARCH_MANY="0421"
SEARCH_FEW="04211"
SEARCH_ONE=$(printf '%05d' $(( ASSETS - 1 )))   # e.g. 99999 -> A099999
hits() { # count of results, "100+" when the API's maximum limit is reached
    local n
    n=$(api "/api/search?q=$1&limit=100" | jq '.data | length')
    if [ "$n" -ge 100 ]; then echo "100+"; else echo "$n"; fi
}
HITS_MANY=$(hits "$SEARCH_MANY")
HITS_FEW=$(hits "$SEARCH_FEW")
HITS_ONE=$(hits "$SEARCH_ONE")
echo "search hits: '$SEARCH_MANY' $HITS_MANY, '$SEARCH_FEW' $HITS_FEW, '$SEARCH_ONE' $HITS_ONE (the API returns 20 by default)" >&2

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
measure "health (baseline)"         "$C" "/api/health"
measure "list, page 1"              "$C" "/api/assets?per_page=50&page=1"
measure "list, random page"         "$C" "/api/assets?per_page=50&page=1" random_page.lua
measure "list, last page"           "$C" "/api/assets?per_page=50&page=$PAGES"
measure "detail, random id"         "$C" "/api/assets/$MID_ID" random_asset.lua
measure "detail, fixed id"          "$C" "/api/assets/$MID_ID"
measure "search '$SEARCH_MANY' ($HITS_MANY hits)" "$C" "/api/search?q=$SEARCH_MANY"
measure "search '$SEARCH_FEW' ($HITS_FEW hits)" "$C" "/api/search?q=$SEARCH_FEW"
measure "search '$SEARCH_ONE' ($HITS_ONE hits)" "$C" "/api/search?q=$SEARCH_ONE"
# One connection: the latency of a single request with no queueing behind others.
measure "list, page 1, 1 conn"      1 "/api/assets?per_page=50&page=1"
measure "detail, fixed id, 1 conn"  1 "/api/assets/$MID_ID"
measure "search '$SEARCH_MANY', 1 conn" 1 "/api/search?q=$SEARCH_MANY"
measure "health, 1 conn"            1 "/api/health"

# Collector: 500 PCs pushed as one batch three times: new, unchanged, every record changed.
log "collector batches (computers plugin)"
"$BIN" plugin install computers >/dev/null
COLLECTOR_TOKEN=$("$BIN" token create --name bench --plugin computers 2>/dev/null)
batch() { # osversion
    jq -nc --arg os "$1" '{records: [range(1; 501) | {hostname: ("bench-pc-" + (. | tostring)),
        serialnumber: ("BSN" + (. | tostring)), macaddress: ("02:00:00:00:" + ((. / 256 | floor) | tostring) + ":" + ((. % 256) | tostring)),
        osname: "Windows 10 IoT", osversion: $os}]}' >"$TMP/batch.json"
}
push() { # expected status -> "seconds records/s"
    local out secs
    out=$(curl -fsS -o "$TMP/push.json" -w '%{time_total}' -X POST -H "Authorization: Bearer $COLLECTOR_TOKEN" \
        -H 'Content-Type: application/json' --data-binary "@$TMP/batch.json" "$BASE/api/collector/computers")
    jq -e --arg s "$1" '.data[$s] == 500' "$TMP/push.json" >/dev/null || die "collector batch was not 500 x $1: $(jq -c '.data | del(.results)' "$TMP/push.json")"
    secs=$out
    awk -v s="$secs" 'BEGIN { printf "%.2f s, %.0f records/s", s, 500 / s }'
}
sleep 3  # the server notices the install within its 2 s refresh
batch "19045"; COLLECT_CREATED=$(push created)
COLLECT_UNCHANGED=$(push unchanged)
batch "19045.5011"; COLLECT_CHANGED=$(push updated)
echo "collector: created $COLLECT_CREATED; unchanged $COLLECT_UNCHANGED; changed $COLLECT_CHANGED" >&2
measure "search hostname 'pc-42'" "$C" "/api/search?q=pc-42"

# Web pages, rendered on the server: one connection, so latency is the render time.
BAY_A=$(api "/api/locations?name=Bay%20A" | jq -r '.data[0].locationid')
PAGE_NAMES=()
page() { # name path
    measure "page: $1" 1 "$2"
    PAGE_NAMES+=("page: $1")
}
page "dashboard"                    "/"
page "asset list"                   "/assets"
page "asset list, filtered, sorted" "/assets?statusid=1&sort=-assetnumber&q=$SEARCH_MANY"
page "asset list, last page"        "/assets?page=$PAGES"
page "asset detail"                 "/assets/$MID_ID"
page "computer list"                "/computers"
page "search results"               "/search?q=$SEARCH_MANY"
page "floor map, Bay A (1000 markers)" "/map/$BAY_A"
page "audit log"                    "/admin/audit"

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
list_rps=$(get 4 "list, page 1")
list_rand_rps=$(get 4 "list, random page")
search_many_p99=$(get 6 "search '$SEARCH_MANY' ($HITS_MANY hits)")
search_p99=$(get 6 "search '$SEARCH_FEW' ($HITS_FEW hits)")
search_one_p99=$(get 6 "search '$SEARCH_ONE' ($HITS_ONE hits)")

echo
echo "## ShopDB benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;" \
    "wrk and the server share the machine."
echo "Commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ] && echo ' (with uncommitted source changes)')"
echo "Release build: $BUILD_INFO. Demo data: $ASSETS assets in ${SEED_SECS}s ($SEED_RATE assets/s), database ${DB_MB} MB."
echo "wrk: -t$THREADS -d$DURATION --latency, connections as listed. Server peak RSS (VmHWM): $PEAK_RSS."
echo "Load average (1/5/15 min) before the measurements: $LOAD_BEFORE; after: $LOAD_AFTER" \
    "(anything above ~$(nproc) before wrk starts means other work was competing)."
echo
echo "| Scenario | Request | Conns | Req/s | p50 ms | p99 ms | Non-2xx / errors |"
echo "|---|---|---:|---:|---:|---:|---|"
for r in "${RESULTS[@]}"; do
    IFS='|' read -r name path conns rps p50 p99 errors <<<"$r"
    echo "| $name | \`$path\` | $conns | $rps | $p50 | $p99 | $errors |"
done
echo
echo "Collector, one batch of 500 computers: new $COLLECT_CREATED; unchanged $COLLECT_UNCHANGED; every record changed $COLLECT_CHANGED."
echo
echo "| Target | Measured | Result |"
echo "|---|---|---|"
echo "| list >= $TARGET_LIST_RPS req/s (page 1) | $list_rps req/s | $(verdict "$list_rps" ">=" $TARGET_LIST_RPS) |"
echo "| list >= $TARGET_LIST_RPS req/s (random page) | $list_rand_rps req/s | $(verdict "$list_rand_rps" ">=" $TARGET_LIST_RPS) |"
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms ('$SEARCH_MANY') | $search_many_p99 ms | $(verdict "$search_many_p99" "<=" $TARGET_SEARCH_P99_MS) |"
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms ('$SEARCH_FEW') | $search_p99 ms | $(verdict "$search_p99" "<=" $TARGET_SEARCH_P99_MS) |"
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms ('$SEARCH_ONE') | $search_one_p99 ms | $(verdict "$search_one_p99" "<=" $TARGET_SEARCH_P99_MS) |"
for name in "${PAGE_NAMES[@]}"; do
    page_p99=$(get 6 "$name")
    echo "| $name p99 <= $TARGET_PAGE_P99_MS ms | $page_p99 ms | $(verdict "$page_p99" "<=" $TARGET_PAGE_P99_MS) |"
done
host_p99=$(get 6 "search hostname 'pc-42'")
echo "| search p99 <= $TARGET_SEARCH_P99_MS ms (partial hostname 'pc-42') | $host_p99 ms | $(verdict "$host_p99" "<=" $TARGET_SEARCH_P99_MS) |"
