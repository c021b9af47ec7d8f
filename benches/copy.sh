#!/usr/bin/env bash
# `ferry copy` and `ferry rollback` between two `ferry serve` on loopback:
# wall, client CPU, users/s and peak RSS (BENCHMARKS.md, "Copy of a tenant").
#
#   benches/copy.sh [SIZES...]        default: 100000
#
# Each size: `ferry sample --users N --seed 1` is imported into the source
# (tenant staging), both servers run in their own processes over fresh
# databases, then /usr/bin/time runs the copy to tenant prod, a second copy
# (everything unchanged), and the rollback of both (every created user
# deleted one request at a time, as the platform's API has it).
# Everything happens under $WORK (default ./target/copy-bench), removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ferry=$(realpath "${FERRY:-./target/release/ferry}")
[ -x "$ferry" ] || { cargo build --release --bin ferry && ferry=$(realpath ./target/release/ferry); }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
work=$(realpath -m "${WORK:-./target/copy-bench}")
rm -rf "$work"
mkdir -p "$work"
cd "$work"
servers=()
trap '[ ${#servers[@]} -eq 0 ] || kill "${servers[@]}" 2>/dev/null; cd / && rm -rf "$work"' EXIT
export FERRY_CLIENT_SECRET="copy-bench-$$-$RANDOM$RANDOM"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000)

serve() { # DB TENANT VAR: starts a server, its URL into VAR (not in a subshell,
  # so that `servers` keeps its process id for the kill)
  "$ferry" serve --addr 127.0.0.1:0 --db "$1" --tenant "$2" >"$1.out" 2>"$1.err" &
  servers+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$1.out" 2>/dev/null && break; sleep 0.1; done
  printf -v "$3" '%s' "$(grep -o 'http://127.0.0.1:[0-9]*' "$1.out" | head -1)"
}

timed() { # NAME USERS COMMAND... -> one line of the table
  local name=$1 n=$2
  shift 2
  /usr/bin/time -f "%e %U %S %M" -o time.txt "$@" >out.txt 2>&1 || [ $? -eq 3 ]
  read -r e u s m <time.txt
  printf '%-10s %-24s %9s %9.1f %9.0f %12.1f\n' "$n" "$name" "$e" "$(echo "$u + $s" | bc)" \
    "$(echo "$n / $e" | bc -l)" "$(echo "$m / 1024" | bc -l)"
}

printf '%-10s %-24s %9s %9s %9s %12s\n' users run wall_s cpu_s users_per_s peak_rss_mib
for n in "${sizes[@]}"; do
  "$ferry" sample --users "$n" --seed 1 -o "users-$n.csv" >/dev/null
  serve "a-$n.db" staging from
  serve "b-$n.db" prod to
  "$ferry" import "users-$n.csv" --target "$from" --tenant staging --quiet \
    --checkpoint "ck-$n" --rejects "rej-$n.jsonl" >/dev/null
  copy=("$ferry" copy --from "$from" --from-tenant staging --to "$to" --to-tenant prod
    --quiet --backup "backup-$n")
  timed "copy" "$n" "${copy[@]}" --report "copy-$n.json"
  timed "second copy (unchanged)" "$n" "${copy[@]}"
  timed "rollback" "$n" "$ferry" rollback "backup-$n" --to "$to" --to-tenant prod
  grep -q "back as it was" out.txt || { cat out.txt; exit 1; }
  kill "${servers[@]}"
  wait "${servers[@]}" 2>/dev/null || true
  servers=()
  rm -rf a-"$n".db* b-"$n".db* "backup-$n" "users-$n.csv"
done
