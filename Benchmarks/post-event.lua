-- wrk: asynchronous Lambda Invoke (X-Amz-Invocation-Type: Event) of a small JSON event.
wrk.method = "POST"
wrk.body = '{"order":42}'
wrk.headers["X-Amz-Invocation-Type"] = "Event"
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  io.write(string.format("WRK {\"requests\": %d, \"seconds\": %.3f, \"errors\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
