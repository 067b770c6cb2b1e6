#!/usr/bin/env bash
# Fuzzes every reader of untrusted input with libFuzzer for a bounded time each, starting from the
# seed corpus in Fuzz/corpus (see Fuzz/FuzzTargets.swift):
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 20 seconds, every target
#
# The fuzzing build lives in .build-fuzz (instrumented with -sanitize=fuzzer). New inputs the
# fuzzer finds go to a temporary directory; a crash stops the run, prints the input (base64) and
# leaves it in .build-fuzz/crashes/: copy it into Fuzz/corpus/TARGET/ once fixed, and
# `chute-fuzz replay` (run by scripts/test.sh) keeps it a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json pattern config frames signature zip kinesis)

swift build --scratch-path .build-fuzz --product chute-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xlinker --export-dynamic 2>&1 | grep -E "error|warning: unre|Compiling chute-fuzz|Build" || true
binary=.build-fuzz/debug/chute-fuzz
[ -x "$binary" ] || { echo "fuzz.sh: the fuzzing build failed" >&2; exit 1; }

mkdir -p .build-fuzz/crashes
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  echo "fuzzing $target for ${seconds}s"
  # -rss_limit_mb: a target that allocates without bound is a finding too.
  # SWIFT_BACKTRACE off: libFuzzer's own handler then records the input that crashed.
  if ! SWIFT_BACKTRACE=enable=no CHUTE_FUZZ_TARGET="$target" "$binary" "$work/$target" "Fuzz/corpus/$target" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix=".build-fuzz/crashes/$target-" -print_final_stats=1 >"$work/$target.log" 2>&1; then
    grep -v -E "^#[0-9]+\s+(NEW|REDUCE|pulse|INITED|RELOAD)" "$work/$target.log" | tail -40 >&2
    for crash in .build-fuzz/crashes/"$target"-*; do
      [ -f "$crash" ] && { echo "input ($crash), base64:" >&2; base64 -w0 "$crash" >&2; echo >&2; }
    done
    echo "fuzz.sh: $target crashed" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$target.log" | tr '\n' ' '; echo
done
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crash"
