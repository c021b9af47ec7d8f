#!/usr/bin/env bash
# Fuzzes `ferry serve` from the platform's published description with
# schemathesis (issue #13): the client layout (/api/identity/{tid}/...), the
# operations ferry serve implements, the checks not_a_server_error,
# status_code_conformance, response_schema_conformance and
# negative_data_rejection, a fixed seed and a time budget. Zero failures.
#
# The server runs on an ephemeral 127.0.0.1 port over a database in a
# temporary directory, seeded with samples/users.csv (imported by ferry at the
# same layout), so the user endpoints answer users and not only 404s, and
# with a group of one seeded user and a schema no pool names, so the deletes
# have something to delete; the server is stopped and the directory removed
# on any exit.
#
# The deletes run last, after every read, so that no read meets a deleted
# user or pool; and in steps ordered so that each one finds its record
# before another step deletes what it needs (the membership before its user
# and group, the pool last). Within a step the first success deletes the
# record and later cases meet the 404 the description declares for it; the
# script checks afterwards that every seeded record is gone, so the deletes
# were reached and not only their 404s.
#
# Usage: .ci/schemathesis/run.sh [FERRY_BINARY]   (default ./target/debug/ferry)
# Env: SCHEMATHESIS_MAX_TIME (seconds, default 60), SCHEMATHESIS_SEED (default 13),
#      SCHEMATHESIS_VENV (where to install schemathesis; default a temporary one).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

ferry=${1:-./target/debug/ferry}
version=4.32.5
max_time=${SCHEMATHESIS_MAX_TIME:-60}
seed=${SCHEMATHESIS_SEED:-13}
spec=spec/platform/identitysystem-2025-04.yaml
tenant=default # the description's basePath is /api/identity/default
pool=default

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

venv=${SCHEMATHESIS_VENV:-$work/venv}
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

export FERRY_CLIENT_ID=ferry
FERRY_CLIENT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
export FERRY_CLIENT_SECRET
RUST_LOG=warn "$ferry" serve --addr 127.0.0.1:0 --db "$work/target.db" \
    --tenant "$tenant" --pool "$pool" >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
base=""
for _ in $(seq 1 100); do
    base=$(sed -n 's/^ferry serve: listening on \(http:[^ ]*\).*/\1/p' "$work/serve.out")
    [[ -n $base ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.err"; exit 1; }
    sleep 0.1
done
[[ -n $base ]] || { echo "ferry serve did not start"; cat "$work/serve.err"; exit 1; }
echo "ferry serve at $base (tenant $tenant, pool $pool)"

"$ferry" import samples/users.csv --target "$base" --tenant "$tenant" --pool "$pool" \
    --layout client --quiet --checkpoint "$work/checkpoint" --rejects "$work/rejects.jsonl" \
    || [[ $? -eq 3 ]] # rows the sample rejects on purpose

# A token with every scope, and what the dictionaries below need: a stored
# user's id and identifier (read through the endpoints under test).
read -r token user identifier < <(python3 - "$base" "$tenant" "$pool" <<'PY'
import base64, json, os, sys, urllib.parse, urllib.request
base, tenant, pool = sys.argv[1:4]
basic = base64.b64encode(f"ferry:{os.environ['FERRY_CLIENT_SECRET']}".encode()).decode()
form = urllib.parse.urlencode({"grant_type": "client_credentials",
    "scope": "identity manage_configuration read_configuration"}).encode()
request = urllib.request.Request(f"{base}/{tenant}/system/oauth2/token", data=form,
    headers={"Authorization": f"Basic {basic}"})
token = json.load(urllib.request.urlopen(request, timeout=10))["access_token"]
request = urllib.request.Request(f"{base}/api/identity/{tenant}/system/pools/{pool}/users?limit=1",
    headers={"Authorization": f"Bearer {token}"})
user = json.load(urllib.request.urlopen(request, timeout=10))["users"][0]
# What the deletes delete: a group with the user in it, a schema no pool names.
seed = {"groups": [{"id": "rollback", "tenant_id": tenant, "user_pool_id": pool, "name": "Rollback"}],
    "group_members": [{"group_id": "rollback", "tenant_id": tenant, "user_id": user["id"],
        "user_pool_id": pool}],
    "schemas": [{"id": "spare", "tenant_id": tenant, "name": "Spare", "schema": {"type": "object"}}]}
request = urllib.request.Request(f"{base}/api/identity/{tenant}/configuration", method="PUT",
    data=json.dumps(seed).encode(), headers={"Authorization": f"Bearer {token}",
    "Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=10)
print(token, user["id"], user["identifiers"][0])
PY
)
[[ -n ${token:-} && -n ${user:-} && -n ${identifier:-} ]] || { echo "cannot read the seeded data"; exit 1; }
group=rollback
schema=spare

# The seeded pool, user, group and schema in every path (the Rust tests cover unknown ones:
# fuzzed ids would only ever reach the 404), and the seeded identifier in half
# the generated bodies, so by_key and verify reach a user too.
cat >"$work/schemathesis.toml" <<EOF
hooks = "hooks"

[dictionaries.identifiers]
values = ["$identifier"]

[parameters]
"path.ipID" = "$pool"
"path.userID" = "$user"
"path.groupID" = "$group"
"path.schID" = "$schema"
"body.identifier" = { dictionary = "identifiers", probability = 0.5 }
EOF

checks=not_a_server_error,status_code_conformance,response_schema_conformance,negative_data_rejection
# Runs schemathesis for `$1` seconds on the operations named after it.
fuzz() {
    local budget=$1 include=()
    shift
    for operation in "$@"; do include+=(--include-operation-id "$operation"); done
    # From the temporary directory: schemathesis keeps a cache where it runs.
    (cd "$work" && PYTHONPATH="$repo/.ci/schemathesis" "$venv/bin/st" \
        --config-file "$work/schemathesis.toml" run "$repo/$spec" \
        --url "$base/api/identity/$tenant" "${include[@]}" --checks "$checks" \
        --header "Authorization: Bearer $token" --phases examples,coverage,fuzzing \
        --max-time "$budget" --seed "$seed" --workers 2 --generation-database none --no-color)
}

started=$(date +%s)
# The password check costs a bcrypt-12 hash per request (the dummy hash of an
# unknown identifier included): it gets a budget of its own, so that it does
# not use up the others'.
fuzz $((max_time * 3 / 4)) exportTenantConfiguration importTenantConfiguration \
    systemListPools systemGetPool systemListUsers systemGetUser systemGetUserByKey
fuzz $((max_time / 4)) verifyPasswordV2
# The schema reads (which `ferry import --preflight` makes), on a budget of
# their own so that the runs above generate what they always did; before the
# deletes, which remove the seeded schema.
fuzz $((max_time / 6)) systemListSchemas systemGetSchema
# The deletes, last (see the top): the membership and the schema, then the
# group and the user, then the pool. Each case after the first success
# meets the declared 404, so a short budget covers them.
fuzz $((max_time / 10)) removeUserFromGroup systemDeleteSchema
fuzz $((max_time / 10)) deleteGroup systemDeleteUser
fuzz $((max_time / 10)) systemDeletePool
# Each delete was reached: what it deletes is gone.
python3 - "$base" "$tenant" "$token" "$pool" "$user" <<'PY' || { echo "the deletes left seeded records"; exit 1; }
import json, sys, urllib.error, urllib.request
base, tenant, token, pool, user = sys.argv[1:6]
def get(path):
    request = urllib.request.Request(f"{base}/api/identity/{tenant}/{path}",
        headers={"Authorization": f"Bearer {token}"})
    try:
        return 200, json.load(urllib.request.urlopen(request, timeout=30))
    except urllib.error.HTTPError as err:
        return err.code, None
for path in (f"system/pools/{pool}/users/{user}", f"system/pools/{pool}"):
    status, _ = get(path)
    if status != 404:
        sys.exit(f"GET {path} answered {status} after the deletes, not 404")
_, dump = get("configuration")
left = {name: dump.get(name) for name in ("groups", "group_members", "schemas") if dump.get(name)}
sys.exit(f"left: {left}" if left else 0)
PY
echo "schemathesis: passed in $(($(date +%s) - started)) s"
