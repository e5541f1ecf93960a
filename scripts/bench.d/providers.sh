#!/usr/bin/env bash
# Providers: delivering AWS (credentials + config), Hugging Face, docker and wandb credentials into
# a home directory, side by side with the usual alternative, a Python entrypoint that writes the
# same files with configparser / json / netrc text (what a hand-written login script does). Both
# start from an empty home each run (hyperfine --prepare, not timed). Plus a materialize + clean cycle.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
work=$(mktemp -d /dev/shm/si-bench-prov.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/out"; chmod 700 "$work" "$work/home" "$work/out"
cat > "$work/config.yaml" <<'YAML'
secrets:
  k: null
  s: null
  hf: null
  rp: null
  wb: null
secret_init:
  secrets:
    k: {file: false}
    s: {file: false}
    hf: {file: false}
    rp: {file: false}
    wb: {file: false}
  providers:
    aws: {fields: {aws_access_key_id: k, aws_secret_access_key: s}, values: {region: us-east-1}}
    huggingface: {fields: {token: hf}}
    docker: {fields: {password: rp}, values: {username: robot}}
    wandb: {fields: {api_key: wb}}
YAML
cat > "$work/login.py" <<'PY'
import configparser, json, os, base64
h = os.environ["HOME"]; e = os.environ
def w(p, text):
    os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f: f.write(text)
c = configparser.ConfigParser(); c.read(f"{h}/.aws/credentials")
c["default"] = {"aws_access_key_id": e["TRUSS_SECRET_k"], "aws_secret_access_key": e["TRUSS_SECRET_s"]}
os.makedirs(f"{h}/.aws", mode=0o700, exist_ok=True)
with open(f"{h}/.aws/credentials", "w") as f: c.write(f)
c = configparser.ConfigParser(); c.read(f"{h}/.aws/config"); c["default"] = {"region": "us-east-1"}
with open(f"{h}/.aws/config", "w") as f: c.write(f)
w(f"{h}/.cache/huggingface/token", e["TRUSS_SECRET_hf"])
p = f"{h}/.docker/config.json"
d = json.load(open(p)) if os.path.exists(p) else {}
d.setdefault("auths", {})["https://index.docker.io/v1/"] = {"auth": base64.b64encode(f"robot:{e['TRUSS_SECRET_rp']}".encode()).decode()}
w(p, json.dumps(d, indent=2))
w(f"{h}/.netrc", f"machine api.wandb.ai\n  login user\n  password {e['TRUSS_SECRET_wb']}\n")
PY
envs="env -i PATH=/usr/bin:/bin HOME=$work/home TRUSS_SECRET_k=AKIABENCH TRUSS_SECRET_s=benchsecret TRUSS_SECRET_hf=hf_bench TRUSS_SECRET_rp=pw TRUSS_SECRET_wb=wbkey SECRET_INIT_CONFIG=$work/config.yaml SECRET_INIT_OUTPUT_DIR=$work/out SECRET_INIT_SECRETS_DIR=$work/in SECRET_INIT_LOG_LEVEL=warn SECRET_INIT_STATE_FILE=$work/state.json"
reset="rm -rf $work/home/.aws $work/home/.cache $work/home/.docker $work/home/.netrc $work/state.json"
hyperfine -N --warmup 10 --runs 200 --export-json "$work/hf.json" \
  --prepare "$reset" \
  -n python "$envs $py $work/login.py" \
  -n secret-init "$envs $SI_BIN -- /bin/true" \
  -n materialize "$envs $SI_BIN materialize" >/dev/null 2>&1
# materialize + clean as one cycle: clean needs a fresh materialize before each run.
hyperfine -N --warmup 5 --runs 200 --export-json "$work/clean.json" \
  --prepare "sh -c '$reset; $envs $SI_BIN materialize >/dev/null'" \
  -n clean "$envs $SI_BIN clean" >/dev/null 2>&1
"$py" - "$work/hf.json" "$work/clean.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
c = statistics.median(json.load(open(sys.argv[2]))["results"][0]["times"]) * 1000
p = r["python"]
print("### Providers: AWS + Hugging Face + docker + wandb credentials into an empty home (tmpfs)")
print()
print("| command | median | ratio vs Python login script |")
print("|---|---:|---:|")
print(f"| `python3 login.py` (configparser, json, netrc text) | {p:.2f} ms | 1.00 |")
print(f"| `secret-init -- /bin/true` (5 provider files + exec) | {r['secret-init']:.2f} ms | {r['secret-init']/p:.3f} |")
print(f"| `secret-init materialize` (same files + 0600 state file) | {r['materialize']:.2f} ms | {r['materialize']/p:.3f} |")
print(f"| `secret-init clean` (verify digests, remove, rmdir) | {c:.2f} ms | {c/p:.3f} |")
print()
print("hyperfine -N, 200 runs each, home reset before every run (--prepare, not timed).")
PY
