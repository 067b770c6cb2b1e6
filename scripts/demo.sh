#!/usr/bin/env bash
# The main job: build Chute, run the example handlers through `chute invoke` showing every outcome
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

# The host: `chute serve` on the embedded SQLite store. Two asynchronous events go in over the
# Lambda API (202 once stored); their invocation records come out of the destination queues: the
# success through an event bus rule, the failure through a topic to two queues.
printf '\n\033[1m== chute serve: asynchronous invocations, retries, records through an event bus and a topic\033[0m\n'
data="$(mktemp -d)"
$chute serve --config examples/serve.yaml --data-dir "$data" --port 0 --log-level error > "$data/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q listening "$data/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$data/serve.log")
cat "$data/serve.log"
invoke() {
  printf '$ POST %s/2015-03-31/functions/faults/invocations (Event) %s -> ' "$url" "$1"
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'X-Amz-Invocation-Type: Event' -d "$1" "$url/2015-03-31/functions/faults/invocations"
}
invoke '{"action":"echo","order":42}'
invoke '{"action":"error","text":"card declined"}'
echo "(the failing event is retried after 1 s and 2 s, then recorded)"
sleep 4
for queue in done failures alert-copy dlq; do
  printf '\n$ receive from queue %s\n' "$queue"
  curl -s -X POST -H 'X-Amz-Target: AmazonSQS.ReceiveMessage' -H 'Content-Type: application/x-amz-json-1.0' \
    -d "{\"QueueUrl\":\"$url/000000000000/$queue\",\"MaxNumberOfMessages\":10,\"MessageAttributeNames\":[\"All\"]}" "$url/" \
    | python3 -c 'import json,sys
for m in json.load(sys.stdin).get("Messages", []):
    body = m["Body"]
    try: print(json.dumps(json.loads(body), indent=2))
    except ValueError: print(body)
    if "MessageAttributes" in m: print("attributes:", {k: v["StringValue"] for k, v in m["MessageAttributes"].items()})'
done
printf '\n$ chute events failed --data-dir %s\n' "$data"
$chute events failed --data-dir "$data"

printf '\n\033[1m== an event source mapping: the stream orders read by probe, one poison record\033[0m\n'
printf '$ chute streams put --stream orders --partition-key order-7 ...\n'
$chute streams put --data-dir "$data" --stream orders --partition-key order-7 '{"n":1}' '{"fail":"handled"}' '{"n":3}'
echo "(the batch fails and is bisected until the poison record is alone; out of retries, it alone goes to stream-failures)"
sleep 3
printf '\n$ receive from queue stream-failures\n'
curl -s -X POST -H 'X-Amz-Target: AmazonSQS.ReceiveMessage' -H 'Content-Type: application/x-amz-json-1.0' \
  -d "{\"QueueUrl\":\"$url/000000000000/stream-failures\",\"MaxNumberOfMessages\":10}" "$url/" \
  | python3 -c 'import json,sys
for m in json.load(sys.stdin).get("Messages", []): print(json.dumps(json.loads(m["Body"]), indent=2))'
printf '\n$ chute mappings status --url %s\n' "$url"
$chute mappings status --url "$url"
kill -TERM $serve_pid; wait $serve_pid 2>/dev/null
