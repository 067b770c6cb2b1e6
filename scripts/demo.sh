#!/usr/bin/env bash
# The main job: build Chute, then run the example handlers through `chute` and show every outcome
# class: success, Handled error, crash, exit, timeout, memory-limit kill, and a drop-in libm call.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build 2>&1 | tail -1
# The C++ and Rust example handlers.
mkdir -p .build/examples
c++ -std=c++17 -O2 -shared -fPIC -I runtime-api examples/handlers/cpp/wordcount.cpp -o .build/examples/libwordcount.so
PATH="$PATH:$HOME/.cargo/bin" CARGO_TARGET_DIR="$PWD/.build/examples" cargo build --quiet --release --offline \
  --manifest-path examples/handlers/rust/Cargo.toml
chute=.build/debug/chute
config=examples/chute.yaml

run() {
  local title=$1; shift
  printf '\n\033[1m== %s\033[0m\n$ chute invoke %s\n' "$title" "$*"
  $chute invoke --config "$config" --verbose "$@"
  local status=$?
  printf '\n(exit status %s)\n' "$status"
}

$chute inspect .build/debug/libChuteFaults.so
run "drop-in C function: libm's hypot, declared signature" --function hypot --event '[3,4]'
run "success (process isolation)" --function faults --event '{"action":"echo","hello":"world"}'
run "handler output tagged with the request id" --function faults --event 'print hello'
run "Handled error" --function faults --event '{"action":"error","text":"card declined"}'
run "segmentation fault: Unhandled Runtime.ExitError, host unharmed" --function faults --event segfault
run "exit(3)" --function faults --event 'exit 3'
run "timeout after 1 s: the worker is killed" --function faults-1s --event loop
run "memory limit 128 MB, handler allocates 200 MB" --function faults --event 'alloc 200'
run "thread isolation: timeout raises the cancellation flag" --function faults-thread --event spin
run "Swift handler (ChuteHandler SDK)" --function swift-greeter --event '{"name":"Ada"}'
run "Swift handler, Handled error it throws" --function swift-greeter --event '{"name":""}'
run "C++ handler" --function cpp-wordcount --event 'the quick brown fox'
run "Rust handler" --function rust-reverse --event 'stressed'
run "Rust handler panics (panic = abort): Unhandled, host unharmed" --function rust-reverse --event panic
