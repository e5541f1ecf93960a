#!/usr/bin/env bash
# Fleet start (reduced): N secret-init processes released together against one local OpenBao over
# TLS, AppRole, 20 secrets over 4 KV v2 paths; jitter on (default) vs off, side by side; then the
# same with the server sealed for the first second. The full run (N = 50, 200, 500) is
# `scripts/fleet` (minutes, docs/fleet.md); this one takes about half a minute.
set -euo pipefail
: "${SI_BIN:?set by scripts/bench}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
healthy=$("$py" "$root/scripts/fleet" --n 50,200 --jitter on,off --timeout 240 2>/dev/null)
sealed=$("$py" "$root/scripts/fleet" --n 200 --jitter on,off --fault sealed --seal-for 1 --timeout 120 2>/dev/null)
echo "### Fleet start: N simultaneous secret-init starts against one OpenBao (AppRole, 20 secrets, 4 paths)"
echo
echo "$healthy"
echo
echo "Server sealed for the first second of the start (every request 503 until unsealed):"
echo
echo "$sealed"
echo
echo "Ratio = requests the server's audit log recorded / minimum (N logins + 4N reads); target at most 1.20x"
echo "with zero failures. Attempts are counted client side (sealed 503s are not audited)."
echo "start-to-exec = from the barrier release to the program's first instruction. Full run: scripts/fleet."
