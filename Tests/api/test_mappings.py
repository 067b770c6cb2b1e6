"""Event source mappings through real AWS clients (boto3): Lambda's ESM API over built-in streams
and queues, the Kinesis and SQS events the function receives, retries, partial batch failures,
on-failure records read back from the stream, filters, disabling, and a restart that resumes from
the checkpoint. The function is BatchProbe, which the records themselves steer.

Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
"""
import base64
import hashlib
import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.request

from test_serve import CHUTE, ROOT, Host, drain, write_config

PROBE = os.path.join(ROOT, ".build", "debug", "libBatchProbe.so")
ACCOUNT = "000000000000"
CONFIG = f"""
queues: [failures]
functions:
  - name: probe
    library: {PROBE}
    isolation: process
    concurrency: 4
"""


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class MappingTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="chute-mappings-")
        self.log = os.path.join(self.directory, "batches.jsonl")
        self.host = Host(write_config(self.directory, CONFIG), os.path.join(self.directory, "data")).start()
        self.connect()

    def connect(self):
        self.kinesis, self.sqs, self.lam = (self.host.client(s) for s in ("kinesis", "sqs", "lambda"))
        self.failures = self.sqs.get_queue_url(QueueName="failures")["QueueUrl"]

    def tearDown(self):
        self.host.stop()

    def events(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            lines = f.read().split("\n")
        # The last line may still be being written (a batch of several megabytes): only whole lines count.
        return [json.loads(line) for line in lines[:-1] if line.strip()]

    def data(self, **instruction):
        return json.dumps({"log": self.log, **instruction}).encode()

    def status(self):
        with urllib.request.urlopen(self.host.url + "/chute/mappings") as response:
            return json.load(response)

    def test_a_failing_record_is_retried_then_reported_with_its_batch_info_and_read_back_from_the_stream(self):
        kinesis, lam = self.kinesis, self.lam
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders"
        created = lam.create_event_source_mapping(
            FunctionName="probe", EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=1,
            MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"}})
        # The recorded response's fields, values and status (202, Creating).
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 202)
        for field, value in {"BatchSize": 1, "BisectBatchOnFunctionError": False, "FunctionResponseTypes": [],
                             "LastProcessingResult": "No records processed", "MaximumBatchingWindowInSeconds": 1,
                             "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": 1, "ParallelizationFactor": 1,
                             "StartingPosition": "TRIM_HORIZON", "State": "Creating", "StateTransitionReason": "User action",
                             "TumblingWindowInSeconds": 0, "EventSourceArn": stream_arn,
                             "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:probe",
                             "DestinationConfig": {"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"}}}.items():
            self.assertEqual(created[field], value, field)
        uuid = created["UUID"]
        self.assertEqual(created["EventSourceMappingArn"], f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{uuid}")
        self.assertEqual(lam.get_event_source_mapping(UUID=uuid)["State"], "Enabled")

        good = kinesis.put_record(StreamName="orders", PartitionKey="a", Data=self.data())
        bad = kinesis.put_record(StreamName="orders", PartitionKey="a", Data=self.data(fail="crash"))
        kinesis.put_record(StreamName="orders", PartitionKey="a", Data=self.data())
        [message] = drain(self.sqs, self.failures, 1)
        record = json.loads(message["Body"])
        self.assertEqual(record["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)  # one retry: two invocations
        self.assertEqual(record["requestContext"]["functionArn"], f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:probe")
        self.assertEqual(record["responseContext"], {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        self.assertEqual(record["version"], "1.0")
        info = record["KinesisBatchInfo"]
        self.assertEqual({k: info[k] for k in ("shardId", "startSequenceNumber", "endSequenceNumber", "batchSize", "streamArn")},
                         {"shardId": "shardId-000000000000", "startSequenceNumber": bad["SequenceNumber"],
                          "endSequenceNumber": bad["SequenceNumber"], "batchSize": 1, "streamArn": stream_arn})
        # The discarded record is read back from the stream by its range (the record does not carry it).
        iterator = kinesis.get_shard_iterator(StreamName="orders", ShardId=info["shardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
                                              StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"]
        self.assertEqual(json.loads(kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"][0]["Data"])["fail"], "crash")

        # The shard went on past the discarded record: the third record was processed after it.
        events = wait_for(lambda: len(self.events()) >= 2 and self.events(), what="two logged batches")
        records = [e["Records"][0] for e in events]
        self.assertEqual([r["kinesis"]["sequenceNumber"] for r in records][0], good["SequenceNumber"])
        first = records[0]
        self.assertEqual(set(first), {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                                      "awsRegion", "eventSourceARN"})
        self.assertEqual(first["eventSource"], "aws:kinesis")
        self.assertEqual(first["eventName"], "aws:kinesis:record")
        self.assertEqual(first["eventID"], f"shardId-000000000000:{good['SequenceNumber']}")
        self.assertEqual(first["eventSourceARN"], stream_arn)
        self.assertEqual(first["kinesis"]["kinesisSchemaVersion"], "1.0")
        self.assertEqual(first["kinesis"]["partitionKey"], "a")
        self.assertEqual(base64.b64decode(first["kinesis"]["data"]), self.data())
        self.assertIsInstance(first["kinesis"]["approximateArrivalTimestamp"], float)

        shard = wait_for(lambda: [s for s in self.status()[0]["shards"] if s["checkpoint"] and s["checkpoint"] > bad["SequenceNumber"]],
                         what="the checkpoint past the discarded record")[0]
        self.assertIsNotNone(shard["iteratorAgeMilliseconds"])

        # Errors as Lambda words them.
        with self.assertRaises(lam.exceptions.ResourceConflictException):
            lam.create_event_source_mapping(FunctionName="probe", EventSourceArn=stream_arn, StartingPosition="LATEST")
        with self.assertRaisesRegex(lam.exceptions.InvalidParameterValueException, "Stream not found: .*stream/nothing"):
            lam.create_event_source_mapping(FunctionName="probe", StartingPosition="LATEST",
                                            EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/nothing")
        with self.assertRaisesRegex(lam.exceptions.InvalidParameterValueException, "MaximumRecordAgeInSeconds"):
            lam.update_event_source_mapping(UUID=uuid, MaximumRecordAgeInSeconds=30)
        deleted = lam.delete_event_source_mapping(UUID=uuid)
        self.assertEqual((deleted["State"], deleted["ResponseMetadata"]["HTTPStatusCode"]), ("Deleting", 202))
        with self.assertRaises(lam.exceptions.ResourceNotFoundException):
            lam.get_event_source_mapping(UUID=uuid)

    def test_partial_batch_failures_checkpoint_at_the_lowest_failed_record_and_report_null_function_error(self):
        self.kinesis.create_stream(StreamName="partial", ShardCount=1)
        stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/partial"
        put = self.kinesis.put_records(StreamName="partial", Records=[
            {"PartitionKey": "k", "Data": self.data(n=0)},
            {"PartitionKey": "k", "Data": self.data(n=1, partial=True)},
            {"PartitionKey": "k", "Data": self.data(n=2)},
        ])["Records"]
        self.lam.create_event_source_mapping(
            FunctionName="probe", EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=10,
            MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"}})
        [message] = drain(self.sqs, self.failures, 1)
        record = json.loads(message["Body"])
        self.assertEqual(record["responseContext"]["functionError"], None)
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        info = record["KinesisBatchInfo"]
        # Retried from the reported record: it and the one after it are given up on together.
        self.assertEqual((info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]),
                         (put[1]["SequenceNumber"], put[2]["SequenceNumber"], 2))
        batches = [[json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in e["Records"]] for e in self.events()]
        self.assertEqual(batches, [[0, 1, 2], [1, 2]])

    def test_a_disabled_mapping_holds_records_and_a_restarted_host_resumes_from_the_checkpoint(self):
        self.kinesis.create_stream(StreamName="resume", ShardCount=2)
        stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/resume"
        uuid = self.lam.create_event_source_mapping(FunctionName="probe", EventSourceArn=stream_arn, StartingPosition="LATEST",
                                                    ParallelizationFactor=3)["UUID"]
        for i in range(10):
            self.kinesis.put_record(StreamName="resume", PartitionKey=f"user-{i}", Data=self.data(n=i))
        wait_for(lambda: sum(len(e["Records"]) for e in self.events()) == 10, what="ten records")
        self.assertEqual(self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"], "Updating")
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["State"], "Disabled")
        for i in range(10, 15):
            self.kinesis.put_record(StreamName="resume", PartitionKey=f"user-{i}", Data=self.data(n=i))
        time.sleep(1)
        self.assertEqual(sum(len(e["Records"]) for e in self.events()), 10)
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        wait_for(lambda: sum(len(e["Records"]) for e in self.events()) >= 15, what="the held records")
        time.sleep(0.3)
        self.assertEqual(sorted(json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for e in self.events() for r in e["Records"]), list(range(15)))

        self.host.stop()
        self.host.start()
        self.connect()
        for i in range(15, 20):
            self.kinesis.put_record(StreamName="resume", PartitionKey=f"user-{i}", Data=self.data(n=i))
        wait_for(lambda: sum(len(e["Records"]) for e in self.events()) >= 20, what="records after the restart")
        time.sleep(0.5)
        numbers = [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for e in self.events() for r in e["Records"]]
        self.assertEqual(sorted(numbers), list(range(20)))  # each once: the restart resumed from the checkpoints
        self.assertEqual(self.lam.list_event_source_mappings(FunctionName="probe")["EventSourceMappings"][0]["UUID"], uuid)

    def test_an_operator_skips_a_poison_record_that_blocks_its_shard(self):
        self.kinesis.create_stream(StreamName="stuck", ShardCount=1)
        uuid = self.lam.create_event_source_mapping(
            FunctionName="probe", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/stuck", StartingPosition="TRIM_HORIZON",
            BatchSize=10, MaximumBatchingWindowInSeconds=1, BisectBatchOnFunctionError=True)["UUID"]  # retried until it expires
        put = self.kinesis.put_records(StreamName="stuck", Records=[
            {"PartitionKey": "k", "Data": self.data(n=n, **({"fail": "handled"} if n == 1 else {}))} for n in range(3)])["Records"]

        def stuck_lane():
            [shard] = self.status()[0]["shards"]
            lane = shard["lanes"][0]
            batches = ([lane["inFlight"]] if lane.get("inFlight") else []) + lane["retries"]
            return shard if any(b["firstSequenceNumber"] == put[1]["SequenceNumber"] and b["records"] == 1 for b in batches) else None

        # Bisected down to the poison record, which holds the shard.
        shard = wait_for(stuck_lane, what="the poison record alone, retrying")
        self.assertEqual(shard["checkpoint"], put[0]["SequenceNumber"])
        result = subprocess.run([CHUTE, "mappings", "skip", "--data-dir", self.host.data_dir, uuid, "shardId-000000000000"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"skipped record {put[1]['SequenceNumber']}", result.stdout)
        self.assertIn("checkpoint moved by an operator", result.stderr)  # logged
        wait_for(lambda: self.status()[0]["shards"][0]["checkpoint"] == put[2]["SequenceNumber"], what="the shard past the poison record")
        batches = [[json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in e["Records"]] for e in self.events()]
        self.assertEqual(batches[:3], [[0, 1, 2], [0], [1, 2]])  # failed, then bisected: the good half, the failing half
        self.assertEqual(batches[-1], [2])  # after the skip, the record behind the poison one ran
        self.assertEqual(batches.count([2]), 1)
        listed = subprocess.run([CHUTE, "mappings", "list", "--data-dir", self.host.data_dir], capture_output=True, text=True, timeout=30).stdout
        self.assertIn(f"checkpoint: {put[2]['SequenceNumber']}", listed)

    def test_filters_drop_records_before_batching_and_at_timestamp_starts_where_it_says(self):
        self.kinesis.create_stream(StreamName="filtered", ShardCount=1)
        self.kinesis.put_record(StreamName="filtered", PartitionKey="k", Data=self.data(kind="keep", n=0))
        time.sleep(1.05 - time.time() % 1)  # into the next second: boto3 sends whole seconds
        since = int(time.time())
        self.kinesis.put_records(StreamName="filtered", Records=[
            {"PartitionKey": "k", "Data": self.data(kind="keep", n=1)},
            {"PartitionKey": "k", "Data": self.data(kind="drop", n=2)},
            {"PartitionKey": "k", "Data": b"not json"},
            {"PartitionKey": "k", "Data": self.data(kind="keep", n=4)},
        ])
        uuid = self.lam.create_event_source_mapping(
            FunctionName="probe", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/filtered", StartingPosition="AT_TIMESTAMP",
            StartingPositionTimestamp=since, BatchSize=10,
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]})["UUID"]
        self.assertEqual(self.lam.get_event_source_mapping(UUID=uuid)["FilterCriteria"],
                         {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]})
        wait_for(lambda: self.events(), what="a batch")
        time.sleep(0.5)
        batches = [[json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in e["Records"]] for e in self.events()]
        self.assertEqual(batches, [[1, 4]])  # n=0 is before the timestamp; the rest matched no filter
        # The checkpoint passed the filtered records too, and the mapping's metrics are exported.
        wait_for(lambda: self.status()[0]["shards"][0]["checkpoint"] == self.status()[0]["shards"][0]["readThrough"], what="the checkpoint")
        with urllib.request.urlopen(self.host.url + "/metrics") as response:
            metrics = response.read().decode()
        self.assertRegex(metrics, rf'EventSourceMappingRecordsProcessed\{{[^}}]*EventSourceMappingUUID="{uuid}"[^}}]*\}} 2')
        self.assertIn("IteratorAge", metrics)

    def test_a_tumbling_window_carries_state_between_batches_and_ends_with_a_final_invocation(self):
        self.kinesis.create_stream(StreamName="windows", ShardCount=1)
        self.kinesis.create_stream(StreamName="stateless", ShardCount=1)
        for stream, extra in (("windows", {}), ("stateless", {"MaximumRetryAttempts": 0, "DestinationConfig": {
                "OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"}}})):
            created = self.lam.create_event_source_mapping(
                FunctionName="probe", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}", StartingPosition="TRIM_HORIZON",
                BatchSize=2, TumblingWindowInSeconds=2, **extra)
            self.assertEqual(created["TumblingWindowInSeconds"], 2)
        self.kinesis.put_records(StreamName="windows", Records=[{"PartitionKey": "k", "Data": self.data(n=n)} for n in range(3)])

        finals = wait_for(lambda: [e for e in self.events() if e.get("isFinalInvokeForWindow")], what="the final invocation")
        windowed = [e for e in self.events() if "window" in e]
        self.assertEqual([len(e["Records"]) for e in windowed], [2, 1, 0])
        self.assertEqual([e["state"].get("records") for e in windowed], [None, 2, 3])  # {} first, then what each returned
        [final] = finals
        self.assertEqual((final["isWindowTerminatedEarly"], final["shardId"]), (False, "shardId-000000000000"))
        self.assertEqual(final["eventSourceARN"], f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/windows")
        self.assertEqual({e["window"]["start"] for e in windowed}, {final["window"]["start"]})
        start = time.strptime(final["window"]["start"], "%Y-%m-%dT%H:%M:%SZ")
        end = time.strptime(final["window"]["end"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(time.mktime(end) - time.mktime(start), 2)
        self.assertEqual(int(time.mktime(start)) % 2, 0)  # aligned to the window length

        # A windowed response without `state` is a failed invocation.
        self.kinesis.put_record(StreamName="stateless", PartitionKey="k", Data=self.data(nostate=True))
        [message] = drain(self.sqs, self.failures, 1)
        record = json.loads(message["Body"])
        self.assertEqual((record["requestContext"]["condition"], record["requestContext"]["approximateInvokeCount"]),
                         ("RetryAttemptsExhausted", 1))
        self.assertIsNone(record["responseContext"]["functionError"])

    def test_a_queue_mapping_deletes_what_succeeded_and_the_redrive_policy_takes_the_rest(self):
        sqs = self.sqs
        dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        jobs = sqs.create_queue(QueueName="jobs", Attributes={
            "VisibilityTimeout": "1", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
        created = self.lam.create_event_source_mapping(
            FunctionName="probe", EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs", BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["job"]}})}]})
        self.assertEqual((created["State"], created["StateTransitionReason"], created["BatchSize"]), ("Creating", "USER_INITIATED", 10))
        sqs.send_message(QueueUrl=jobs, MessageBody=json.dumps({"log": self.log, "kind": "job", "n": 1}),
                         MessageAttributes={"Author": {"DataType": "String", "StringValue": "Ada"}})
        sqs.send_message(QueueUrl=jobs, MessageBody=json.dumps({"log": self.log, "kind": "job", "n": 2, "partial": True}))
        sqs.send_message(QueueUrl=jobs, MessageBody=json.dumps({"log": self.log, "kind": "noise"}))
        [dead] = drain(sqs, dlq, 1)
        self.assertEqual(json.loads(dead["Body"])["n"], 2)  # reported twice, then moved by the redrive policy
        records = [r for e in self.events() for r in e["Records"]]
        self.assertEqual(sorted(json.loads(r["body"])["n"] for r in records), [1, 2, 2])  # the filtered message never ran
        first = next(r for r in records if json.loads(r["body"])["n"] == 1)
        self.assertEqual(set(first), {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
                                      "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"})
        self.assertEqual(first["eventSource"], "aws:sqs")
        self.assertEqual(first["md5OfBody"], hashlib.md5(first["body"].encode()).hexdigest())
        self.assertEqual(first["messageAttributes"]["Author"],
                         {"stringValue": "Ada", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
        self.assertEqual(first["attributes"]["ApproximateReceiveCount"], "1")
        # Nothing is left: the success and the filtered message were deleted.
        attributes = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["All"])["Attributes"]
        self.assertEqual((attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))

    def test_queue_batches_stay_under_six_megabytes(self):
        sqs = self.sqs
        big = sqs.create_queue(QueueName="big")["QueueUrl"]
        for n in range(8):
            sqs.send_message(QueueUrl=big, MessageBody=json.dumps({"log": self.log, "n": n, "pad": "x" * 1_000_000}))
        self.lam.create_event_source_mapping(FunctionName="probe", EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:big",
                                             BatchSize=100, MaximumBatchingWindowInSeconds=1)
        wait_for(lambda: sum(len(e["Records"]) for e in self.events()) >= 8, what="eight large messages")
        sizes = [len(e["Records"]) for e in self.events()]
        self.assertEqual(sum(sizes), 8)
        self.assertTrue(all(size <= 6 for size in sizes), sizes)  # 6 of about 1 MB fit under 6 MB; a seventh does not


if __name__ == "__main__":
    unittest.main()
