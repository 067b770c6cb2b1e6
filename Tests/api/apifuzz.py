"""An API-level fuzzer for `chute serve`, generated from boto3's service models.

It starts a host, then sends requests for every operation of the five APIs Chute speaks (Lambda
REST-JSON, SQS JSON 1.0, SNS query, EventBridge and Kinesis JSON 1.1), whether Chute implements the
operation or not. Each operation gets a valid-looking request first (built from the model's input
shape and the resources the fuzzer created, so that it reaches deep code), then mutations of it:
each member missing, of the wrong JSON type, out of range (-1, 2**63, 2**64, 1e300, 1e400, ...),
huge (70 KB, 1 MB), or a name with '..', '/', unicode or nothing; and whole bodies that are empty,
not JSON, deeply nested or oversized (2 MB, 8 MB). A few sequences make fuzzed values flow into
stored state and background workers (shard iterators then GetRecords, event source mappings at
odd timestamps, event times, filter policies, redrive policies, a bus that targets itself).

What counts as a failure: a response of 500 or more (a deliberate 503 excepted), a request that
does not answer within its timeout (a wedged host), the process dying, the host's memory passing a
limit, the periodic health check failing (GET /metrics, SQS ListQueues through boto3, re-creating
the fixtures), and a host that does not stop within 30 s of SIGTERM. After a failure the host is
restarted (first on the same data directory, to see whether the damage is stored, then on a fresh
one) and fuzzing goes on, so one run reports every distinct failure, each with the exact request
and the host's log.

Everything random comes from one seeded generator, so a run is reproducible. The run stops at a
request budget or a time budget, whichever comes first (failures cost time: a crashed host prints
its backtrace and is restarted). Run it:

    python3 -m unittest discover -s Tests/api -p test_api_fuzz.py -v      # the CI budget
    CHUTE_FUZZ_REQUESTS=50000 CHUTE_FUZZ_SECONDS=1200 CHUTE_FUZZ_SEED=5 python3 -m unittest discover -s Tests/api -p test_api_fuzz.py
    python3 Tests/api/apifuzz.py --requests 50000 --seconds 1200 --seed 5 --skip 'ListStreams Limit=-' --report out.json

Options (flags of apifuzz.py, or environment variables of the unit test): the budgets
(CHUTE_FUZZ_REQUESTS, CHUTE_FUZZ_SECONDS), the seed (CHUTE_FUZZ_SEED), regular expressions of case
labels to skip while exploring past a known failure (CHUTE_FUZZ_SKIP, comma-separated; labels look
like `kinesis.ListStreams Limit=-1` and are printed with each failure), operations and sequences to
keep (CHUTE_FUZZ_ONLY, a regular expression over `service.Operation` and the sequences' names), the
directory holding chute, chute-worker and libChuteFaults.so (CHUTE_FUZZ_BIN, .build/debug by
default) and a JSON report file (CHUTE_FUZZ_REPORT).
"""
import argparse
import base64
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field

import boto3
import botocore.config
import botocore.exceptions
import botocore.session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = ("lambda", "sqs", "sns", "events", "kinesis")
ACCOUNT, REGION = "000000000000", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fuzz"

DEFAULT_REQUESTS = 20000     # the CI budget: about every case the models give (10,000 take about 50 s when nothing fails)
DEFAULT_SECONDS = 150        # and the time budget for the generated cases (a crash costs about 8 s: backtrace and restart)
DEFAULT_SEED = 17
BATCH = 50                   # requests between health checks
REQUEST_TIMEOUT = 10         # seconds; longer means the host is wedged
MAX_RSS_MB = 1500            # the host's resident memory past which it counts as exhausted
UNIMPLEMENTED_CASES = 4      # cases for an operation Chute answers as unknown
CRASHES_PER_GROUP = 1        # after this many crashes or timeouts, the rest of a member's cases (or a sequence) are skipped


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

class Raw:
    """A JSON literal written as is: numbers Python cannot hold (1e400) and very deep nesting."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text if len(self.text) <= 40 else f"<raw {self.text[:12]}... {len(self.text)} chars>"


KB, MB = 1024, 1024 * 1024
# Big values are made once and shared by every case that uses them.
BIG_STRINGS = {70 * KB: "x" * (70 * KB), 1 * MB: "y" * MB}
BIG_BASE64 = base64.b64encode(b"b" * (MB + 1)).decode()
BIG_MAP = {f"k{i}": "v" for i in range(1001)}
DEEP_ARRAY = Raw("[" * 20000 + "]" * 20000)
DEEP_OBJECT = Raw('{"a":' * 20000 + "1" + "}" * 20000)
_long_lists = {}


def long_list(length):
    return _long_lists.setdefault(length, ["e"] * length)


WEIRD_NAMES = ["", " ", ".", "..", "a/b", "../../../etc/passwd", "%2e%2e%2f", "ünïcødé-名前-😀", "\u0000", "\ud800",
               "a" * 257, "shardId--1", "-1", "18446744073709551616", "NaN", "*", "\n"]
NUMBERS = [-1, 0, -2 ** 31 - 1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -2 ** 63 - 1, 10 ** 30, 1e300, -1e300, 1.5,
           -0.0, Raw("1e400"), Raw("-1e400")]
TIMESTAMPS = [-1, 0, 1e300, -1e300, 10_000_000_000_000_000, 2 ** 63, 2 ** 64, 1.7e12, 1e-300, Raw("1e400"), Raw("-1e400"),
              "2024-01-01T00:00:00Z", "yesterday", ""]
WEIRD_SEQUENCE_NUMBERS = ["18446744073709551615", "18446744073709551616", "0", "-1", "9" * 60, str(2 ** 128 - 1), str(2 ** 128),
                          "49590338271490256608559692538361571095921575989136588898", "1e300", "abc", ""]
ENDPOINTS = ["http://127.0.0.1:1/", "http://", "http://[::1", "http://127.0.0.1:99999/x", "https://", "file:///etc/passwd",
             "ftp://x", "arn:aws:sqs:us-east-1:000000000000:", "arn:aws:lambda:us-east-1:000000000000:function:", "arn:" + "x" * 5000,
             "arn:aws:sqs:us-east-1:000000000000:../../x", "arn:aws:events:us-east-1:000000000000:event-bus/"]
PATTERNS = ['{"n":[{"numeric":[">",1e300]}]}', '{"n":[{"numeric":["<",1e400]}]}', '{"n":[{"numeric":[">",0,"<","x"]}]}',
            '{"n":[{"numeric":["=",18446744073709551616]}]}', '{"s":[{"wildcard":"' + "*a" * 2000 + '"}]}',
            '{"s":[{"prefix":""}]}', '{"s":[{"anything-but":{"prefix":[]}}]}', '{"s":[{"cidr":"999.1.1.1/99"}]}',
            '{"s":[{"exists":"yes"}]}', '{"s":[{"equals-ignore-case":5}]}', '{"s":[]}', '{"s":{}}', "[]", "{}", "null",
            '{"a":' * 5000 + '["x"]' + "}" * 5000, '{"detail":{"n":[{"numeric":[">",-1e300,"<=",1e300]}]}}']
JSON_DOCUMENTS = ['{"n":1e400}', '{"time":1e300}', '{"n":18446744073709551616}', "[" * 10000 + "]" * 10000, "not json", "",
                  '"' + "z" * (300 * KB) + '"', '{"a":"\\ud800"}']


def short(value):
    """A label-sized description of a value."""
    if isinstance(value, str) and len(value) > 40:
        return f"<str {len(value) // KB} KB>" if len(value) >= KB else repr(value[:20] + "...")
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list) and len(value) > 3:
        return f"<list of {len(value)}>"
    if isinstance(value, dict) and len(value) > 3:
        return f"<map of {len(value)}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mutations(shape, member_name):
    """Wrong, out-of-range, missing and oversized values for a member of `shape`, as (label, value)."""
    kind = shape.type_name
    values = []
    wrong_types = {"string": "fuzz", "integer": 7, "float": 1.5, "boolean": True, "list": ["x"], "map": {"a": 1}, "null": None}
    native = {"string": "string", "integer": "integer", "long": "integer", "double": "float", "float": "float", "boolean": "boolean",
              "timestamp": "integer", "blob": "string", "list": "list", "map": "map", "structure": "map"}.get(kind)
    values += [value for name, value in wrong_types.items() if name != native]
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind in ("integer", "long", "double", "float"):
        values += NUMBERS + ["1", "abc"]
        values += [bound for bound in (low - 1 if low is not None else None, high + 1 if high is not None else None) if bound is not None]
    elif kind == "timestamp":
        values += TIMESTAMPS
    elif kind == "string":
        values += WEIRD_NAMES + [BIG_STRINGS[70 * KB], BIG_STRINGS[MB], "1e300", "9223372036854775808", "1.5", "inf", "nan"]
        if shape.enum:
            values += ["NOT_IN_ENUM", shape.enum[0].lower(), shape.enum[-1] + " "]
        if high and high < 70 * KB:
            values.append("h" * (high + 1))
        if re.search(r"Arn$|^Endpoint$|^Destination$|Url$", member_name):
            values += ENDPOINTS
        if re.search(r"Pattern|FilterPolicy|^AttributeValue$", member_name):
            values += PATTERNS
        if re.search(r"^Detail$|^Event$|Policy$|^Input$|^Message$|^MessageBody$", member_name):
            values += JSON_DOCUMENTS
        if re.search(r"SequenceNumber|HashKey|Iterator", member_name):
            values += WEIRD_SEQUENCE_NUMBERS
    elif kind == "blob":
        values += ["!!! not base64 !!!", "", "=", BIG_BASE64, BIG_STRINGS[70 * KB]]
    elif kind == "boolean":
        values += ["true", 1, 0]
    elif kind == "list":
        values += [[], [None], [1, 2], [{}], DEEP_ARRAY, long_list(min(high or 1000, 100_000) + 1)]
    elif kind == "map":
        values += [{}, [], {"": "x"}, {"k": 1}, {"k": None}, {"k": {"a": [1]}}, BIG_MAP, DEEP_OBJECT]
    elif kind == "structure":
        values += [{}, [], "x", 1, {"Unknown": 1}, DEEP_OBJECT]
    return [(short(value), value) for value in values]


# --------------------------------------------------------------------------------------------
# Fixtures: the resources a valid-looking request names
# --------------------------------------------------------------------------------------------

def faults_zip(library):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with open(library, "rb") as f:
            archive.writestr("libfaults.so", f.read())
    return buffer.getvalue()


class HealthError(Exception):
    """A normal request failed: the host is not healthy."""


class Fixtures:
    """The queue, topic, subscription, bus and rule, stream, function and mapping that valid-looking
    requests refer to, (re)created through boto3 at each health check (fuzzed requests delete and
    change them), with values read back from the host: a receipt handle, a sequence number, a
    shard iterator, a subscription ARN and a mapping UUID."""

    QUEUE, DLQ, TOPIC, BUS, RULE, STREAM = "fuzz-queue", "fuzz-dlq", "fuzz-topic", "fuzz-bus", "fuzz-rule", "fuzz-stream"
    FUNCTION = "faults"  # declared in the configuration file: Invoke calls it
    API_FUNCTION = "fuzz-fn"  # created through the API: the function operations change it (a declared one's code is the file's)
    MAPPED_STREAM = "fuzz-mapped"  # the stream new mappings read (fuzz-stream has the fixture's mapping)

    def __init__(self, zip_bytes):
        self.zip = zip_bytes
        self.url = None
        self.receipt = "AQEB-not-a-real-receipt"
        self.sequence = "0"
        self.iterator = "not-an-iterator"
        self.subscription = f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.TOPIC}:00000000-0000-0000-0000-000000000000"
        self.mapping = "00000000-0000-0000-0000-000000000000"
        self.clients = {}

    def queue_url(self, name=QUEUE):
        return f"{self.url}/{ACCOUNT}/{name}"

    @staticmethod
    def arn(service, resource):
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def client(self, service):
        key = (service, self.url)
        if key not in self.clients:
            self.clients[key] = self.make_client(service)
        return self.clients[key]

    def make_client(self, service):
        config = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=REQUEST_TIMEOUT)
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="fuzz",
                            aws_secret_access_key="fuzz", config=config)

    def check(self, call, *arguments, **keywords):
        """Calls a boto3 operation: a 4xx is fine (the resource exists already, ...), anything else is
        a failed health check."""
        try:
            return call(*arguments, **keywords)
        except botocore.exceptions.ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or status == 0:
                raise HealthError(f"{call.__name__}: {error}") from None
            return None
        except Exception as error:  # no answer, or one boto3 cannot read
            raise HealthError(f"{call.__name__}: {error!r}") from None

    def refresh(self, url):
        self.url = url
        sqs, sns, events, kinesis, lam = (self.client(s) for s in ("sqs", "sns", "events", "kinesis", "lambda"))
        for name in (self.QUEUE, self.DLQ):
            self.check(sqs.create_queue, QueueName=name)
            # Fuzzed values that were accepted (a 15-minute delay, a redrive after one receive) stay otherwise.
            self.check(sqs.set_queue_attributes, QueueUrl=self.queue_url(name), Attributes={
                "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": ""})
        self.check(sqs.purge_queue, QueueUrl=self.queue_url())
        self.check(sqs.send_message, QueueUrl=self.queue_url(), MessageBody="hello")
        received = self.check(sqs.receive_message, QueueUrl=self.queue_url(), MaxNumberOfMessages=1, WaitTimeSeconds=1)
        for message in (received or {}).get("Messages", []):
            self.receipt = message["ReceiptHandle"]

        topic = (self.check(sns.create_topic, Name=self.TOPIC) or {}).get("TopicArn", self.arn("sns", self.TOPIC))
        subscriptions = (self.check(sns.list_subscriptions_by_topic, TopicArn=topic) or {}).get("Subscriptions", [])
        if subscriptions:
            self.subscription = subscriptions[0]["SubscriptionArn"]
        else:
            created = self.check(sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint=self.arn("sqs", self.QUEUE))
            self.subscription = (created or {}).get("SubscriptionArn", self.subscription)
        self.check(sns.set_subscription_attributes, SubscriptionArn=self.subscription, AttributeName="FilterPolicy", AttributeValue="{}")

        self.check(events.create_event_bus, Name=self.BUS)
        self.check(events.put_rule, Name=self.RULE, EventBusName=self.BUS, EventPattern='{"source":["fuzz"]}')
        self.check(events.put_targets, Rule=self.RULE, EventBusName=self.BUS,
                   Targets=[{"Id": "fuzz-target", "Arn": self.arn("sqs", self.QUEUE)}])

        self.check(kinesis.create_stream, StreamName=self.STREAM, ShardCount=2)
        self.check(kinesis.create_stream, StreamName=self.MAPPED_STREAM, ShardCount=1)
        put = self.check(kinesis.put_record, StreamName=self.STREAM, PartitionKey="pk", Data=b"hello",
                         ExplicitHashKey="0")  # shard 0
        if put:
            self.sequence = put["SequenceNumber"]
        iterator = self.check(kinesis.get_shard_iterator, StreamName=self.STREAM, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")
        if iterator:
            self.iterator = iterator["ShardIterator"]

        for name in (self.FUNCTION, self.API_FUNCTION):
            if self.check(lam.get_function, FunctionName=name) is None:
                self.check(lam.create_function, FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                           Handler="libfaults.so:chute_handle", Code={"ZipFile": self.zip}, Timeout=3)
            self.check(lam.delete_function_concurrency, FunctionName=name)
            self.check(lam.delete_function_event_invoke_config, FunctionName=name)
        # Keep one mapping on the stream: fuzzed creates would otherwise pile up shard workers.
        mappings = (self.check(lam.list_event_source_mappings) or {}).get("EventSourceMappings", [])
        keep = next((m["UUID"] for m in mappings if m.get("EventSourceArn") == self.arn("kinesis", "stream/" + self.STREAM)
                     and m.get("FunctionName", "").endswith(":" + self.FUNCTION)), None)
        for mapping in mappings:
            if mapping["UUID"] != keep:
                self.check(lam.delete_event_source_mapping, UUID=mapping["UUID"])
        if keep is None:
            created = self.check(lam.create_event_source_mapping, FunctionName=self.FUNCTION, StartingPosition="LATEST",
                                 EventSourceArn=self.arn("kinesis", "stream/" + self.STREAM), BatchSize=10)
            keep = (created or {}).get("UUID")
        self.mapping = keep or self.mapping

    def health(self, url):
        """GET /metrics answers 200 and SQS ListQueues works through boto3."""
        try:
            parsed = urllib.parse.urlsplit(url)
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=REQUEST_TIMEOUT)
            connection.request("GET", "/metrics")
            status = connection.getresponse().status
            connection.close()
        except OSError as error:
            raise HealthError(f"GET /metrics: {error!r}") from None
        if status != 200:
            raise HealthError(f"GET /metrics answered {status}")
        self.url = url
        if self.check(self.client("sqs").list_queues) is None:
            raise HealthError("SQS ListQueues failed")


def known_values(fx):
    """Valid-looking values by service, looked up as `Operation.Member`, then `shape:ShapeName`, then
    `Member`. Optional members listed here are part of the valid-looking request. Creates make
    `fuzz-created` and deletes remove it, not the fixtures the other requests need."""
    queue_arn, dlq_arn = fx.arn("sqs", fx.QUEUE), fx.arn("sqs", fx.DLQ)
    stream_arn = fx.arn("kinesis", "stream/" + fx.STREAM)
    created, no_uuid = "fuzz-created", "00000000-0000-0000-0000-000000000000"
    event = {"id": "1", "source": "fuzz", "detail-type": "t", "account": ACCOUNT, "region": REGION,
             "time": "2024-01-01T00:00:00Z", "resources": [], "detail": {"n": 1}}
    return {
        "lambda": {
            # Functions
            "FunctionName": fx.API_FUNCTION, "Invoke.FunctionName": fx.FUNCTION,
            "CreateFunction.FunctionName": created, "DeleteFunction.FunctionName": created,
            "Runtime": "provided.al2023", "Role": ROLE, "Handler": "libfaults.so:chute_handle",
            "Code": {"ZipFile": fx.zip}, "ZipFile": fx.zip, "Timeout": 3, "MemorySize": 128, "Description": "fuzz",
            "Environment": {"Variables": {"FUZZ": "1"}}, "DeadLetterConfig": {"TargetArn": dlq_arn},
            "ReservedConcurrentExecutions": 2,
            # Invoke and the event invoke config
            "Payload": b'{"action":"echo"}', "InvocationType": "RequestResponse", "LogType": "Tail",
            "MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60,
            "DestinationConfig": {"OnFailure": {"Destination": dlq_arn}},
            # Event source mappings (new ones read their own stream: fuzz-stream has the fixture's)
            "EventSourceArn": stream_arn, "CreateEventSourceMapping.EventSourceArn": fx.arn("kinesis", "stream/" + fx.MAPPED_STREAM),
            "ListEventSourceMappings.EventSourceArn": stream_arn, "StartingPosition": "TRIM_HORIZON", "BatchSize": 10,
            "Enabled": True, "MaximumBatchingWindowInSeconds": 0, "UUID": fx.mapping, "DeleteEventSourceMapping.UUID": no_uuid,
        },
        "sqs": {
            "QueueUrl": fx.queue_url(), "QueueName": fx.QUEUE, "CreateQueue.QueueName": created,
            "DeleteQueue.QueueUrl": fx.queue_url(created), "Attributes": {"VisibilityTimeout": "30"},
            "AttributeNames": ["All"], "MessageAttributeNames": ["All"],
            "MessageBody": "hello", "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}, "DelaySeconds": 0,
            "Id": "1", "ReceiptHandle": fx.receipt, "VisibilityTimeout": 5, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 0,
        },
        "sns": {
            "TopicArn": fx.arn("sns", fx.TOPIC), "Name": fx.TOPIC, "CreateTopic.Name": created,
            "DeleteTopic.TopicArn": fx.arn("sns", created), "CreateTopic.Attributes": {"DisplayName": "fuzz"},
            "Protocol": "sqs", "Endpoint": queue_arn, "Subscribe.Attributes": {"RawMessageDelivery": "true"},
            "SubscriptionArn": fx.subscription, "Unsubscribe.SubscriptionArn": fx.arn("sns", f"{fx.TOPIC}:{no_uuid}"),
            "AttributeName": "FilterPolicy", "AttributeValue": '{"n":[{"numeric":[">",0]}]}',
            "Message": "hello", "Subject": "fuzz", "Id": "1", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"}},
        },
        "events": {
            "shape:EventBusName": fx.BUS, "shape:EventBusNameOrArn": fx.BUS, "shape:NonPartnerEventBusNameOrArn": fx.BUS,
            "CreateEventBus.Name": created, "DeleteEventBus.Name": created,
            "shape:RuleName": fx.RULE, "DeleteRule.Name": created, "EventPattern": '{"source":["fuzz"]}', "State": "ENABLED",
            "Targets": [{"Id": "fuzz-target", "Arn": queue_arn}], "Ids": ["fuzz-target"],
            "Source": "fuzz", "DetailType": "fuzz", "Detail": '{"n":1}', "Time": time.time(), "Event": json.dumps(event),
        },
        "kinesis": {
            "StreamName": fx.STREAM, "CreateStream.StreamName": created, "DeleteStream.StreamName": created, "ShardCount": 1,
            "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON", "StartingSequenceNumber": fx.sequence,
            "ShardIterator": fx.iterator, "Limit": 10, "PartitionKey": "pk", "Data": b"hello",
        },
    }


# When a member is mutated, these companions make the mutation matter (a Timestamp is only read
# for AT_TIMESTAMP).
COMPANIONS = {
    ("kinesis", "GetShardIterator", "Timestamp"): {"ShardIteratorType": "AT_TIMESTAMP"},
    ("kinesis", "GetShardIterator", "StartingSequenceNumber"): {"ShardIteratorType": "AT_SEQUENCE_NUMBER"},
    ("lambda", "CreateEventSourceMapping", "StartingPositionTimestamp"): {"StartingPosition": "AT_TIMESTAMP"},
}

# Cases every run sends, whatever the sampling picks: the crashers issue 17 found (see also the
# sequences). Each is (service, operation, {path: value}).
PINNED = [
    ("kinesis", "ListStreams", {("Limit",): -1}),
    ("kinesis", "GetShardIterator", {("ShardIteratorType",): "AT_TIMESTAMP", ("Timestamp",): 1e300}),
    ("kinesis", "CreateStream", {("ShardCount",): 1e300}),
    ("events", "PutEvents", {("Entries", 0, "Time"): 1e300}),
    ("events", "PutEvents", {("Entries", 0, "Time"): 10_000_000_000_000_000}),
    ("lambda", "CreateEventSourceMapping", {("StartingPosition",): "AT_TIMESTAMP", ("StartingPositionTimestamp",): 1e300}),
    ("events", "CreateEventBus", {("Name",): ".."}),
    ("events", "PutRule", {("Name",): "a/b"}),
    ("kinesis", "GetShardIterator", {("ShardId",): "shardId--1"}),
]


# --------------------------------------------------------------------------------------------
# Requests: what valid-looking values and mutations become on the wire
# --------------------------------------------------------------------------------------------

@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes
    timeout: float = REQUEST_TIMEOUT

    def describe(self, limit=400):
        body = self.body[:limit]
        more = f"... ({len(self.body)} bytes)" if len(self.body) > limit else ""
        headers = {k: (v if len(v) <= 200 else v[:200] + f"... ({len(v)} chars)") for k, v in self.headers.items()}
        path = self.path if len(self.path) <= 300 else self.path[:300] + f"... ({len(self.path)} chars)"
        return f"{self.method} {path}\n    headers: {headers}\n    body: {body!r}{more}"


def to_json(value):
    """JSON text, with Raw literals as they are and bytes as base64 (as AWS's JSON protocols send blobs)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bytes):
        return json.dumps(base64.b64encode(value).decode())
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + to_json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def text(value):
    """A value as a path segment, query parameter, header or form field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, (dict, list)):
        return to_json(value)
    return str(value)


def utf8(string):
    return string.encode("utf-8", "surrogatepass")


def quote(value, safe=""):
    return urllib.parse.quote(utf8(text(value)), safe=safe)


def serialize(model, operation, params):
    """The HTTP request for `params` (a dict, possibly ill-typed) in the service's protocol."""
    op = model.operation_model(operation)
    if model.protocol == "json":
        headers = {"X-Amz-Target": f"{model.metadata['targetPrefix']}.{operation}",
                   "Content-Type": f"application/x-amz-json-{model.metadata['jsonVersion']}"}
        return Request("POST", "/", headers, utf8(to_json(params)))
    if model.protocol == "query":
        pairs = [("Action", operation), ("Version", model.api_version)]
        flatten_query(params, "", op.input_shape, pairs)
        body = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
        return Request("POST", "/", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body.encode())
    return rest_json_request(op, params)


def flatten_query(value, prefix, shape, pairs):
    """The query protocol's flattening (`A.member.1`, `M.entry.1.key`), by the value's own type so
    that ill-typed values come out ill-typed."""
    kind = shape.type_name if shape is not None else None
    if isinstance(value, dict) and kind == "map":
        key_name, value_name = shape.key.serialization.get("name", "key"), shape.value.serialization.get("name", "value")
        for index, (key, item) in enumerate(value.items(), 1):
            pairs.append((f"{prefix}.entry.{index}.{key_name}", text(key)))
            flatten_query(item, f"{prefix}.entry.{index}.{value_name}", shape.value, pairs)
    elif isinstance(value, dict):
        members = shape.members if kind == "structure" else {}
        for key, item in value.items():
            flatten_query(item, f"{prefix}.{key}" if prefix else str(key), members.get(key), pairs)
    elif isinstance(value, list):
        for index, item in enumerate(value, 1):
            flatten_query(item, f"{prefix}.member.{index}", shape.member if kind == "list" else None, pairs)
    else:
        pairs.append((prefix, text(value)))


def rest_json_request(op, params):
    """Lambda's REST-JSON: path parameters in the URI, query string and header members where the
    model puts them, a blob payload as the raw body, the other members as a JSON object."""
    uri, _, static_query = op.http["requestUri"].partition("?")
    query = urllib.parse.parse_qsl(static_query, keep_blank_values=True)
    headers, body_members, payload = {}, {}, None
    members = op.input_shape.members if op.input_shape is not None else {}
    payload_name = op.input_shape.serialization.get("payload") if op.input_shape is not None else None
    for name, value in params.items():
        member = members.get(name)
        location = member.serialization.get("location") if member is not None else None
        wire = member.serialization.get("name", name) if member is not None else name
        if location == "uri":
            uri = uri.replace("{%s+}" % wire, quote(value, safe="/")).replace("{%s}" % wire, quote(value))
        elif location == "querystring":
            if isinstance(value, dict):
                query += [(key, text(item)) for key, item in value.items()]
            else:
                query += [(wire, text(item)) for item in (value if isinstance(value, list) else [value])]
        elif location == "header":
            headers[wire] = text(value)
        elif name == payload_name:
            payload = value if isinstance(value, bytes) else utf8(value if isinstance(value, str) else to_json(value))
        else:
            body_members[name] = value
    uri = re.sub(r"\{[^}]+\}", "", uri)  # a missing path parameter: an empty segment
    if query:
        uri += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    if payload is None:
        payload = utf8(to_json(body_members)) if body_members or op.http["method"] in ("POST", "PUT") else b""
    if payload:
        headers["Content-Type"] = "application/json"
    return Request(op.http["method"], uri, headers, payload)


# --------------------------------------------------------------------------------------------
# Cases: one request each, built when sent (the fixtures change) from a plan made up front
# --------------------------------------------------------------------------------------------

MISSING = object()


def path_label(path):
    """("Entries", 0, "Time") as Entries[0].Time."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@dataclass
class Case:
    service: str
    operation: str
    label: str
    build: object     # Fuzzer -> Request
    member: str = ""  # what the case mutates ("Entries[0].Time", "body"): a crash skips the rest of the operation's cases on it

    @property
    def name(self):
        return f"{self.service}.{self.operation} {self.label}"

    @property
    def group(self):
        return f"{self.service}.{self.operation} {self.member or self.label}"


def child(shape, key):
    """The shape of a structure's member, a list's element or a map's value."""
    if shape.type_name == "structure":
        return shape.members[key]
    return shape.member if shape.type_name == "list" else shape.value


def interleave(first, second, ratio):
    """`ratio` items of `first` for each one of `second`, while both last."""
    mixed = []
    while first or second:
        mixed += first[:ratio] + second[:1]
        del first[:ratio], second[:1]
    return mixed


class Generator:
    """Valid-looking values and their mutations for one operation's input shape."""

    def __init__(self, model, operation, fx):
        self.model, self.operation, self.fx = model, operation, fx
        self.service = model.service_name
        self.shape = model.operation_model(operation).input_shape

    def known(self, member, shape):
        table = known_values(self.fx)[self.service]
        for key in (f"{self.operation}.{member}", f"shape:{shape.name}", member):
            if key in table:
                return table[key]
        return MISSING

    def value(self, shape, member, depth=0):
        """A valid-looking value: a known one, else one that fits the shape's type and range."""
        known = self.known(member, shape)
        if known is not MISSING:
            return known
        kind, low, high = shape.type_name, shape.metadata.get("min"), shape.metadata.get("max")
        if kind == "structure":
            return self.structure(shape, depth + 1) if depth < 6 else {}
        if kind == "list":
            return [self.value(shape.member, member, depth + 1)] if depth < 6 else []
        if kind == "map":
            return {"fuzz": self.value(shape.value, member, depth + 1)} if depth < 6 else {}
        if kind == "string":
            if shape.enum:
                return shape.enum[0]
            return "fuzz" if (low or 0) <= 4 else "f" * low
        if kind in ("integer", "long"):
            return min(max(1, low if low is not None else 1), high if high is not None else 1)
        if kind in ("double", "float"):
            return float(max(1, low or 1))
        if kind == "boolean":
            return False
        if kind == "timestamp":
            return int(time.time())
        if kind == "blob":
            return b"fuzz"
        return "fuzz"

    def structure(self, shape, depth=0):
        """Required members, and the optional ones with known values."""
        result = {}
        for name, member in shape.members.items():
            if name in shape.required_members or self.known(name, member) is not MISSING:
                result[name] = self.value(member, name, depth)
        return result

    def baseline(self):
        return self.structure(self.shape) if self.shape is not None else {}

    def targets(self, shape=None, base=None, path=(), depth=0, in_base=True):
        """Every (path, shape, tier) a mutation may aim at: members of the valid-looking request are
        tier 1, optional members it leaves out tier 2."""
        shape = shape if shape is not None else self.shape
        if shape is None:
            return
        base = base if isinstance(base, dict) else {}
        for name, member in shape.members.items():
            here = in_base and name in base
            yield path + (name,), member, 1 if here else 2
            if depth >= 3 or (not here and depth >= 1):
                continue
            sub = base.get(name) if here else None
            if member.type_name == "structure":
                yield from self.targets(member, sub, path + (name,), depth + 1, here)
            elif member.type_name == "list":
                element = sub[0] if isinstance(sub, list) and sub else None
                if member.member.type_name == "structure":
                    yield from self.targets(member.member, element, path + (name, 0), depth + 1, here)
                else:
                    yield path + (name, 0), member.member, 1 if here else 2
            elif member.type_name == "map":
                keys = list(member.key.enum or []) or (list(sub) if isinstance(sub, dict) else []) or ["fuzz"]
                for key in keys[:12]:
                    yield path + (name, key), member.value, 1 if here else 2

    def apply(self, body, path, value):
        """Sets `path` in `body`, making the containers on the way from the shape, or removes it for MISSING."""
        shape, node = self.shape, body
        for key in path[:-1]:
            shape = child(shape, key)
            if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
                node[key] = self.value(shape, key)
            node = node[key]
        if value is MISSING:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
        return body

    def case(self, label, overrides, member=""):
        """A case: the valid-looking request with `overrides` ({path: value}) applied."""
        def build(fuzzer):
            self.fx = fuzzer.fixtures
            body = self.baseline()
            for path, value in overrides.items():
                body = self.apply(body, path, value)
            return serialize(self.model, self.operation, body)
        return Case(self.service, self.operation, label, build, member)

    def raw_case(self, label, body, content_type=None, method=None):
        """A case whose body is given as bytes (or made by a function of the valid-looking request)."""
        def build(fuzzer):
            self.fx = fuzzer.fixtures
            request = serialize(self.model, self.operation, self.baseline())
            request.body = body(request.body) if callable(body) else body
            if content_type:
                request.headers["Content-Type"] = content_type
            if method:
                request.method = method
            return request
        return Case(self.service, self.operation, label, build, "body")

    def body_cases(self):
        """Whole bodies that are empty, not JSON (or not a form), deeply nested, invalid UTF-8 or oversized."""
        pad = lambda size: (lambda body: body[:-1] + b',"FuzzPadding":"' + b"p" * size + b'"}' if body.endswith(b"}")
                            else body + b"&FuzzPadding=" + b"p" * size)
        essential = [self.raw_case("body=empty", b""), self.raw_case("body=not-json", b"not json {"),
                     self.raw_case("body=2MB", pad(2 * MB))]
        more = [self.raw_case("body=[]", b"[]"), self.raw_case("body=null", b"null"), self.raw_case('body="s"', b'"s"'),
                self.raw_case("body=1e400", b"1e400"), self.raw_case("body=invalid-utf8", lambda b: b[:-1] + b'\xff\xfe\xc0"}'),
                self.raw_case("body=deep-array", b"[" * 100_000 + b"]" * 100_000),
                self.raw_case("body=deep-object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
                self.raw_case("body=8MB", pad(8 * MB)), self.raw_case("body=70KB", pad(70 * KB)),
                self.raw_case("body=duplicate-keys", lambda b: b[:-1] + b"," + b[1:] if b.startswith(b"{") else b + b"&" + b),
                self.raw_case("content-type=text/plain", lambda b: b, content_type="text/plain"),
                self.raw_case("body=%ZZ", lambda b: b + b"&%ZZ=%&=&&a.member.99999999999999999999=1&Attributes.entry.-1.key=k")]
        if self.model.protocol == "rest-json":
            more.append(self.raw_case("method=PATCH", lambda b: b, method="PATCH"))
        return essential, more

    def cases(self, rng):
        """The operation's cases, most telling first: the valid-looking request, the pinned ones,
        the essential body cases, each required member missing, then the mutations shuffled, three
        of members in the valid-looking request for one of an optional member it leaves out."""
        essential, more_bodies = self.body_cases()
        first = [self.case("valid", {})]
        for service, operation, overrides in PINNED:
            if (service, operation) == (self.service, self.operation):
                label = " ".join(f"{path_label(path)}={short(value)}" for path, value in overrides.items())
                first.append(self.case(label, overrides, member=path_label(list(overrides)[-1])))
        first += essential
        in_request, left_out = [], list(more_bodies)
        for path, shape, tier in self.targets(base=self.baseline()):
            where = path_label(path)
            member = next(p for p in reversed(path) if isinstance(p, str))
            parent = self.shape
            for key in path[:-1]:
                parent = child(parent, key)
            if tier == 1 and parent.type_name == "structure" and path[-1] in parent.required_members:
                first.append(self.case(f"{where} missing", {path: MISSING}))
            companions = {(name,): value for name, value in COMPANIONS.get((self.service, self.operation, member), {}).items()}
            for label, value in mutations(shape, member):
                (in_request if tier == 1 else left_out).append(self.case(f"{where}={label}", {**companions, path: value}, member=where))
        rng.shuffle(in_request)
        rng.shuffle(left_out)
        return first + interleave(in_request, left_out, 3)


def misc_cases():
    """Requests outside any operation: unknown targets and paths, odd methods, huge headers."""
    def fixed(label, method, path, headers, body=b""):
        return Case("http", "misc", label, lambda fuzzer: Request(method, path, dict(headers), body))
    json_type = {"Content-Type": "application/x-amz-json-1.1"}
    return [
        fixed("no target, JSON body", "POST", "/", json_type, b'{"QueueName":"x"}'),
        fixed("target AmazonSQS.", "POST", "/", {**json_type, "X-Amz-Target": "AmazonSQS."}, b"{}"),
        fixed("target Kinesis_20131202.<70 KB>", "POST", "/", {**json_type, "X-Amz-Target": "Kinesis_20131202." + "A" * 70 * KB}, b"{}"),
        fixed("target AWSEvents.ünï", "POST", "/", {**json_type, "X-Amz-Target": "AWSEvents.ünï"}, b"{}"),
        fixed("target Unknown.Op", "POST", "/", {**json_type, "X-Amz-Target": "Unknown.Op"}, b"{}"),
        fixed("GET /", "GET", "/", {}),
        fixed("DELETE /", "DELETE", "/", {}),
        fixed("path traversal", "GET", "/2015-03-31/functions/..%2F..%2Fetc%2Fpasswd/configuration", {}),
        fixed("path 70 KB", "GET", "/2015-03-31/functions/" + "f" * 70 * KB, {}),
        fixed("percent garbage", "GET", "/2015-03-31/functions/%ZZ%/configuration", {}),
        fixed("100 headers of 8 KB", "GET", "/metrics", {f"X-Fuzz-{i}": "h" * 8 * KB for i in range(100)}),
        fixed("chute mappings", "GET", "/chute/mappings", {}),
        fixed("metrics POST", "POST", "/metrics", {}, b"x" * MB),
        fixed("invocations without name", "POST", "/2015-03-31/functions//invocations", {}, b"{}"),
        fixed("event-source-mappings query", "GET",
              "/2015-03-31/event-source-mappings/?FunctionName=%00&MaxItems=-1&Marker=" + "m" * 5000, {}),
    ]


# --------------------------------------------------------------------------------------------
# Sequences: values that flow into stored state and background workers
# --------------------------------------------------------------------------------------------

class Abort(Exception):
    """The host failed: the rest of the sequence's attempt is skipped."""


def sequences():
    """(name, values, function(fuzzer, value)): each value is one attempt, a few requests sent with
    fuzzer.call; a failed host ends only that attempt."""
    return [
        ("kinesis: a shard iterator at an odd sequence number, then GetRecords",
         [(kind, number) for number in WEIRD_SEQUENCE_NUMBERS + [None] for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")],
         seq_sequence_number),
        ("kinesis: a shard iterator at an odd timestamp, then GetRecords", TIMESTAMPS + [4_102_444_800, 2 ** 53],
         seq_iterator_timestamp),
        ("kinesis: GetRecords with a forged shard iterator or an odd limit", FORGED_ITERATORS + [-1, 0, 10_001, 2 ** 63, 1e300],
         seq_forged_iterator),
        ("lambda: an event source mapping at an odd starting timestamp",
         [1e300, -1e300, Raw("1e400"), 2 ** 63, 10_000_000_000_000_000, -1, 0, 4_102_444_800, "x"], seq_mapping_timestamp),
        ("lambda: an event source mapping over a queue with odd batching",
         [{"BatchSize": 10_000, "MaximumBatchingWindowInSeconds": 300}, {"BatchSize": 2 ** 63}, {"MaximumBatchingWindowInSeconds": -1},
          {"ScalingConfig": {"MaximumConcurrency": 2 ** 31}}, {"FilterCriteria": {"Filters": [{"Pattern": p} for p in PATTERNS[:6]]}},
          {"MaximumRetryAttempts": 2 ** 40}, {"FunctionResponseTypes": ["ReportBatchItemFailures", "x"]}], seq_queue_mapping),
        ("events: PutEvents at an odd time, delivered to a queue", TIMESTAMPS + [2 ** 53, -62135596801, 253402300800], seq_event_time),
        ("events: TestEventPattern with odd events", [1e300, Raw("1e400"), "", None, [], {"a": 1}, 2 ** 64], seq_test_event_time),
        ("sns: a filter policy, then Publish with Number attributes", PATTERNS[:6] + ['{"n":[{"numeric":[">",0]}]}'], seq_sns_policy),
        ("sns: Publish with odd Number attributes",
         ["nan", "NaN", "inf", "-inf", "1e400", "1e300", "18446744073709551616", "0x10", "", "-0", "1" * 400], seq_sns_number),
        ("sqs: a redrive policy with an odd maxReceiveCount", [1, 0, -1, 2 ** 31, 2 ** 63, "1e300", "x"], seq_redrive),
        ("sqs: odd queue attributes, then send and receive",
         [("VisibilityTimeout", str(2 ** 63)), ("MessageRetentionPeriod", "-1"), ("DelaySeconds", "1e300"), ("MaximumMessageSize", "0"),
          ("ReceiveMessageWaitTimeSeconds", "99999999999999999999"), ("RedrivePolicy", '{"maxReceiveCount":1e400}')], seq_queue_attribute),
        ("sqs: odd delays and visibility timeouts on messages", [-1, 901, 43201, 2 ** 63, 1e300, Raw("1e400")], seq_message_timing),
        ("lambda: odd async settings, then an asynchronous invoke",
         [{"MaximumRetryAttempts": 2 ** 63}, {"MaximumEventAgeInSeconds": 2 ** 63}, {"MaximumEventAgeInSeconds": -1},
          {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60,
           "DestinationConfig": {"OnFailure": {"Destination": "http://127.0.0.1:1/"}}}],
         seq_async_settings),
        ("lambda: an odd function configuration, then an invoke",
         [{"Timeout": 2 ** 63}, {"MemorySize": -1}, {"Timeout": 1e300}, {"Environment": {"Variables": {"A": "\u0000"}}},
          {"ReservedConcurrentExecutions": 2 ** 31}], seq_function_configuration),
        ("deliveries to odd HTTP endpoints (targets, subscriptions, destinations)", HTTP_ENDPOINTS, seq_http_endpoint),
        ("events: wildcard patterns against long values", [1000, 100_000, 900_000], seq_wildcard),
        ("events: a bus whose rule targets the bus itself", [3], seq_bus_loop),
    ]


FORGED_ITERATORS = ["v1/0/at/18446744073709551615/fuzz-stream", "v1/-1/trim/fuzz-stream", "v1/99999999999999/trim/fuzz-stream",
                    "v1/0/time/-9223372036854775808/fuzz-stream", "v1/0/time/9223372036854775807/fuzz-stream",
                    "v1/0/after/18446744073709551615/fuzz-stream", "v1/0/trim/", "v1/0/trim/../../x", "v1", ""]


def seq_sequence_number(fz, value):
    kind, number = value
    number = fz.fixtures.sequence if number is None else number
    response = fz.call("kinesis", "GetShardIterator", {"StreamName": fz.fixtures.STREAM, "ShardId": "shardId-000000000000",
                                                       "ShardIteratorType": kind, "StartingSequenceNumber": number})
    if response.status == 200:
        fz.call("kinesis", "GetRecords", {"ShardIterator": response.json().get("ShardIterator", "")},
                note=f"with the iterator of {kind} {short(number)}")


def seq_iterator_timestamp(fz, timestamp):
    response = fz.call("kinesis", "GetShardIterator", {"StreamName": fz.fixtures.STREAM, "ShardId": "shardId-000000000000",
                                                       "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": timestamp})
    if response.status == 200:
        fz.call("kinesis", "GetRecords", {"ShardIterator": response.json().get("ShardIterator", "")},
                note=f"with the iterator of AT_TIMESTAMP {short(timestamp)}")


def seq_forged_iterator(fz, value):
    if isinstance(value, str):  # Chute's iterators are base64 of v1/SHARD/POSITION/STREAM
        fz.call("kinesis", "GetRecords", {"ShardIterator": base64.b64encode(value.encode()).decode()}, note=f"forged iterator {value!r}")
    else:
        fz.call("kinesis", "GetRecords", {"ShardIterator": fz.fixtures.iterator, "Limit": value})


def seq_mapping_timestamp(fz, timestamp):
    fx = fz.fixtures
    response = fz.call("lambda", "CreateEventSourceMapping", {
        "FunctionName": fx.FUNCTION, "EventSourceArn": fx.arn("kinesis", "stream/" + fx.MAPPED_STREAM),
        "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": timestamp, "BatchSize": 1},
        note=f"StartingPosition=AT_TIMESTAMP StartingPositionTimestamp={short(timestamp)}")
    if 200 <= response.status < 300:
        uuid = response.json().get("UUID", "")
        fz.settle(1.0, f"the shard worker of mapping {uuid} (StartingPositionTimestamp={short(timestamp)})")
        fz.call("kinesis", "PutRecord", {"StreamName": fx.MAPPED_STREAM, "PartitionKey": "pk", "Data": b"{}"})
        fz.settle(0.5, f"the shard worker of mapping {uuid} (StartingPositionTimestamp={short(timestamp)}) reading a record")
        fz.call("lambda", "DeleteEventSourceMapping", {"UUID": uuid})


def seq_queue_mapping(fz, settings):
    fx = fz.fixtures
    response = fz.call("lambda", "CreateEventSourceMapping", {"FunctionName": fx.FUNCTION, "EventSourceArn": fx.arn("sqs", fx.DLQ),
                                                              **settings}, note=f"over a queue {short(settings)}")
    if 200 <= response.status < 300:
        uuid = response.json().get("UUID", "")
        fz.call("sqs", "SendMessage", {"QueueUrl": fx.queue_url(fx.DLQ), "MessageBody": '{"n":1e400}'})
        fz.settle(1.0, f"mapping {uuid} over a queue ({short(settings)})")
        fz.call("lambda", "DeleteEventSourceMapping", {"UUID": uuid})


def seq_event_time(fz, when):
    fx = fz.fixtures
    fz.call("events", "PutEvents", {"Entries": [{"Source": "fuzz", "DetailType": "t", "Detail": '{"n":1}', "EventBusName": fx.BUS,
                                                 "Time": when}]}, note=f"Entries[0].Time={short(when)}")
    fz.settle(0.2, f"the delivery of an event at {short(when)}")
    fz.call("sqs", "ReceiveMessage", {"QueueUrl": fx.queue_url(), "MaxNumberOfMessages": 10})


def seq_test_event_time(fz, when):
    event = {"id": "1", "source": "s", "detail-type": "t", "account": ACCOUNT, "region": REGION, "time": when, "resources": [],
             "detail": {}}
    fz.call("events", "TestEventPattern", {"EventPattern": '{"time":[{"prefix":"2"}]}', "Event": to_json(event)},
            note=f"Event.time={short(when)}")


def seq_sns_policy(fz, policy):
    fx = fz.fixtures
    fz.call("sns", "SetSubscriptionAttributes",
            {"SubscriptionArn": fx.subscription, "AttributeName": "FilterPolicy", "AttributeValue": policy})
    for number in ("1", "-1e300", "nan"):
        fz.call("sns", "Publish", {"TopicArn": fx.arn("sns", fx.TOPIC), "Message": "m",
                                   "MessageAttributes": {"n": {"DataType": "Number", "StringValue": number},
                                                         "s": {"DataType": "String", "StringValue": "a"}}},
                note=f"Number attribute {number!r} under the policy {short(policy)}")


def seq_sns_number(fz, number):
    fx = fz.fixtures
    fz.call("sns", "Publish", {"TopicArn": fx.arn("sns", fx.TOPIC), "Message": "m",
                               "MessageAttributes": {"n": {"DataType": "Number", "StringValue": number}}},
            note=f"Number attribute {short(number)}")


def seq_redrive(fz, count):
    fx = fz.fixtures
    url = fx.queue_url()
    fz.call("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": fx.arn("sqs", fx.DLQ), "maxReceiveCount": count})}})
    fz.call("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "redrive"})
    for _ in range(2):
        fz.call("sqs", "ReceiveMessage", {"QueueUrl": url, "VisibilityTimeout": 0, "MaxNumberOfMessages": 10})


def seq_queue_attribute(fz, attribute):
    name, value = attribute
    url = fz.fixtures.queue_url("fuzz-attributes")
    fz.call("sqs", "CreateQueue", {"QueueName": "fuzz-attributes"})
    fz.call("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {name: value}})
    fz.call("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "after " + name})
    fz.call("sqs", "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1})
    fz.call("sqs", "DeleteQueue", {"QueueUrl": url})


def seq_message_timing(fz, value):
    fx = fz.fixtures
    fz.call("sqs", "SendMessage", {"QueueUrl": fx.queue_url(fx.DLQ), "MessageBody": "d", "DelaySeconds": value})
    fz.call("sqs", "ChangeMessageVisibility", {"QueueUrl": fx.queue_url(fx.DLQ), "ReceiptHandle": fx.receipt, "VisibilityTimeout": value})
    fz.call("sqs", "ReceiveMessage", {"QueueUrl": fx.queue_url(fx.DLQ), "VisibilityTimeout": value})


def seq_async_settings(fz, settings):
    fx = fz.fixtures
    fz.call("lambda", "PutFunctionEventInvokeConfig", {"FunctionName": fx.FUNCTION, **settings})
    fz.call("lambda", "Invoke", {"FunctionName": fx.FUNCTION, "InvocationType": "Event", "Payload": b'{"action":"error"}'})
    fz.settle(0.3, f"an asynchronous invoke after {short(settings)}")


def seq_function_configuration(fz, settings):
    fx = fz.fixtures
    if "ReservedConcurrentExecutions" in settings:
        fz.call("lambda", "PutFunctionConcurrency", {"FunctionName": fx.API_FUNCTION, **settings})
    else:
        fz.call("lambda", "UpdateFunctionConfiguration", {"FunctionName": fx.API_FUNCTION, **settings})
    fz.call("lambda", "Invoke", {"FunctionName": fx.API_FUNCTION, "Payload": b'{"action":"echo"}'})


HTTP_ENDPOINTS = ["http://127.0.0.1:1/", "http://[::1", "http://127.0.0.1:99999/x", "http://", "https://", "http://a b/",
                  "http://127.0.0.1:1/" + "p" * 70 * KB, "http://ünï.invalid/", "http://127.0.0.1:1/%ZZ", "http://user:pass@127.0.0.1:1/"]


def seq_http_endpoint(fz, url):
    """An HTTP endpoint as an EventBridge target (a Chute extension), an SNS subscription and an
    async destination, then something to deliver to it."""
    fx = fz.fixtures
    fz.call("events", "PutTargets", {"Rule": fx.RULE, "EventBusName": fx.BUS, "Targets": [{"Id": "fuzz-http", "Arn": url}]})
    fz.call("events", "PutEvents", {"Entries": [{"Source": "fuzz", "DetailType": "t", "Detail": "{}", "EventBusName": fx.BUS}]})
    response = fz.call("sns", "Subscribe", {"TopicArn": fx.arn("sns", fx.TOPIC), "Protocol": url.split(":")[0] or "http", "Endpoint": url,
                                            "ReturnSubscriptionArn": True})
    fz.call("sns", "Publish", {"TopicArn": fx.arn("sns", fx.TOPIC), "Message": "to " + url[:40]})
    fz.call("lambda", "PutFunctionEventInvokeConfig",
            {"FunctionName": fx.FUNCTION, "DestinationConfig": {"OnSuccess": {"Destination": url}}})
    fz.call("lambda", "Invoke", {"FunctionName": fx.FUNCTION, "InvocationType": "Event", "Payload": b"{}"})
    fz.settle(0.5, f"deliveries to {short(url)}")
    fz.call("events", "RemoveTargets", {"Rule": fx.RULE, "EventBusName": fx.BUS, "Ids": ["fuzz-http"]})
    subscription = re.search(rb"<SubscriptionArn>([^<]+)</SubscriptionArn>", response.body)
    if subscription:
        fz.call("sns", "Unsubscribe", {"SubscriptionArn": subscription.group(1).decode()})
    fz.call("lambda", "DeleteFunctionEventInvokeConfig", {"FunctionName": fx.FUNCTION})


def seq_wildcard(fz, length):
    """Issue 17: wildcard matching is quadratic. A slow answer is noted; over the timeout, a failure."""
    pattern = json.dumps({"detail": {"s": [{"wildcard": "*a" * 50 + "*b"}]}})
    event = {"id": "1", "source": "s", "detail-type": "t", "account": ACCOUNT, "region": REGION, "time": "2024-01-01T00:00:00Z",
             "resources": [], "detail": {"s": "a" * length}}
    fz.call("events", "TestEventPattern", {"EventPattern": pattern, "Event": json.dumps(event)},
            note=f"wildcard against {length} characters")


def seq_bus_loop(fz, copies):
    """Issue 17's amplification: one event multiplies without end."""
    bus = "fuzz-loop"
    fz.call("events", "CreateEventBus", {"Name": bus})
    fz.call("events", "PutRule", {"Name": "all", "EventBusName": bus, "EventPattern": '{"source":[{"prefix":""}]}'})
    fz.call("events", "PutTargets", {"Rule": "all", "EventBusName": bus, "Targets": [
        {"Id": str(i), "Arn": fz.fixtures.arn("events", "event-bus/" + bus)} for i in range(copies)]})
    fz.call("events", "PutEvents", {"Entries": [{"Source": "fuzz", "DetailType": "loop", "Detail": "{}", "EventBusName": bus}]},
            timeout=5)
    fz.settle(2.0, "the bus that targets itself")
    fz.call("events", "RemoveTargets", {"Rule": "all", "EventBusName": bus, "Ids": [str(i) for i in range(copies)], "Force": True})
    fz.call("events", "DeleteRule", {"Name": "all", "EventBusName": bus, "Force": True})
    fz.call("events", "DeleteEventBus", {"Name": bus})


# --------------------------------------------------------------------------------------------
# The host
# --------------------------------------------------------------------------------------------

CONFIG = """
queues: [fuzz-queue, fuzz-dlq]
functions:
  - name: faults
    library: {library}
    timeout: 3
    concurrency: 4
streams:
  - {{name: fuzz-stream, shards: 2}}
  - {{name: fuzz-mapped, shards: 1}}
"""


class Host:
    """A `chute serve` process whose output goes to a log file (a pipe nobody reads would fill up
    and block it)."""

    def __init__(self, binary_dir, directory):
        self.chute = os.path.join(binary_dir, "chute")
        self.library = os.path.join(binary_dir, "libChuteFaults.so")
        self.directory = directory
        self.config = os.path.join(directory, "chute.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(library=self.library))
        self.log_path = os.path.join(directory, "host.log")
        self.log = open(self.log_path, "ab")
        self.process, self.url, self.log_start, self.generation = None, None, 0, 0
        self.peak_rss_mb = 0
        self.rss_exceeded = None
        self.watchdog = None

    def data_dir(self):
        return os.path.join(self.directory, f"data-{self.generation}")

    def start(self, fresh=False, wait=30):
        if fresh:
            self.generation += 1
        self.log.flush()
        self.log_start = os.path.getsize(self.log_path)
        self.log.write(f"\n===== chute serve, data directory {self.data_dir()} =====\n".encode())
        self.log.flush()
        self.process = subprocess.Popen(
            [self.chute, "serve", "--config", self.config, "--data-dir", self.data_dir(), "--port", "0", "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            match = re.search(r"listening on (http://[0-9.:]+)", self.log_since_start())
            if match:
                self.url = match.group(1)
                self.rss_exceeded = None
                self.watchdog = threading.Thread(target=self.watch, args=(self.process,), daemon=True)
                self.watchdog.start()
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        self.kill()
        return False

    def watch(self, process):
        """Samples the host's resident memory; past MAX_RSS_MB, kills it (a request exhausted it)."""
        while process.poll() is None:
            try:
                with open(f"/proc/{process.pid}/status") as f:
                    rss = int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) // 1024
            except (OSError, StopIteration, ValueError):
                return
            self.peak_rss_mb = max(self.peak_rss_mb, rss)
            if rss > MAX_RSS_MB:
                self.rss_exceeded = rss
                process.kill()
                return
            time.sleep(0.2)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def wait_for_exit(self, seconds):
        try:
            self.process.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self):
        if self.alive():
            self.process.kill()
            self.process.wait()

    def stop(self, seconds=30):
        """SIGTERM; True when the host exited within `seconds` (else it is killed)."""
        if not self.alive():
            return True
        self.process.send_signal(signal.SIGTERM)
        if self.wait_for_exit(seconds):
            return True
        self.kill()
        return False

    def log_since_start(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=25):
        return "\n".join(self.log_since_start().rstrip().split("\n")[-lines:])

    def open_files(self):
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return 0

    CRASH_MARKERS = r"Fatal error|fatal error|Program crashed|Segmentation fault|Illegal instruction"

    def crashing(self):
        """The Swift runtime reported a crash (its backtrace may take seconds before the process exits)."""
        return re.search(self.CRASH_MARKERS, self.log_since_start()) is not None

    def crash_signature(self):
        """The Swift runtime's fatal error line and the crashed thread's first frame in Chute's
        sources, if the backtracer printed them."""
        log = self.log_since_start()
        fatal = re.search(r"^.*(%s).*$" % self.CRASH_MARKERS, log, re.M)
        code = self.process.returncode if self.process else None
        reason = re.sub(r"0x[0-9a-f]+", "0x…", fatal.group(0).strip()) if fatal else f"exit status {code}"
        frame = None
        for line in self.crashed_thread(log):
            match = re.search(r" at \S*?(Sources/\S+?\.swift:\d+)", line)
            if match and ".build/" not in line:
                frame = match.group(1)
                break
        return reason, frame

    def background_crash(self):
        """Whether the crashed thread was not answering a request (no route handler among its frames)."""
        return not any("register(on:)" in line for line in self.crashed_thread(self.log_since_start()))

    @staticmethod
    def crashed_thread(log):
        """The lines of the crashed thread's backtrace."""
        start = re.search(r'^Thread \d+( "[^"]*")? crashed:.*$', log, re.M)
        if not start:
            return []
        lines = log[start.end():].lstrip("\n").split("\n")
        return lines[:lines.index("") if "" in lines else 30]

    def excerpt(self):
        """What the report quotes from the host's log: for a crash, the fatal error and the crashed
        thread's frames in Chute's sources; otherwise the last lines."""
        log = self.log_since_start()
        fatal = re.search(r"^.*(%s).*$" % self.CRASH_MARKERS, log, re.M)
        if not fatal:
            return self.log_tail(15)
        frames = [re.sub(r"^\s*\d+ \[\w+\]( \[\w+\])?\s+0x[0-9a-f]+ ", "", line) for line in self.crashed_thread(log)
                  if "Sources/" in line and ".build/" not in line]
        return "\n".join([fatal.group(0).strip()] + frames[:8])


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        try:
            value = json.loads(self.body)
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}


def send(url, request):
    """Sends a request on a fresh connection: a Response, or the string 'timeout', 'dropped' or
    'unsendable' (a header value http.client refuses)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=request.timeout)
    try:
        try:
            connection.putrequest(request.method, request.path, skip_accept_encoding=True)
            for name, value in request.headers.items():
                try:
                    connection.putheader(name, utf8(value))
                except ValueError:
                    return "unsendable"
            connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the host may have answered early (a body over its limit): read what it said
        response = connection.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    except (socket.timeout, TimeoutError):
        return "timeout"
    except (http.client.HTTPException, OSError):
        return "dropped"
    finally:
        connection.close()


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------

@dataclass
class Finding:
    kind: str            # crash, 5xx, timeout, memory, health or stop
    signature: str
    case: str
    request: str
    log: str
    background: bool = False  # the crashed thread was not answering a request: the cause is among the requests before
    hits: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    recent: list = field(default_factory=list)

    def text(self):
        hits = ""
        if self.hits:
            hits = f"\n  also hit by {len(self.hits)} more: " + "; ".join(self.hits[:8]) + (" ..." if len(self.hits) > 8 else "")
        notes = "".join(f"\n  note: {note}" for note in self.notes[:6])
        recent = "" if not self.recent else "\n  requests just before:\n" + "\n".join(f"    - {name}" for name in self.recent)
        log = "\n".join("    | " + line for line in self.log.split("\n"))
        first = f"first hit by: {self.case}"
        if self.background:
            first += "\n  (the crashed thread was not a request's handler: the cause is that request or one of those just before)"
        return (f"[{self.kind}] {self.signature}\n  {first}\n  request: {self.request}{hits}{notes}{recent}"
                f"\n  host log:\n{log}")


class Fuzzer:
    """One run: a host, its fixtures, the plan of cases, and what went wrong."""

    def __init__(self, binary_dir=None, requests=DEFAULT_REQUESTS, seconds=DEFAULT_SECONDS, seed=DEFAULT_SEED, skip=(), only=None,
                 verbose=False):
        self.binary_dir = binary_dir or os.path.join(ROOT, ".build", "debug")
        self.budget, self.seconds, self.seed, self.verbose = requests, seconds, seed, verbose
        self.skip = [re.compile(pattern) for pattern in skip if pattern]
        self.only = re.compile(only) if only else None
        self.rng = random.Random(seed)
        self.directory = tempfile.mkdtemp(prefix="chute-fuzz-")
        self.host = Host(self.binary_dir, self.directory)
        self.fixtures = Fixtures(faults_zip(self.host.library))
        self.session = botocore.session.get_session()
        self.models = {name: self.session.get_service_model(name) for name in SERVICES}
        self.findings = {}
        self.notes = []
        self.sent, self.restarts, self.statuses = 0, 0, {}
        self.recent = []
        self.current = None
        self.last_description = ""
        self.restarted_for, self.restarted_at = None, 0.0  # the finding a restart on the same data directory followed
        self.group, self.crashed_groups, self.skipped_after_crashes = "", {}, 0
        self.unimplemented = set()

    def log(self, message):
        if self.verbose:
            print(message, file=sys.stderr, flush=True)

    # ---- failures

    def fail(self, kind, signature, request_text, notes=(), key=None):
        """Records a failure; one finding per kind and key (the signature unless given)."""
        key = (kind, key or signature)
        name = self.current or "?"
        if key in self.findings:
            finding = self.findings[key]
            finding.hits.append(name)
            if signature != finding.signature and f"also: {signature}" not in finding.notes:
                finding.notes.append(f"also: {signature}")
            return finding
        finding = Finding(kind, signature, name, request_text, self.host.excerpt(), notes=list(notes), recent=self.recent[-6:-1])
        self.findings[key] = finding
        self.log(f"FAILURE {kind}: {signature} <- {name}")
        return finding

    def recover(self, finding, fresh=False):
        """Restarts a dead or wedged host: on the same data directory first (is the damage stored?),
        then on a fresh one. After a timeout or exhaustion, on a fresh one at once (what wedged the
        host may be stored, and would wedge it again)."""
        self.host.kill()
        self.restarts += 1
        self.restarted_for = None
        if not fresh:
            problem = self.restart_problem(self.host.start())
            if problem is None:
                self.restarted_for, self.restarted_at = finding, time.monotonic()
                return
            if finding is not None and problem not in finding.notes:
                finding.notes.append(problem)
            self.host.wait_for_exit(15)
            self.host.kill()
        problem = self.restart_problem(self.host.start(fresh=True))
        if problem is not None:
            raise RuntimeError(f"chute serve fails on a fresh data directory: {problem}\n{self.host.log_tail()}")

    def restart_problem(self, started):
        """None when the restarted host lives for 2 s and the fixtures can be made; else what went wrong."""
        if started and self.settled_alive(2):
            try:
                self.fixtures.refresh(self.host.url)
                return None
            except HealthError as error:
                if self.host.alive() and not self.host.crashing():
                    return f"after a restart on the same data directory, a normal request fails: {error}"
        self.host.wait_for_exit(15)
        reason, frame = self.host.crash_signature()
        return f"a restart on the same data directory fails too: {reason}" + (f" at {frame}" if frame else "")

    def settled_alive(self, seconds):
        """The host is still alive after `seconds`, has not begun a crash report, and answers."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.host.alive() or self.host.crashing():
                return False
            time.sleep(0.1)
        try:
            self.fixtures.health(self.host.url)
            return True
        except HealthError:
            return False

    def host_died(self, request_text):
        """Records why the host is gone (a crash, or the memory watchdog) and restarts it."""
        self.crashed_groups[self.group] = self.crashed_groups.get(self.group, 0) + 1
        self.host.wait_for_exit(15)
        if self.host.alive():
            self.host.kill()  # still printing its crash report after 15 s
        if self.host.rss_exceeded:
            finding = self.fail("memory", f"resident memory passed {MAX_RSS_MB} MB ({self.host.rss_exceeded} MB)", request_text)
            return self.recover(finding, fresh=True)
        reason, frame = self.host.crash_signature()
        # One finding per place in the code (the same conversion traps with "greater than" and "less than").
        finding = self.fail("crash", reason + (f" at {frame}" if frame else ""), request_text, key=frame)
        if not finding.hits:
            finding.background = self.host.background_crash()
        # A background worker's crash may come back once the dead host's lease expires (10-40 s).
        recurred = self.restarted_for is finding and self.host.background_crash()
        if recurred:
            if not any(note.startswith("came back") for note in finding.notes):
                finding.notes.append(f"came back {time.monotonic() - self.restarted_at:.0f} s after a restart on the same data directory: "
                                     "its cause is stored")
        self.recover(finding, fresh=recurred)

    def refresh_fixtures(self):
        try:
            self.fixtures.refresh(self.host.url)
        except HealthError as error:
            if not self.host.alive() or self.host.crashing():
                self.host_died(f"(none: the host died while the fixtures were made: {error})")
            else:
                self.recover(self.fail("health", f"fixtures: {error}", "(the fixtures' boto3 requests)"))

    def health_check(self):
        self.current = "(health check after the batch ending with " + (self.recent[-1] if self.recent else "nothing") + ")"
        if not self.host.alive() or self.host.crashing():
            return self.host_died("(none: found dead at the health check)")
        try:
            self.fixtures.health(self.host.url)
        except HealthError as error:
            if not self.host.alive() or self.host.crashing():
                return self.host_died(f"(none: the host died during the health check: {error})")
            finding = self.fail("health", str(error), "(GET /metrics, SQS ListQueues)")
            return self.recover(finding)
        files = self.host.open_files()
        if files > 2000:
            self.fail("health", f"{files} open file descriptors", "(counted at the health check)")
        self.refresh_fixtures()

    # ---- sending

    def skipped(self, name):
        return any(pattern.search(name) for pattern in self.skip)

    def step(self, name, request):
        """Sends one request and judges the answer; raises Abort when the host failed."""
        self.current = name
        self.recent = (self.recent + [name])[-8:]
        started = time.monotonic()
        outcome = send(self.host.url, request)
        elapsed = time.monotonic() - started
        if outcome == "unsendable":  # http.client refuses the header value (a newline)
            return Response(0, {}, b"")
        self.sent += 1
        description = self.last_description = request.describe()
        if outcome in ("timeout", "dropped") or not self.host.alive():
            time.sleep(0.2)
            if not self.host.alive() or self.host.crashing():
                self.host_died(description)
                raise Abort()
            if outcome == "timeout":
                self.crashed_groups[self.group] = self.crashed_groups.get(self.group, 0) + 1
                self.fail("timeout", f"{name.split(' ')[0]}: no answer within {request.timeout:g} s", description,
                          notes=[f"the host's peak resident memory so far: {self.host.peak_rss_mb} MB"])
                self.recover(None, fresh=True)
                raise Abort()
            self.notes.append(f"connection closed without an answer: {name}")
            return Response(0, {}, b"")
        key = (name.split(" ")[0], outcome.status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if elapsed > 5:
            self.notes.append(f"slow answer ({elapsed:.1f} s, {outcome.status}): {name}")
        if outcome.status >= 500 and outcome.status != 503:
            error = next((v for k, v in outcome.headers.items() if k.lower() == "x-amzn-errortype"), "")
            message = re.sub(r"\d+", "N", outcome.body[:160].decode("utf-8", "replace"))
            self.fail("5xx", f"answered {outcome.status} {error}: {message}", description)
        return outcome

    def call(self, service, operation, params, timeout=None, note=None):
        """A sequence's step: `params` serialized for the operation, sent and judged."""
        request = serialize(self.models[service], operation, params)
        request.timeout = timeout or self.timeout_for(operation)
        name = f"{service}.{operation} " + (note or " ".join(f"{k}={short(v)}" for k, v in params.items() if k not in ("QueueUrl",)))
        if self.skipped(name):
            return Response(0, {}, b"")
        return self.step(name, request)

    def settle(self, seconds, what):
        """Waits for background work; a host that dies meanwhile is a crash caused by the last steps."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.host.alive() or self.host.crashing():
                self.current = f"{self.recent[-1] if self.recent else '?'}, then {seconds:g} s of waiting for {what}"
                self.host_died(self.last_description)
                raise Abort()
            time.sleep(0.1)

    @staticmethod
    def timeout_for(operation):
        """Seconds to wait for an answer: ReceiveMessage may long-poll for 20."""
        return 25 if operation == "ReceiveMessage" else REQUEST_TIMEOUT

    def unimplemented_answer(self, case, response):
        """Whether a valid-looking request was answered as an operation Chute does not have."""
        if case.service == "lambda":
            return response.status in (404, 405) and "x-amzn-ErrorType" not in response.headers
        return re.search(rb"UnknownOperation|InvalidAction", response.body) is not None

    # ---- the plan

    def plan(self):
        """Per operation, its cases in order; the operations are then visited round-robin."""
        per_operation = []
        for service in SERVICES:
            model = self.models[service]
            for operation in model.operation_names:
                if self.only and not self.only.search(f"{service}.{operation}"):
                    continue
                per_operation.append(Generator(model, operation, self.fixtures).cases(self.rng))
        if not self.only or self.only.search("http.misc"):
            per_operation.append(misc_cases())
        return per_operation

    def schedule(self):
        """(operation index, case) round-robin over the operations: each operation's first case,
        then each one's second, ..."""
        queues = [list(cases) for cases in self.plan()]
        ordered, positions = [], [0] * len(queues)
        total = sum(len(q) for q in queues)
        while len(ordered) < total:
            for index, cases in enumerate(queues):
                if positions[index] < len(cases):
                    ordered.append((index, cases[positions[index]]))
                    positions[index] += 1
        return ordered

    def run(self):
        started = time.monotonic()
        print(f"API fuzz: seed {self.seed}, budget {self.budget} requests or {self.seconds} s, binaries in {self.binary_dir}, "
              f"work directory {self.directory}", file=sys.stderr, flush=True)
        if not self.host.start(fresh=True):
            raise RuntimeError("chute serve did not start:\n" + self.host.log_tail())
        self.fixtures.refresh(self.host.url)
        schedule = self.schedule()
        sequence_list = [s for s in sequences() if not self.skipped(s[0]) and not (self.only and not self.only.search(s[0]))]
        # The sequences are spread over the run, measured in requests or in time, whichever is further along.
        sequence_step = 1 / (len(sequence_list) + 1)
        next_sequence, done_per_operation, last_check = sequence_step, {}, 0
        for index, case in schedule:
            progress = max(self.sent / self.budget, (time.monotonic() - started) / self.seconds)
            if progress >= 1:
                break
            if sequence_list and progress >= next_sequence:
                self.run_sequence(*sequence_list.pop(0))
                next_sequence += sequence_step
            if index in self.unimplemented and done_per_operation.get(index, 0) >= UNIMPLEMENTED_CASES:
                continue
            if self.skipped(case.name):
                continue
            if self.crashed_groups.get(case.group, 0) >= CRASHES_PER_GROUP:
                self.skipped_after_crashes += 1
                continue
            self.group = case.group
            try:
                request = case.build(self)
            except (ValueError, KeyError, IndexError, TypeError) as error:
                self.log(f"cannot build {case.name}: {error!r}")
                continue
            request.timeout = self.timeout_for(case.operation)
            done_per_operation[index] = done_per_operation.get(index, 0) + 1
            try:
                response = self.step(case.name, request)
            except Abort:
                response = None
            if case.label == "valid" and response is not None and self.unimplemented_answer(case, response):
                self.unimplemented.add(index)
            if response is not None and 200 <= response.status < 300:
                self.undo_create(case, response)
            if self.sent - last_check >= BATCH:
                last_check = self.sent
                self.health_check()
        for sequence in sequence_list:  # the pinned crashers are among them: they always run
            self.run_sequence(*sequence)
        self.health_check()
        self.current = "(SIGTERM at the end)"
        if not self.host.stop(30):
            self.fail("stop", "the host did not exit within 30 s of SIGTERM", "(SIGTERM)")
        self.elapsed = time.monotonic() - started
        return self

    def undo_create(self, case, response):
        """Deletes what a case created, so that the next creates are not refused as duplicates (and
        mappings do not pile up): a mapping after its workers had a moment to start on the fuzzed
        settings."""
        try:
            if case.operation == "CreateEventSourceMapping" and response.json().get("UUID"):
                self.settle(0.2, "the mapping's workers")
                self.call("lambda", "DeleteEventSourceMapping", {"UUID": response.json()["UUID"]})
            elif case.operation == "CreateFunction":
                self.call("lambda", "DeleteFunction", {"FunctionName": response.json().get("FunctionName", "")})
            elif case.operation == "CreateStream":
                self.call("kinesis", "DeleteStream", {"StreamName": "fuzz-created"})
            elif case.operation == "CreateEventBus":
                self.call("events", "DeleteEventBus", {"Name": "fuzz-created"})
        except Abort:
            pass

    def run_sequence(self, name, values, function):
        self.log(f"sequence: {name}")
        self.group = name
        for value in values:
            if self.crashed_groups.get(name, 0) >= CRASHES_PER_GROUP:
                self.skipped_after_crashes += 1
                continue
            try:
                function(self, value)
            except Abort:
                pass
        self.health_check()

    # ---- the report

    @property
    def failures(self):
        return list(self.findings.values())

    def summary(self):
        by_service = {}
        for (operation, status), count in sorted(self.statuses.items()):
            counts = by_service.setdefault(operation.split(".")[0], {})
            counts[status] = counts.get(status, 0) + count
        lines = [f"API fuzz: seed {self.seed}, {self.sent} requests in {self.elapsed:.0f} s, {self.restarts} restarts, "
                 f"peak host memory {self.host.peak_rss_mb} MB, {len(self.failures)} distinct failures"
                 + (f", {self.skipped_after_crashes} cases skipped because their member or sequence had crashed the host"
                    if self.skipped_after_crashes else ""),
                 "answers by service: " + ", ".join(f"{s}: " + " ".join(f"{k}x{v}" for k, v in sorted(c.items()))
                                                    for s, c in by_service.items())]
        for number, finding in enumerate(self.failures, 1):
            lines.append(f"\n{number}. " + finding.text())
        if self.notes:
            lines.append(f"\nnotes ({len(self.notes)}, not failures):")
            lines += [f"  - {note}" for note in self.notes[:30]]
        if self.failures:
            lines.append(f"\nhost log: {self.host.log_path}")
        return "\n".join(lines)

    def report(self):
        return {"seed": self.seed, "requests": self.sent, "seconds": round(self.elapsed, 1), "restarts": self.restarts,
                "failures": [finding.__dict__ for finding in self.failures], "notes": self.notes,
                "statuses": {f"{op} {status}": count for (op, status), count in sorted(self.statuses.items())}}

    def cleanup(self):
        """Removes the work directory; after failures, keeps the host's log (the summary names it)."""
        self.host.kill()
        self.host.log.close()
        if not self.failures:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for name in os.listdir(self.directory):
            if name.startswith("data-"):
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--seconds", type=int, default=DEFAULT_SECONDS, help="time budget for the generated cases")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--skip", action="append", default=[], help="a regular expression of case labels to skip (repeatable)")
    parser.add_argument("--only", help="a regular expression of operations (service.Operation) and sequences to keep")
    parser.add_argument("--bin", help="directory of chute, chute-worker and libChuteFaults.so")
    parser.add_argument("--report", help="write the findings as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (host log, data)")
    arguments = parser.parse_args()
    fuzzer = Fuzzer(arguments.bin, arguments.requests, arguments.seconds, arguments.seed, arguments.skip, arguments.only, verbose=True)
    try:
        fuzzer.run()
        print(fuzzer.summary())
        if arguments.report:
            with open(arguments.report, "w") as f:
                json.dump(fuzzer.report(), f, indent=2)
    finally:
        if not arguments.keep:
            fuzzer.cleanup()
    return 1 if fuzzer.failures else 0


if __name__ == "__main__":
    sys.exit(main())
