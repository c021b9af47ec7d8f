#!/usr/bin/env bash
# Mapping speed and peak RSS of the presets against the CSV path
# (BENCHMARKS.md, "Presets against the CSV path"; issue #12).
#
#   benches/presets.sh [USERS] [ROUNDS]        default: 1000000 3
#
# Writes the same USERS users five ways: a CSV in ferry's own columns; as
# `firebase auth:export` writes them, a JSON document ({"users": [...]}) and
# a headerless CSV (the 28-column layout); as an Auth0 user export job
# writes them, NDJSON gzipped and CSV (typed cells). Then, ROUNDS times,
# alternating, maps each with `ferry import --dry-run` (the vendor's files
# `--from firebase` / `--from auth0`, ferry's CSV with no mapping) under
# /usr/bin/time, and prints per source the fewest CPU seconds of the rounds,
# the users per CPU second, the speed against ferry's CSV and against the
# same vendor's CSV through the same preset (the JSON path against the CSV
# path, everything else equal), and the highest peak RSS. A dry run maps and serialises every batch, as an
# import builds what it sends, and writes it to $OUT (default a directory
# in /dev/shm when there is one): on a disk, creating the batch files of a
# run right after the last run's were deleted costs ext4 more than the
# mapping (its `recently_deleted` inode check), and swamps what is measured.
# Everything happens under $WORK (default ./target/presets-bench) and $OUT,
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ferry=${FERRY:-./target/release/ferry}
[ -x "$ferry" ] || cargo build --release --bin ferry
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
users=${1:-1000000}
rounds=${2:-3}
work=${WORK:-./target/presets-bench}
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=$work
out=${OUT:-$shm/ferry-presets-bench-$$}
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work" "$out"' EXIT

python3 - "$users" "$work" <<'PY'
import csv, gzip, json, random, sys
n, work = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(1)
given = ["Alice", "Bob", "Carol", "Dan", "Eve", "José", "Zoë", "Mia", "Noah", "Liam"]
family = ["Martin", "Keller", "Nguyen", "Müller", "Ito", "Smith", "Rossi", "Dubois"]
with open(f"{work}/users.csv", "w", newline="") as c, \
        open(f"{work}/firebase.json", "w") as f, \
        open(f"{work}/firebase.csv", "w", newline="") as fc, \
        gzip.open(f"{work}/auth0.json.gz", "wt", compresslevel=6) as a, \
        open(f"{work}/auth0.csv", "w", newline="") as ac:
    w = csv.writer(c)
    fcw = csv.writer(fc)
    acw = csv.writer(ac, quoting=csv.QUOTE_MINIMAL)
    acw.writerow(["user_id", "email", "email_verified", "name", "given_name", "family_name",
                  "created_at", "logins_count", "blocked", "identities[0].provider",
                  "identities[0].user_id", "identities[0].connection", "identities[0].isSocial"])
    w.writerow(["id", "email", "email_verified", "given_name", "family_name", "name",
                "created_at", "status"])
    f.write('{"users": [\n')
    for i in range(n):
        g, fa = rnd.choice(given), rnd.choice(family)
        email = f"user{i}@example.com"
        ms = 1500000000000 + i * 1000
        iso = f"2021-03-05T16:35:16.{i % 1000:03d}Z"
        blocked = i % 50 == 0
        w.writerow([f"u{i}", email, "true", g, fa, f"{g} {fa}", iso,
                    "inactive" if blocked else "active"])
        fb = {"localId": f"u{i}", "email": email, "emailVerified": True,
              "displayName": f"{g} {fa}", "createdAt": str(ms), "lastSignedInAt": str(ms),
              "disabled": blocked, "providerUserInfo": []}
        f.write(("," if i else "") + json.dumps(fb, ensure_ascii=False) + "\n")
        au = {"user_id": f"auth0|u{i}", "email": email, "email_verified": True,
              "given_name": g, "family_name": fa, "name": f"{g} {fa}", "created_at": iso,
              "blocked": blocked, "logins_count": 3,
              "identities": [{"provider": "auth0", "user_id": f"u{i}",
                              "connection": "Username-Password-Authentication",
                              "isSocial": False}]}
        a.write(json.dumps(au, ensure_ascii=False) + "\n")
        # localId, email, emailVerified, passwordHash, salt, displayName,
        # photoUrl, 4 × 4 provider columns, createdAt, lastSignedInAt,
        # phoneNumber, disabled, customAttributes.
        fcw.writerow([f"u{i}", email, "true", "", "", f"{g} {fa}", ""] + [""] * 16
                     + [str(ms), str(ms), "", "true" if blocked else "", ""])
        # Auth0 writes strings as '-prefixed cells.
        acw.writerow([f"'auth0|u{i}", f"'{email}", "true", f"'{g} {fa}", f"'{g}", f"'{fa}", iso,
                      "3", "true" if blocked else "", "'auth0", f"'u{i}",
                      "'Username-Password-Authentication", "false"])
    f.write("]}\n")
PY

declare -A cpu rss wall
sources=(csv firebase-csv firebase-json auth0-csv auth0-ndjson-gz)
for round in $(seq "$rounds"); do
  for name in "${sources[@]}"; do
    case $name in
      csv) args=("$work/users.csv") ;;
      firebase-csv) args=("$work/firebase.csv" --from firebase) ;;
      firebase-json) args=("$work/firebase.json" --from firebase) ;;
      auth0-csv) args=("$work/auth0.csv" --from auth0) ;;
      auth0-ndjson-gz) args=("$work/auth0.json.gz" --from auth0) ;;
    esac
    log="$work/time-$name-$round.txt"
    /usr/bin/time -f "%e %U %S %M" -o "$log" "$ferry" import "${args[@]}" \
      --dry-run "$out" --import-time 2025-01-01T00:00:00Z --quiet >/dev/null
    read -r e u s m <"$log"
    c=$(echo "$u + $s" | bc)
    echo "round $round $name: ${e}s wall, ${c} CPU s, $((m / 1024)) MiB" >&2
    if [ -z "${cpu[$name]:-}" ] || [ "$(echo "$c < ${cpu[$name]}" | bc)" = 1 ]; then
      cpu[$name]=$c
      wall[$name]=$e
    fi
    if [ -z "${rss[$name]:-}" ] || [ "$m" -gt "${rss[$name]}" ]; then rss[$name]=$m; fi
    rm -rf "$out"
  done
done

printf '%-16s %9s %8s %15s %13s %15s %13s\n' source users cpu_s users_per_cpu_s vs_ferry_csv vs_vendor_csv peak_rss_mib
for name in "${sources[@]}"; do
  vendor=${name%%-*}-csv
  [ -n "${cpu[$vendor]:-}" ] || vendor=csv
  printf '%-16s %9s %8s %15.0f %13.2f %15.2f %13.1f\n' "$name" "$users" "${cpu[$name]}" \
    "$(echo "$users / ${cpu[$name]}" | bc -l)" \
    "$(echo "${cpu[csv]} / ${cpu[$name]}" | bc -l)" \
    "$(echo "${cpu[$vendor]} / ${cpu[$name]}" | bc -l)" \
    "$(echo "${rss[$name]} / 1024" | bc -l)"
done
