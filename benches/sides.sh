#!/usr/bin/env bash
# Which side of an import costs more CPU: `ferry serve` or `ferry import`?
#
#   benches/sides.sh [USERS] [RUNS]        # defaults: 200000 users, 2 runs
#
# Writes a sample export of USERS users (`ferry sample`, fixed seed), then
# RUNS times: starts `ferry serve` on a fresh database on an ephemeral
# loopback port, imports the export into it with `ferry import --target`,
# and prints the server's CPU seconds (from /proc/PID/stat, read before it is
# stopped), the client's (bash's `time`), their ratio, and the bytes the
# server wrote (/proc/PID/io). Uses the release build (`cargo build
# --release` first); FERRY=path overrides it. Nothing leaves 127.0.0.1.
set -euo pipefail

USERS=${1:-200000}
RUNS=${2:-2}
FERRY=${FERRY:-$(dirname "$0")/../target/release/ferry}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-sides.XXXXXX")
SERVER=
cleanup() {
    if [[ -n "$SERVER" ]]; then kill "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$FERRY" sample --users "$USERS" -o "$WORK/users.csv" >/dev/null
export FERRY_CLIENT_SECRET="sides-$RANDOM$RANDOM"
ticks=$(getconf CLK_TCK)

printf '%-4s %9s %11s %11s %6s %14s\n' run users/s "server CPU" "client CPU" ratio "server writes"
for run in $(seq 1 "$RUNS"); do
    rm -f "$WORK"/target.db* "$WORK"/checkpoint.json "$WORK"/users.csv.rejects.jsonl
    "$FERRY" serve --addr 127.0.0.1:0 --db "$WORK/target.db" >"$WORK/serve.out" 2>"$WORK/serve.err" &
    SERVER=$!
    url=
    for _ in $(seq 1 100); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/serve.out" || true)
        [[ -n "$url" ]] && break
        sleep 0.1
    done
    [[ -n "$url" ]] || { echo "ferry serve did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }
    TIMEFORMAT='%U %S'
    { time timeout 900 "$FERRY" import "$WORK/users.csv" --target "$url" --quiet \
        --checkpoint "$WORK/checkpoint.json" >"$WORK/import.out" 2>&1; } 2>"$WORK/client.time"
    server_cpu=$(awk -v t="$ticks" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$SERVER/stat")
    written=$(awk '/^wchar/ { printf "%.2f GB", $2 / 1e9 }' "/proc/$SERVER/io")
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
    client_cpu=$(awk '{ print $1 + $2 }' "$WORK/client.time")
    rate=$(grep -o '([0-9]* users/s' "$WORK/import.out" | tr -dc '0-9')
    [[ -n "$rate" ]] || { echo "the import printed no report" >&2; cat "$WORK/import.out" >&2; exit 1; }
    ratio=$(awk -v s="$server_cpu" -v c="$client_cpu" 'BEGIN { printf "%.2f", s / c }')
    printf '%-4s %9s %10ss %10ss %6s %14s\n' "$run" "$rate" "$server_cpu" "$client_cpu" "$ratio" "$written"
done
