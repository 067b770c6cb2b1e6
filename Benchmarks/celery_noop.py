"""The same no-op task on Celery with a local Redis, for Benchmarks/http-and-celery.sh.

Worker:   celery -A celery_noop worker ...
Producer: python3 celery_noop.py produce N   (prints accepted/s and end-to-end events/s as JSON)

The retry policy is Lambda's default for asynchronous invocations: 2 retries, 60 s then 120 s
(retry_backoff=60 doubles: 60, 120), no jitter. The task's result (its "record") is stored in the
Redis result backend; a counter in Redis tells the producer when every task has run.
"""
import json
import os
import sys
import time

import redis
from celery import Celery

URL = os.environ.get("CELERY_REDIS_URL", "redis://127.0.0.1:16379/0")
app = Celery("celery_noop", broker=URL, backend=URL)
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=64, task_default_queue="bench",
                broker_connection_retry_on_startup=True, result_expires=3600)
counter = redis.Redis.from_url(URL)


@app.task(autoretry_for=(Exception,), max_retries=2, retry_backoff=60, retry_jitter=False)
def noop(event):
    counter.incr("chute-bench:done")
    return {}


def produce(total):
    counter.delete("chute-bench:done")
    start = time.perf_counter()
    for _ in range(total):
        noop.apply_async(args=[{}], ignore_result=False)
    accepted = time.perf_counter()
    deadline = accepted + 600
    while int(counter.get("chute-bench:done") or 0) < total and time.perf_counter() < deadline:
        time.sleep(0.01)
    finished = time.perf_counter()
    done = int(counter.get("chute-bench:done") or 0)
    print(json.dumps({"events": total, "done": done,
                      "accepted_per_second": total / (accepted - start),
                      "end_to_end_per_second": done / (finished - start)}))


if __name__ == "__main__" and sys.argv[1:2] == ["produce"]:
    produce(int(sys.argv[2]))
