#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds every product (chute, chute-worker and the
# handler libraries the tests load), then runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"

# `chute serve` through boto3 and the aws CLI: Lambda and SQS APIs, async records, SIGKILL durability.
python3 -m unittest discover -s Tests/api -v

# The packaging plugin end to end: build the Swift example handler in release, package it as a
# zip, unpack it, and run the function its manifest declares.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
swift package package-handler --product SwiftGreeter --output "$work/SwiftGreeter.zip"
python3 -m zipfile -e "$work/SwiftGreeter.zip" "$work/greeter"
response="$(.build/debug/chute invoke --config "$work/greeter/chute.yaml" --function swift-greeter --event '{"name":"plugin"}')"
echo "packaged handler answered: $response"
[ "$response" = '{"attempt":1,"message":"Hello, plugin!"}' ] || { echo "unexpected response from the packaged handler" >&2; exit 1; }
