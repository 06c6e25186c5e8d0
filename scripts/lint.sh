#!/usr/bin/env bash
# The lint gate: go vet, staticcheck (the pinned version, installed into
# .bin by make lint), and shellcheck over the project's shell scripts
# (installed with apt-get when missing). make test runs it.
# Usage: STATICCHECK=.bin/staticcheck scripts/lint.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
STATICCHECK=${STATICCHECK:-.bin/staticcheck}

"$GO" vet ./...
"$STATICCHECK" ./...

if ! command -v shellcheck >/dev/null; then
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >&2; then
		"${sudo[@]}" apt-get update -q >&2
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >&2
	fi
fi
# Warnings and errors fail the gate; style notes (info) do not.
shellcheck --severity=warning scripts/*.sh .ci/run
echo "lint: vet, staticcheck and shellcheck clean"
