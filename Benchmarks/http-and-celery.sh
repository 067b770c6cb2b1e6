#!/usr/bin/env bash
# Asynchronous invocations through `chute serve`'s HTTP Invoke with keep-alive (wrk), end to end
# to the destination queue, beside the same no-op task on Celery with a local Redis, in one run.
#
#   bash Benchmarks/http-and-celery.sh [SECONDS_PER_WRK_RUN] [CELERY_TASKS] [WRK_CONNECTIONS...]
#
# Prints a Markdown table (recorded in BENCHMARKS.md). Installs wrk, redis-server (apt) and
# celery, redis (pip) when missing. Everything listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
celery_tasks=${2:-20000}
connections=("${@:3}")
[ ${#connections[@]} -gt 0 ] || connections=(32 128)

bash scripts/setup.sh
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -c "import celery, redis" 2>/dev/null || python3 -m pip install --quiet celery redis 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages celery redis
for product in chute chute-worker ChuteNoop; do swift build -c release --product "$product" 2>&1 | tail -1; done

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

queue_count() {  # messages in the destination queue `done` (SQS GetQueueAttributes)
  curl -s -X POST -H 'X-Amz-Target: AmazonSQS.GetQueueAttributes' -H 'Content-Type: application/x-amz-json-1.0' \
    -d "{\"QueueUrl\":\"$1/000000000000/done\",\"AttributeNames\":[\"ApproximateNumberOfMessages\"]}" "$1/" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Attributes"]["ApproximateNumberOfMessages"])'
}

rows=()
# The HTTP layer alone: DryRun Invokes are routed and answered 204 without the store or a handler.
for clients in "${connections[@]}"; do
  data="$work/chute-dry-run-$clients"
  mkdir -p "$data"
  .build/release/chute serve --config Benchmarks/serve-noop.yaml --data-dir "$data" --port 0 --log-level error > "$data/serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$data/serve.log" && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$data/serve.log")
  line=$(wrk -t1 -c"$clients" -d"${seconds}s" -s Benchmarks/dry-run.lua "$url/2015-03-31/functions/noop/invocations" | grep '^WRK ')
  rows+=("$(python3 - "$line" "$clients" <<'PY'
import json, sys
wrk = json.loads(sys.argv[1][4:])
print(f"| Chute, HTTP Invoke (DryRun: routing only, nothing stored or run), {sys.argv[2]} connections | {wrk['requests']:,} | "
      f"{wrk['requests'] / wrk['seconds']:,.0f} | - | {wrk['p50_ms']:.2f} / {wrk['p99_ms']:.2f} | {wrk['errors']} |")
PY
)")
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done
for function in noop noop-process; do
 for clients in "${connections[@]}"; do
  data="$work/chute-$function-$clients"
  mkdir -p "$data"
  .build/release/chute serve --config Benchmarks/serve-noop.yaml --data-dir "$data" --port 0 --log-level error > "$data/serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$data/serve.log" && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$data/serve.log")
  start=$(date +%s.%N)
  line=$(wrk -t1 -c"$clients" -d"${seconds}s" -s Benchmarks/post-event.lua "$url/2015-03-31/functions/$function/invocations" | grep '^WRK ')
  accepted=$(date +%s.%N)
  requests=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1][4:])["requests"])' "$line")
  while [ "$(queue_count "$url")" -lt "$requests" ]; do sleep 0.05; done
  finished=$(date +%s.%N)
  rows+=("$(python3 - "$line" "$start" "$accepted" "$finished" "$function" "$clients" <<'PY'
import json, sys
wrk = json.loads(sys.argv[1][4:])
start, accepted, finished = map(float, sys.argv[2:5])
print(f"| Chute, HTTP Invoke (Event), {sys.argv[5]}, {sys.argv[6]} connections | {wrk['requests']:,} | {wrk['requests'] / wrk['seconds']:,.0f} | "
      f"{wrk['requests'] / (finished - start):,.0f} | {wrk['p50_ms']:.2f} / {wrk['p99_ms']:.2f} | {wrk['errors']} |")
PY
)")
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
 done
done

redis-server --port 16379 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done
(cd Benchmarks && exec celery -A celery_noop worker --pool=prefork --concurrency=2 --loglevel=warning \
   --without-gossip --without-mingle --without-heartbeat > "$work/celery.log" 2>&1) &
pids+=($!)
for _ in $(seq 100); do (cd Benchmarks && celery -A celery_noop inspect ping >/dev/null 2>&1) && break; sleep 0.2; done
result=$(cd Benchmarks && python3 celery_noop.py produce "$celery_tasks")
rows+=("$(python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| Celery 5 on Redis 7 (prefork, 2 processes), apply_async from Python | {r['events']:,} | {r['accepted_per_second']:,.0f} | "
      f"{r['end_to_end_per_second']:,.0f} | - | {r['events'] - r['done']} not run |")
PY
)")

echo "| system | events | accepted/s | end to end/s (to the record) | accept latency p50 / p99 (ms) | errors |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
