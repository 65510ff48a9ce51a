#!/usr/bin/env bash
# The whole suite (`npm test`: build, typecheck, vitest) once per supported Node major, one after the
# other (the suite's servers and daemons want the machine to themselves). Every major runs even after
# one failed; the exit code is non-zero if any did. NODE_MAJORS picks others: NODE_MAJORS="24" …
set -uo pipefail
cd "$(dirname "$0")/.."
majors=${NODE_MAJORS:-20 22 24 26}
passed=0 failed=0 skipped=0 bad=()
for major in $majors; do
  echo "=== npm test on Node $major"
  log=$(mktemp)
  bash scripts/with-node.sh "$major" sh -c 'node --version && npm test' 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  # The summary reporter's closing line: "N passed, N failed, N skipped".
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
  rm -f "$log"
  if [ -n "$line" ]; then
    read -r p _ f _ s _ <<<"${line//,/}"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  fi
  if [ "$status" != 0 ] || [ -z "$line" ]; then bad+=("$major"); fi
done
echo
if ((${#bad[@]})); then echo "Failed on Node ${bad[*]}"; else echo "Green on Node $majors"; fi
echo "$passed passed, $failed failed, $skipped skipped"
((${#bad[@]} == 0))
