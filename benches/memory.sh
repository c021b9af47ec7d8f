#!/usr/bin/env bash
# Peak RSS of `ferry import` as the source grows (BENCHMARKS.md, "Constant memory").
#
#   benches/memory.sh [SIZES...]        default: 100000 1000000 10000000
#
# Each size: `ferry sample` writes the source; below 5,000,000 rows
# `ferry serve` runs on a fresh database and `ferry import` sends it there;
# from 5,000,000 rows on, `ferry import --dry-run` writes the bodies to disk
# instead (about 1.8 KB a user: 18 GB for 10,000,000, deleted afterwards),
# because a SQLite target of that size would need as much disk again.
# ferry runs under /usr/bin/time -v (Debian package `time`, installed if missing).
# Everything happens under $WORK (default ./target/memory-bench), removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ferry=${FERRY:-./target/release/ferry}
[ -x "$ferry" ] || cargo build --release --bin ferry
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
work=${WORK:-./target/memory-bench}
mkdir -p "$work"
export FERRY_CLIENT_SECRET="memory-bench-$$-$RANDOM$RANDOM"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000 10000000)
printf '%-10s %-8s %10s %10s %12s\n' rows mode seconds cpu_s peak_rss_mib
for n in "${sizes[@]}"; do
  src="$work/users-$n.csv"
  "$ferry" sample --users "$n" --output "$src" >/dev/null
  log="$work/time-$n.txt"
  if [ "$n" -ge 5000000 ]; then
    mode=dry-run
    /usr/bin/time -v "$ferry" import "$src" --dry-run "$work/bodies-$n" --quiet >/dev/null 2>"$log"
    rm -rf "$work/bodies-$n"
  else
    mode=import
    db="$work/target-$n.db"
    rm -f "$db" "$db-wal" "$db-shm"
    "$ferry" serve --addr 127.0.0.1:0 --db "$db" >"$work/serve-$n.out" 2>"$work/serve-$n.err" &
    serve=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/serve-$n.out" 2>/dev/null && break; sleep 0.1; done
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve-$n.out" | head -1)
    /usr/bin/time -v "$ferry" import "$src" --target "$url" --quiet --restart \
      --checkpoint "$work/ck-$n" --rejects "$work/rej-$n" >/dev/null 2>"$log"
    kill -TERM "$serve"; wait "$serve" || true
    rm -f "$db" "$db-wal" "$db-shm"
  fi
  secs=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}')
  user=$(grep 'User time' "$log" | awk '{print $NF}')
  sys=$(grep 'System time' "$log" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$log" | awk '{print $NF}')
  printf '%-10s %-8s %10s %10.2f %12.1f\n' "$n" "$mode" "$secs" "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)"
  rm -f "$src"
done
rm -rf "$work"
