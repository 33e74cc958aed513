#!/usr/bin/env bash
# Runs dmkit's full test suite as CI does: installs missing dependencies,
# vets, then runs every package's tests (which start their own MariaDB
# servers). Extra arguments are passed to `go test`, e.g. -race or -run X.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "==> go vet ./..."
go vet ./...

echo "==> go test ./..."
go test -count=1 -p 2 -timeout 25m "$@" ./...

# The API fuzz test runs its seeds above; here it also explores for a bounded time.
echo "==> go test -fuzz FuzzAPI (20s)"
go test -count=1 -run '^$' -fuzz '^FuzzAPI$' -fuzztime 20s ./httpapi
