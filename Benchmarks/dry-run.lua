-- wrk: Lambda Invoke with X-Amz-Invocation-Type: DryRun. The host routes the request, finds the
-- function and answers 204 without storing or running anything: the HTTP layer's own ceiling.
wrk.method = "POST"
wrk.body = '{"order":42}'
wrk.headers["X-Amz-Invocation-Type"] = "DryRun"
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  io.write(string.format("WRK {\"requests\": %d, \"seconds\": %.3f, \"errors\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
