#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds every product (chute, chute-worker and the
# handler libraries the tests load), then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests

# A real PostgreSQL 15 cluster for the PostgreSQL store's tests (127.0.0.1, a free port from 54329,
# data in a temporary folder), stopped when the tests end; each test works in a schema of its own.
pg="$(mktemp -d)"
work="$(mktemp -d)"
trap 'bash scripts/postgres.sh stop "$pg" >/dev/null 2>&1 || true; rm -rf "$pg" "$work"' EXIT
export CHUTE_TEST_POSTGRES_URL="$(bash scripts/postgres.sh start "$pg")"
export CHUTE_TEST_REQUIRE_POSTGRES=1
echo "PostgreSQL test cluster: $CHUTE_TEST_POSTGRES_URL"

swift test --skip-build "$@"

# Inputs the fuzzers once crashed on stay regression tests; then a bounded libFuzzer run over every
# reader of untrusted input (20 s a target; its instrumented build is in .build-fuzz).
.build/debug/chute-fuzz replay Fuzz/corpus
bash scripts/fuzz.sh 20

# `chute serve` through boto3 and the aws CLI: Lambda and SQS APIs, async records, SIGKILL durability.
python3 -m unittest discover -s Tests/api -v

# The packaging plugin end to end: build the Swift example handler in release, package it as a
# zip, unpack it, and run the function its manifest declares.
swift package package-handler --product SwiftGreeter --output "$work/SwiftGreeter.zip"
python3 -m zipfile -e "$work/SwiftGreeter.zip" "$work/greeter"
response="$(.build/debug/chute invoke --config "$work/greeter/chute.yaml" --function swift-greeter --event '{"name":"plugin"}')"
echo "packaged handler answered: $response"
[ "$response" = '{"attempt":1,"message":"Hello, plugin!"}' ] || { echo "unexpected response from the packaged handler" >&2; exit 1; }
