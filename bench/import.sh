#!/usr/bin/env bash
# ShopDB import benchmark: 100,000-row CSV files into a 100,000-asset SQLite database with
# the release binary, as `shopdb import` runs them. Prints a markdown table: seconds, rows
# per second and peak memory of each step, and the peak memory of a dry run of a file twice
# as large (memory should not grow with the file). Then the same for .xlsx: workbooks that
# `shopdb export --format xlsx` writes of 100,000 and 200,000 assets (every text in the
# shared-strings table, as Excel saves them), each read in a dry run, and the sizes of the
# parts of each.
#
# CPU seconds (user + system, both threads) move less than elapsed seconds when other work
# shares the machine.
#
# Not a test: the figures depend on the machine. Environment (optional):
#   CARGO_TARGET_DIR   build directory (default $HOME/.cache/shopdb-target)
#   BENCH_ROWS         rows per file (default 100000)
#   BENCH_SKIP_BUILD=1 use the existing release binary as is
#   BENCH_BASELINE     another shopdb binary (an older build) to run the .xlsx dry runs with
#                      too, on the same files, for a before-and-after comparison
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
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "${bin:-$shopdb}" import assets "$@" --key assetnumber >/dev/null 2>&1 || true
  local secs kb user sys
  read -r secs kb user sys < <(tail -1 "$work/time")
  printf "| %s | %d | %.1f | %.0f | %.1f | %d MB |\n" "$label" "$count" "$secs" "$(echo "$count / $secs" | bc -l)" "$(echo "$user + $sys" | bc -l)" $((kb / 1024))
}
step "create into an empty database (--create-missing)" "$rows" "$work/base.csv" --create-missing
"$shopdb" export assets --format xlsx --output "$work/base.xlsx" >/dev/null 2>&1
step "dry run: half changed, half unchanged" "$rows" "$work/update.csv" --dry-run
step "apply: half changed, half unchanged" "$rows" "$work/update.csv"
step "dry run: all new" "$rows" "$work/more.csv" --dry-run --create-missing
step "apply: all new (database grows to $((2 * rows)))" "$rows" "$work/more.csv" --create-missing
step "dry run: unchanged file (all rows as stored)" "$rows" "$work/update.csv" --dry-run
step "dry run of a file twice as long (memory check)" "$((2 * rows))" "$work/double.csv" --dry-run
/usr/bin/time -f "%e %M %U %S" -o "$work/time" "$shopdb" export assets --output "$work/all.csv" >/dev/null 2>&1
read -r secs kb user sys < <(tail -1 "$work/time")
printf "| export every asset as CSV | %d | %.1f | %.0f | %.1f | %d MB |\n" "$((2 * rows))" "$secs" "$(echo "$((2 * rows)) / $secs" | bc -l)" "$(echo "$user + $sys" | bc -l)" $((kb / 1024))

# .xlsx: the workbook exported after the first step ($rows assets) and one of every asset.
"$shopdb" export assets --format xlsx --output "$work/all.xlsx" >/dev/null 2>&1
xlsx_steps() {
  local who=$1
  step ".xlsx dry run, $who: export of $rows assets" "$rows" "$work/base.xlsx" --dry-run
  step ".xlsx dry run, $who: export of every asset" "$((2 * rows))" "$work/all.xlsx" --dry-run
}
xlsx_steps "this build"
step "CSV dry run of the same rows: export of every asset" "$((2 * rows))" "$work/all.csv" --dry-run
if [ -n "${BENCH_BASELINE:-}" ]; then
  bin="$BENCH_BASELINE" xlsx_steps "baseline"
fi
echo
python3 - "$work" <<'PY'
import os, sys, zipfile
work = sys.argv[1]
print(f"all.csv: {os.path.getsize(f'{work}/all.csv') / 1e6:.1f} MB")
for name in ("base.xlsx", "all.xlsx"):
    path = f"{work}/{name}"
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: i.file_size for i in z.infolist()}
    mb = lambda n: f"{n / 1e6:.1f} MB"
    print(f"{name}: {mb(os.path.getsize(path))} on disk; unpacked, the sheet's XML "
          f"{mb(parts.get('xl/worksheets/sheet1.xml', 0))} and the shared strings "
          f"{mb(parts.get('xl/sharedStrings.xml', 0))}")
PY
