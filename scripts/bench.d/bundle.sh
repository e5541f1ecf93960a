#!/usr/bin/env bash
# Bundle: open an encrypted bundle of 1,000 entries and deliver them (as 1,000 files, and injected
# whole as 1,000 env vars), side by side with the same 1,000 values from plain env vars.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python3)}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work=$(mktemp -d /dev/shm/si-bench-bundle.XXXXXX)   # tmpfs, as a memory-backed /secrets would be
trap 'rm -rf "$work"' EXIT
n=1000

"$SI_BIN" bundle keygen --output "$work/master.key" 2>/dev/null
"$py" "$root/tests/fixtures/bundle_ref.py" write "$work/master.key" "$work/bundle.json" big "$n"
bundle_section="  bundles:
    location: $work/bundle.json
    master_key_file: $work/master.key"
{
  echo "secrets:"; for i in $(seq 0 $((n - 1))); do echo "  K$i: null"; done
  echo "secret_init:"; echo "  sources: [bundle]"; echo "$bundle_section"; echo "    vaults: [big]"
} > "$work/bundle-files.yaml"
{
  echo "secrets: {}"; echo "secret_init:"; echo "$bundle_section"; echo "    env_vaults: [big]"
} > "$work/bundle-env.yaml"
{
  echo "secrets:"; for i in $(seq 0 $((n - 1))); do echo "  K$i: null"; done
  echo "secret_init:"; echo "  sources: [env]"
} > "$work/env-files.yaml"
{
  echo "secrets:"; for i in $(seq 0 $((n - 1))); do echo "  K$i: null"; done
  echo "secret_init:"; echo "  sources: [env]"; echo "  secrets:"
  for i in $(seq 0 $((n - 1))); do echo "    K$i: {env: K$i, file: false}"; done
} > "$work/env-env.yaml"
echo "secrets: {}" > "$work/empty.yaml"
# The same 1,000 values as plain env vars, exported for every command so all pay the same
# environment capture and scrub; the bundle commands use `sources: [bundle]` and never read them.
for i in $(seq 0 $((n - 1))); do export "TRUSS_SECRET_K$i=value-$i-xxxxxxxxxxxxxxxxxxxxxxxx"; done
export SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_LOG_LEVEL=warn HOME="$work"
for c in bundle-files bundle-env env-files env-env; do   # fails loudly here if the setup is wrong
  rm -rf "$work/out"; "$SI_BIN" --config "$work/$c.yaml" -- /bin/true
done
rm -rf "$work/out"; "$SI_BIN" --config "$work/bundle-files.yaml" -- /bin/true
[ "$(ls "$work/out" | wc -l)" = "$n" ] || { echo "bundle.sh: expected $n files" >&2; exit 1; }

hyperfine -N --warmup 5 --runs 50 --export-json "$work/hf.json" --prepare "rm -rf $work/out" \
  -n bundle-files "$SI_BIN --config $work/bundle-files.yaml -- /bin/true" \
  -n env-files "$SI_BIN --config $work/env-files.yaml -- /bin/true" \
  -n bundle-env "$SI_BIN --config $work/bundle-env.yaml -- /bin/true" \
  -n env-env "$SI_BIN --config $work/env-env.yaml -- /bin/true" \
  -n bundle-check "$SI_BIN --config $work/bundle-env.yaml check" \
  -n empty "$SI_BIN --config $work/empty.yaml -- /bin/true" >/dev/null 2>&1

"$py" - "$SI_BIN" "$work" "$work/hf.json" "$n" <<'PY'
import json, os, shutil, statistics, sys
bin, w, hf, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(hf))["results"]}
def peak_rss(cfg):
    # GNU time forks a small process: Linux keeps the larger of the pre-exec and post-exec
    # high-water marks in ru_maxrss, so a spawn from Python would report Python's own RSS.
    import subprocess
    worst = 0
    for _ in range(5):
        shutil.rmtree(f"{w}/out", ignore_errors=True)
        r = subprocess.run(["/usr/bin/time", "-f", "%M", bin, "--config", f"{w}/{cfg}.yaml", "--", "/bin/true"],
                           stderr=subprocess.PIPE, text=True, check=True)
        worst = max(worst, int(r.stderr.strip().splitlines()[-1]) / 1024)
    return worst
rss = {c: peak_rss(c) for c in ["bundle-files", "env-files", "bundle-env", "env-env"]}
print(f"### Bundle: open a {n}-entry AES-256-GCM bundle and deliver every entry (tmpfs)")
print()
print("| delivery | from the bundle | from plain env vars | ratio | peak RSS bundle / env | target |")
print("|---|---:|---:|---:|---:|---:|")
for label, b, e in [(f"{n} files, 0600", "bundle-files", "env-files"), (f"{n} env vars", "bundle-env", "env-env")]:
    print(f"| {label} | {t[b]:.2f} ms | {t[e]:.2f} ms | {t[b]/t[e]:.2f} | {rss[b]:.1f} / {rss[e]:.1f} MiB | < 20 ms |")
print()
print(f"Opening and authenticating all {n} entries alone (`secret-init check`, nothing delivered): {t['bundle-check']:.2f} ms; "
      f"a start with no secrets under the same environment: {t['empty']:.2f} ms. "
      "Writing 1,000 files costs the same whatever the source; the bundle's own cost is the difference between the two columns.")
print()
print(f"Medians of 50 runs (`hyperfine -N`, each file run into an empty output dir); peak RSS is the max of 5 runs (`/usr/bin/time -f %M`). The bundle is {os.path.getsize(w + '/bundle.json') // 1024} KiB of JSON, written by the independent reference implementation (tests/fixtures/bundle_ref.py).")
print()
PY
