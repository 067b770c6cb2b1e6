"""Several `chute serve` hosts on one PostgreSQL database: they share the work, and when one is
killed with SIGKILL under load the others take over its leased events (once the leases expire) and
its shards (from their checkpoints), so every accepted event and every stream record is processed.
Duplicates (at-least-once) are counted and reported.

Needs the test cluster scripts/test.sh starts (CHUTE_TEST_POSTGRES_URL).
Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
"""
import base64
import collections
import json
import os
import signal
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

import botocore.exceptions

from test_functions import LIBRARY, code_zip
from test_serve import ROOT, Host, write_config

PROBE = os.path.join(ROOT, ".build", "debug", "libBatchProbe.so")
POSTGRES = os.environ.get("CHUTE_TEST_POSTGRES_URL")
REQUIRED = os.environ.get("CHUTE_TEST_REQUIRE_POSTGRES") == "1"


def read_lines(path):
    """Whole JSON lines only: a line still being written has no newline yet."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


@unittest.skipUnless(POSTGRES or REQUIRED, "needs CHUTE_TEST_POSTGRES_URL (scripts/test.sh starts a PostgreSQL cluster)")
class PostgresHostsTests(unittest.TestCase):
    def setUp(self):
        self.assertIsNotNone(POSTGRES, "CHUTE_TEST_REQUIRE_POSTGRES is set but CHUTE_TEST_POSTGRES_URL is not")
        self.directory = tempfile.mkdtemp(prefix="chute-hosts-")
        self.async_log = os.path.join(self.directory, "async.jsonl")
        self.stream_log = os.path.join(self.directory, "stream.jsonl")
        schema = "h_" + uuid.uuid4().hex
        self.store = f"{POSTGRES}?schema={schema}"
        config = write_config(self.directory, f"""
functions:
  - name: probe
    library: {PROBE}
    isolation: process
    concurrency: 4
streams:
  - {{name: orders, shards: 4}}
mappings:
  - {{function: probe, stream: orders, startingPosition: TRIM_HORIZON, batchSize: 20}}
""")
        self.hosts = []
        for index in range(3):
            host = Host(config, os.path.join(self.directory, f"data-{index}"),
                        options=("--log-level", "error", "--store", self.store, "--lease-seconds", "3"))
            self.hosts.append(host.start())

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if predicate():
                    return
            except botocore.exceptions.ClientError:
                pass
            time.sleep(0.2)
        self.fail(f"timed out waiting for {what}")

    def test_what_one_host_defines_the_others_serve(self):
        a, b = self.hosts[0].client("lambda"), self.hosts[2].client("lambda")

        def greeting():
            response = b.invoke(FunctionName="thumbs", Payload=json.dumps({"action": "env", "text": "GREETING"}).encode())
            return response["Payload"].read().decode()

        a.create_function(FunctionName="thumbs", Runtime="provided.al2023", Role="arn:aws:iam::000000000000:role/none",
                          Handler="lib/libthumbs.so:chute_handle", Code={"ZipFile": code_zip([("lib/libthumbs.so", LIBRARY)])},
                          Environment={"Variables": {"GREETING": "hello"}})
        self.wait_for(lambda: greeting() == "hello", "another host to serve a function created on the first")
        a.update_function_configuration(FunctionName="thumbs", Environment={"Variables": {"GREETING": "bonjour"}})
        self.wait_for(lambda: greeting() == "bonjour", "another host to take up a changed configuration")

        self.hosts[0].client("sns").create_topic(Name="alerts")
        self.wait_for(lambda: any(t["TopicArn"].endswith(":alerts") for t in self.hosts[2].client("sns").list_topics()["Topics"]),
                      "another host to know a topic created on the first")

        a.delete_function(FunctionName="thumbs")

        def gone():
            try:
                b.get_function(FunctionName="thumbs")
                return False
            except b.exceptions.ResourceNotFoundException:
                return True
        self.wait_for(gone, "another host to drop a deleted function")

    def tearDown(self):
        for host in self.hosts:
            host.stop()

    def shards_held(self, host):
        with urllib.request.urlopen(host.url + "/chute/mappings", timeout=5) as response:
            mappings = json.loads(response.read())
        return sum(len(mapping.get("shards", [])) for mapping in mappings)

    def test_three_hosts_lose_nothing_when_one_is_killed(self):
        # The shards spread over the hosts (each takes its share, a lease a round).
        deadline = time.time() + 40
        while time.time() < deadline:
            held = [self.shards_held(host) for host in self.hosts]
            if sum(held) == 4 and all(count >= 1 for count in held):
                break
            time.sleep(0.5)
        else:
            self.fail(f"the 4 shards were not spread over the 3 hosts: {held}")

        accepted_events, accepted_records = [], []
        lock = threading.Lock()
        live = list(self.hosts)

        def send(batch):
            """Async invocations and stream records, to the live hosts in turn."""
            for i in batch:
                host = live[i % len(live)]
                lam, kinesis = host.client("lambda"), host.client("kinesis")
                try:
                    answer = lam.invoke(FunctionName="probe", InvocationType="Event",
                                        Payload=json.dumps({"log": self.async_log, "event": i, "sleep": 50}))
                    if answer["StatusCode"] == 202:
                        with lock:
                            accepted_events.append(i)
                    records = [{"Data": json.dumps({"log": self.stream_log, "record": f"{i}-{k}"}).encode(),
                                "PartitionKey": f"key-{i}-{k}"} for k in range(5)]
                    put = kinesis.put_records(StreamName="orders", Records=records)
                    if put["FailedRecordCount"] == 0:
                        with lock:
                            accepted_records.extend(f"{i}-{k}" for k in range(5))
                except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                        urllib.error.URLError, ConnectionError):
                    pass  # the killed host: not accepted, so not expected

        threads = [threading.Thread(target=send, args=(range(start, 600, 4),)) for start in range(4)]
        for thread in threads:
            thread.start()
        # Kill one host under load: its leased events and its shards must be taken over.
        while len(accepted_events) < 150:
            time.sleep(0.05)
        victim = self.hosts[1]
        live.remove(victim)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        for thread in threads:
            thread.join()

        expected_events, expected_records = set(accepted_events), set(accepted_records)
        deadline = time.time() + 90
        while time.time() < deadline:
            ran = collections.Counter(line["event"] for line in read_lines(self.async_log))
            processed = collections.Counter()
            for batch in read_lines(self.stream_log):
                for record in batch["Records"]:
                    processed[json.loads(base64.b64decode(record["kinesis"]["data"]))["record"]] += 1
            if expected_events <= set(ran) and expected_records <= set(processed):
                break
            time.sleep(0.5)
        missing_events = expected_events - set(ran)
        missing_records = expected_records - set(processed)
        duplicate_events = sum(count - 1 for count in ran.values())
        duplicate_records = sum(count - 1 for count in processed.values())
        print(f"\n3 hosts, one killed with SIGKILL: {len(expected_events)} events accepted, {len(missing_events)} missing, "
              f"{duplicate_events} ran twice or more; {len(expected_records)} stream records put, {len(missing_records)} missing, "
              f"{duplicate_records} processed twice or more")
        self.assertEqual(missing_events, set(), "accepted events never ran")
        self.assertEqual(missing_records, set(), "stream records never processed")

        # Order per shard held across the takeover: each shard's records were first seen in
        # sequence order (replays after a takeover only repeat records already seen).
        first_seen = collections.defaultdict(list)
        seen = set()
        for batch in read_lines(self.stream_log):
            for record in batch["Records"]:
                sequence = int(record["kinesis"]["sequenceNumber"])
                if sequence not in seen:
                    seen.add(sequence)
                    first_seen[record["eventID"].split(":")[0]].append(sequence)
        for shard, sequences in first_seen.items():
            self.assertEqual(sequences, sorted(sequences), f"{shard} was processed out of order")


if __name__ == "__main__":
    unittest.main()
