#!/usr/bin/env bash
# ShopDB import benchmark: 100,000-row CSV files into a 100,000-asset SQLite database with
# the release binary, as `shopdb import` runs them. Prints a markdown table: seconds, rows
# per second and peak memory of each step, and the peak memory of a dry run of a file twice
# as large (memory should not grow with the file).
#
# CPU seconds (user + system, both threads) move less than elapsed seconds when other work
# shares the machine.
#
# Not a test: the figures depend on the machine. Environment (optional):
#   CARGO_TARGET_DIR   build directory (default $HOME/.cache/shopdb-target)
#   BENCH_ROWS         rows per file (default 100000)
#   BENCH_SKIP_BUILD=1 use the existing release binary as is
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopdb-target}"
rows="${BENCH_ROWS:-100000}"
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  cargo build -q --release --bin shopdb
fi
shopdb="$CARGO_TARGET_DIR/release/shopdb"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DATABASE_URL="sqlite://$work/shop.sqlite?mode=rwc" SHOPDB_LOG=warn
"$shopdb" db upgrade >/dev/null

# Files: base (new assets), update (every other row changes plain fields, the rest as
# stored), more (new assets again) and a file twice as long for the memory check.
python3 - "$work" "$rows" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
head = "assetnumber,name,assettypename,statusname,locationname,serialnumber,notes\n"
def write(name, start, count, changed=False):
    with open(f"{work}/{name}", "w") as f:
        f.write(head)
        for i in range(start, start + count):
            name = f"Machine {i}" + (" (moved)" if changed and i % 2 else "")
            notes = "checked 2026-12" if changed and i % 2 else ""
            f.write(f"B-{i:07d},{name},Other,In Service,Bay {i % 40},SN{i:09d},{notes}\n")
write("base.csv", 0, n)
write("update.csv", 0, n, changed=True)
write("more.csv", n, n)
write("double.csv", 0, 2 * n, changed=True)
PY

echo "| step | rows | seconds | rows/s | CPU seconds | peak memory |"
echo "|---|---:|---:|---:|---:|---:|"
step() {
  local label=$1 count=$2; shift 2
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$shopdb" import assets "$@" --key assetnumber >/dev/null 2>&1 || true
  local secs kb user sys
  read -r secs kb user sys < <(tail -1 "$work/time")
  printf "| %s | %d | %.1f | %.0f | %.1f | %d MB |\n" "$label" "$count" "$secs" "$(echo "$count / $secs" | bc -l)" "$(echo "$user + $sys" | bc -l)" $((kb / 1024))
}
step "create into an empty database (--create-missing)" "$rows" "$work/base.csv" --create-missing
step "dry run: half changed, half unchanged" "$rows" "$work/update.csv" --dry-run
step "apply: half changed, half unchanged" "$rows" "$work/update.csv"
step "dry run: all new" "$rows" "$work/more.csv" --dry-run --create-missing
step "apply: all new (database grows to $((2 * rows)))" "$rows" "$work/more.csv" --create-missing
step "dry run: unchanged file (all rows as stored)" "$rows" "$work/update.csv" --dry-run
step "dry run of a file twice as long (memory check)" "$((2 * rows))" "$work/double.csv" --dry-run
/usr/bin/time -f "%e %M %U %S" -o "$work/time" "$shopdb" export assets --output "$work/all.csv" >/dev/null 2>&1
read -r secs kb user sys < <(tail -1 "$work/time")
printf "| export every asset as CSV | %d | %.1f | %.0f | %.1f | %d MB |\n" "$((2 * rows))" "$secs" "$(echo "$((2 * rows)) / $secs" | bc -l)" "$(echo "$user + $sys" | bc -l)" $((kb / 1024))
