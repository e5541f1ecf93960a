#!/usr/bin/env bash
# AWS: 20 Secrets Manager secrets from a local moto server (plain http on 127.0.0.1), start to
# exec. secret-init (one BatchGetSecretValue for the 20 `from:` references) vs the Python
# entrypoint people write instead: boto3, 20 × get_secret_value (and, as a second baseline, one
# batch_get_secret_value), exporting every value, then exec. Requests counted by moto's log.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
work=$(mktemp -d /dev/shm/si-bench-aws.XXXXXX)   # tmpfs, as a memory-backed /secrets would be
pid=""
cleanup() { if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
       AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$port" HOME="$work" \
       AWS_CONFIG_FILE="$work/none" AWS_SHARED_CREDENTIALS_FILE="$work/none"
"$py" "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.out" 2>"$work/moto.log" &
pid=$!
for _ in $(seq 1 600); do grep -q "Running on http://127.0.0.1:$port" "$work/moto.log" 2>/dev/null && break; sleep 0.05; done
grep -q "Running on" "$work/moto.log" || { echo "moto did not start" >&2; cat "$work/moto.log" >&2; exit 1; }

"$py" - "$AWS_ENDPOINT_URL" <<'PY'
import os, sys, boto3
c = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name="us-east-1")
for i in range(20):
    c.create_secret(Name=f"bench/s{i:02d}", SecretString=f"value-{i:02d}-" + os.urandom(12).hex())
PY
{
  echo "secrets:"
  for i in $(seq -w 0 19); do echo "  s$i: null"; done
  echo "secret_init:"
  echo "  secrets:"
  for i in $(seq -w 0 19); do echo "    s$i: {from: 'aws-sm:bench/s$i', env: S$i, file: false}"; done
} >"$work/config.yaml"

cat >"$work/entrypoint.py" <<'PY'
import os, sys, boto3
c = boto3.client("secretsmanager")
ids = [f"bench/s{i:02d}" for i in range(20)]
if os.environ.get("BATCH") == "1":
    for v in c.batch_get_secret_value(SecretIdList=ids)["SecretValues"]:
        os.environ["S" + v["Name"][-2:]] = v["SecretString"]
else:
    for i, n in enumerate(ids):
        os.environ[f"S{i:02d}"] = c.get_secret_value(SecretId=n)["SecretString"]
os.execvp(sys.argv[1], sys.argv[1:])
PY

export SECRET_INIT_CONFIG="$work/config.yaml" SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_SECRETS_DIR="$work/none" \
       SECRET_INIT_LOG_LEVEL=warn
mkdir -p "$work/out"; chmod 700 "$work/out"
# All three must work, and deliver the same values, before they are timed.
check='[ -n "$S00" ] && [ -n "$S19" ] && echo "$S00 $S07 $S19"'
a=$("$SI_BIN" -- /bin/sh -c "$check")
b=$("$py" "$work/entrypoint.py" /bin/sh -c "$check")
c=$(BATCH=1 "$py" "$work/entrypoint.py" /bin/sh -c "$check")
[ "$a" = "$b" ] && [ "$a" = "$c" ] || { echo "entrypoints disagree" >&2; exit 1; }

count() { grep -c '"POST / HTTP' "$work/moto.log" || true; }
n0=$(count); "$SI_BIN" -- /bin/true; n1=$(count)
"$py" "$work/entrypoint.py" /bin/true; n2=$(count)
BATCH=1 "$py" "$work/entrypoint.py" /bin/true; n3=$(count)

hyperfine -N --warmup 3 --runs 30 --export-json "$work/si.json" -n secret-init "$SI_BIN -- /bin/true" >/dev/null 2>&1
hyperfine -N --warmup 1 --runs 10 --export-json "$work/py.json" -n boto3 "$py $work/entrypoint.py /bin/true" >/dev/null 2>&1
BATCH=1 hyperfine -N --warmup 1 --runs 10 --export-json "$work/pyb.json" -n boto3-batch "$py $work/entrypoint.py /bin/true" >/dev/null 2>&1

"$py" - "$work" "$((n1 - n0))" "$((n2 - n1))" "$((n3 - n2))" <<'PY'
import json, statistics, sys
w = sys.argv[1]
med = lambda f: statistics.median(json.load(open(f"{w}/{f}"))["results"][0]["times"]) * 1000
si, pyv, pyb = med("si.json"), med("py.json"), med("pyb.json")
r_si, r_py, r_pyb = sys.argv[2:5]
print("### AWS: 20 Secrets Manager secrets from a local moto server, start to exec")
print()
print("| entrypoint | median start-to-exec | requests | ratio |")
print("|---|---:|---:|---:|")
print(f"| Python + boto3: 20 × `get_secret_value`, export, exec | {pyv:.1f} ms | {r_py} | {pyv/si:.1f}x slower |")
print(f"| Python + boto3: one `batch_get_secret_value`, export, exec | {pyb:.1f} ms | {r_pyb} | {pyb/si:.1f}x slower |")
print(f"| `secret-init -- /bin/true` (20 env vars, batched) | {si:.1f} ms | {r_si} | 1.0 |")
print()
print("hyperfine -N, 30 runs (secret-init) and 10 runs (each Python entrypoint), against the same "
      "moto server (plain http on 127.0.0.1, so TLS is not in either figure); requests counted in moto's log.")
PY
