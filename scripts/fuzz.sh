#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each, one package and
# target at a time (go test -fuzz accepts a single target per run).
# Usage: FUZZTIME=30s scripts/fuzz.sh   (make fuzz sets GO and FUZZTIME)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}

# Lines "<package dir> <target>", one per fuzz target, sorted.
list_targets() {
	local files
	if files=$(git ls-files --cached --others --exclude-standard -- '*_test.go' 2>/dev/null); then
		:
	else
		files=$(find . -name '*_test.go' -not -path './.git/*' -not -path './.bin/*' | sed 's|^\./||')
	fi
	local f
	while IFS= read -r f; do
		[ -n "$f" ] && [ -f "$f" ] || continue
		case "/$f" in */testdata/*) continue ;; esac
		sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\([^)]*\*testing\.F\).*/\1/p' "$f" |
			while IFS= read -r name; do
				printf '%s %s\n' "$(dirname "$f")" "$name"
			done
	done <<<"$files"
}

targets=$(list_targets | sort -u)
if [ -z "$targets" ]; then
	echo "no fuzz targets yet"
	exit 0
fi

failed=()
while read -r dir name; do
	echo "== fuzz ./$dir $name for $FUZZTIME"
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$dir"; then
		failed+=("./$dir $name")
	fi
done <<<"$targets"

if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz: ${#failed[@]} target(s) failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
