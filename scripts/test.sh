#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds every product (chute, chute-worker and the
# handler libraries the tests load), then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
