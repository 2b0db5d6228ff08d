#!/bin/sh
# Pushes this Linux PC's inventory to ShopDB's computers collector.
#
#   SHOPDB_URL=http://shopdb.plant.local:8080 SHOPDB_TOKEN=shopdb_... ./shopdb-inventory.sh
#
# Options (environment): SHOPDB_COMPUTERTYPE (e.g. "shop floor", "CMM", "kiosk"),
# SHOPDB_NO_SOFTWARE=1 to leave the installed-software list out, SHOPDB_DRY_RUN=1 to print
# the JSON instead of sending it. Needs only sh, sed, awk and curl; run as root to read the
# serial number from the firmware. Exit code: 0 sent, 1 usage, 2 ShopDB refused or unreachable.
set -eu

: "${SHOPDB_URL:=}"
: "${SHOPDB_TOKEN:=}"
if [ -z "${SHOPDB_DRY_RUN:-}" ] && { [ -z "$SHOPDB_URL" ] || [ -z "$SHOPDB_TOKEN" ]; }; then
    echo "set SHOPDB_URL and SHOPDB_TOKEN (a collector token for the computers plugin)" >&2
    exit 1
fi

# JSON string: backslash, quote and control characters escaped.
json() {
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | tr -d '\000-\010\013-\037' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')"
}

# "field": value, only when the value is not empty.
field() {
    [ -n "$2" ] && printf ', "%s": %s' "$1" "$(json "$2")"
    return 0
}

hostname=$(hostname 2>/dev/null || cat /etc/hostname)
serial=$(cat /sys/class/dmi/id/product_serial 2>/dev/null || true)
iface=$(ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
ipaddress=$(ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1)
macaddress=""
if [ -n "$iface" ] && [ -r "/sys/class/net/$iface/address" ]; then
    macaddress=$(cat "/sys/class/net/$iface/address")
fi
osname=""
osversion=""
if [ -r /etc/os-release ]; then
    osname=$(. /etc/os-release && printf '%s' "${NAME:-}")
    osversion=$(. /etc/os-release && printf '%s' "${VERSION_ID:-${VERSION:-}}")
fi
currentuser=$(who 2>/dev/null | awk 'NR == 1 { print $1 }')
lastcheckin=$(date -u +%Y-%m-%dT%H:%M:%SZ)

software() {
    if command -v dpkg-query >/dev/null 2>&1; then
        dpkg-query -W -f '${db:Status-Abbrev}\t${Package}\t${Version}\t${Maintainer}\n' 2>/dev/null |
            awk -F '\t' '$1 ~ /^ii/ { print $2 "\t" $3 "\t" $4 }'
    elif command -v rpm >/dev/null 2>&1; then
        rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\n' 2>/dev/null
    fi |
        # Longer values than ShopDB keeps would reject the whole record.
        awk -F '\t' '{ print substr($1, 1, 200) "\t" substr($2, 1, 100) "\t" substr($3, 1, 200) }'
}

body=$(
    printf '{"hostname": %s' "$(json "$hostname")"
    field serialnumber "$serial"
    field macaddress "$macaddress"
    field ipaddress "$ipaddress"
    field osname "$osname"
    field osversion "$osversion"
    field currentuser "$currentuser"
    field computertype "${SHOPDB_COMPUTERTYPE:-}"
    field lastcheckin "$lastcheckin"
    if [ -z "${SHOPDB_NO_SOFTWARE:-}" ]; then
        printf ', "software": ['
        software | head -n 10000 | {
            first=1
            while IFS="$(printf '\t')" read -r name version publisher; do
                [ -n "$name" ] || continue
                [ $first -eq 1 ] || printf ', '
                first=0
                printf '{"name": %s' "$(json "$name")"
                field version "$version"
                field publisher "$publisher"
                printf '}'
            done
        }
        printf ']'
    fi
    printf '}'
)

if [ -n "${SHOPDB_DRY_RUN:-}" ]; then
    printf '%s\n' "$body"
    exit 0
fi

answer=$(printf '%s' "$body" | curl -sS --max-time 60 -X POST \
    -H "Authorization: Bearer $SHOPDB_TOKEN" -H "Content-Type: application/json" \
    --data-binary @- -w '\n%{http_code}' "${SHOPDB_URL%/}/api/collector/computers") || {
    echo "cannot reach ShopDB at $SHOPDB_URL" >&2
    exit 2
}
status=$(printf '%s\n' "$answer" | tail -n 1)
reply=$(printf '%s\n' "$answer" | sed '$d')
case "$status" in
    2*)
        case "$reply" in
            *'"status":"rejected"'*) echo "ShopDB rejected this PC: $reply" >&2; exit 2 ;;
        esac
        echo "$hostname sent to ShopDB: $reply" ;;
    *) echo "ShopDB answered $status: $reply" >&2; exit 2 ;;
esac
