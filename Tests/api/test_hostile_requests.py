"""Requests an attacker would send to `chute serve`: each must get a 4xx in the service's words,
and the host must stay up and answer the next request. Every case here once crashed the host,
answered 500 or was accepted wrongly (issue 17).

Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
"""
import base64
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from test_serve import Host, write_config

ACCOUNT = "000000000000"
TARGETS = {
    "kinesis": ("Kinesis_20131202.", "application/x-amz-json-1.1"),
    "events": ("AWSEvents.", "application/x-amz-json-1.1"),
    "sqs": ("AmazonSQS.", "application/x-amz-json-1.0"),
}


def call(url, method, path, body=b"", headers=None, timeout=30):
    """An HTTP request as bytes in, (status, headers, body) out; errors are answers too."""
    request = urllib.request.Request(url + path, data=body if method != "GET" else None, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class HostileRequestTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="chute-hostile-")
        self.config = write_config(self.directory, """
queues: [failures]
functions:
  - name: faults
    library: FAULTS
""")
        self.data = os.path.join(self.directory, "data")
        self.host = Host(self.config, self.data).start()
        self.addCleanup(lambda: self.host.stop())

    def json_call(self, service, operation, members, raw=None):
        prefix, content_type = TARGETS[service]
        body = raw if raw is not None else json.dumps(members).encode()
        status, headers, payload = call(self.host.url, "POST", "/", body,
                                        {"X-Amz-Target": prefix + operation, "Content-Type": content_type})
        return status, (json.loads(payload) if payload else {})

    def assert_refused(self, answer, error_type, status=400):
        code, body = answer
        self.assertEqual(code, status, body)
        self.assertTrue(body.get("__type", "").endswith("#" + error_type), body)

    def assert_alive(self):
        self.assertIsNone(self.host.process.poll(), "the host died")
        status, _, _ = call(self.host.url, "GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(self.json_call("sqs", "ListQueues", {})[0], 200)

    def stream(self, name="clicks"):
        self.assertEqual(self.json_call("kinesis", "CreateStream", {"StreamName": name, "ShardCount": 1})[0], 200)
        self.assertEqual(self.json_call("kinesis", "PutRecord", {
            "StreamName": name, "PartitionKey": "k", "Data": base64.b64encode(b"x").decode()})[0], 200)

    # MARK: Requests that crashed the host

    def test_kinesis_numbers_out_of_range_are_validation_errors(self):
        self.stream()
        self.assert_refused(self.json_call("kinesis", "ListStreams", {"Limit": -1}), "ValidationException")
        self.assert_refused(self.json_call("kinesis", "ListStreams", {"Limit": 1e300}), "SerializationException")
        self.assert_refused(self.json_call("kinesis", "GetShardIterator", {
            "StreamName": "clicks", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": 1e300}),
            "ValidationException")
        self.assert_refused(self.json_call("kinesis", "GetShardIterator", {
            "StreamName": "clicks", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER",
            "StartingSequenceNumber": "18446744073709551615"}), "InvalidArgumentException")
        self.assert_refused(self.json_call("kinesis", "GetShardIterator", {
            "StreamName": "clicks", "ShardId": "shardId-000000000000", "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
            "StartingSequenceNumber": "1" * 129}), "InvalidArgumentException")
        self.assert_refused(self.json_call("kinesis", "GetShardIterator", {
            "StreamName": "clicks", "ShardId": "shardId--1", "ShardIteratorType": "TRIM_HORIZON"}), "ResourceNotFoundException")
        # A hand-made iterator carrying the same number, and others no GetShardIterator hands out.
        for token in ["v1/0/at/18446744073709551615/clicks", "v1/-1/trim/clicks", "v1/99999999999999999999/trim/clicks",
                      "v1/0/time/99999999999999999999/clicks", "v1/0/at/-5/clicks"]:
            self.assert_refused(self.json_call("kinesis", "GetRecords", {
                "ShardIterator": base64.b64encode(token.encode()).decode()}), "InvalidArgumentException")
        self.assert_refused(self.json_call("kinesis", "CreateStream", {"StreamName": "huge", "ShardCount": 1e300}),
                            "SerializationException")
        self.assert_refused(self.json_call("kinesis", "CreateStream", {"StreamName": "many", "ShardCount": 100000}),
                            "ValidationException")
        self.assertNotIn("huge", self.json_call("kinesis", "ListStreams", {})[1]["StreamNames"])
        # The largest sequence number a stream of Chute's has is still read as one.
        _, iterator = self.json_call("kinesis", "GetShardIterator", {
            "StreamName": "clicks", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER",
            "StartingSequenceNumber": str(2 ** 63 - 1)})
        status, records = self.json_call("kinesis", "GetRecords", {"ShardIterator": iterator["ShardIterator"]})
        self.assertEqual((status, records["Records"]), (200, []))
        self.assert_alive()

    def test_event_times_no_calendar_holds_fail_their_entry(self):
        entry = {"Source": "test", "DetailType": "t", "Detail": "{}"}
        status, body = self.json_call("events", "PutEvents", {"Entries": [
            dict(entry, Time=1e300), dict(entry, Time=10000000000000000), dict(entry, Time=-1e300), dict(entry)]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["FailedEntryCount"], 3)
        self.assertEqual([e.get("ErrorCode") for e in body["Entries"][:3]], ["InvalidArgument"] * 3)
        self.assertIn("EventId", body["Entries"][3])
        self.assert_alive()

    def test_a_mapping_at_a_timestamp_no_clock_reaches_is_refused_and_a_stored_one_does_not_stop_a_restart(self):
        self.stream()
        arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks"
        lam = self.host.client("lambda")
        # botocore cannot even write 1e300 as a date: the request is made by hand.
        status, headers, body = call(self.host.url, "POST", "/2015-03-31/event-source-mappings", json.dumps({
            "FunctionName": "faults", "EventSourceArn": arn, "StartingPosition": "AT_TIMESTAMP",
            "StartingPositionTimestamp": 1e300}).encode())
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (400, "InvalidParameterValueException"), body)
        mapping = lam.create_event_source_mapping(FunctionName="faults", EventSourceArn=arn, StartingPosition="AT_TIMESTAMP",
                                                  StartingPositionTimestamp=time.time(), Enabled=False)
        self.assert_alive()
        self.host.stop()

        # What an older version may have stored: the same mapping at 1e300.
        database = sqlite3.connect(os.path.join(self.data, "chute.sqlite"))
        (text,) = database.execute("SELECT definition FROM messaging_definitions WHERE kind = 'mapping' AND arn = ?",
                                   (mapping["UUID"],)).fetchone()
        stored = json.loads(text)
        stored["settings"]["startingPositionTimestamp"] = 1e300
        stored["settings"]["enabled"] = True
        database.execute("UPDATE messaging_definitions SET definition = ? WHERE kind = 'mapping' AND arn = ?",
                         (json.dumps(stored), mapping["UUID"]))
        database.commit()
        database.close()

        for _ in range(2):  # the restart, and the one after
            self.host = Host(self.config, self.data).start()
            time.sleep(1.5)  # shard workers would have started by now
            self.assert_alive()
            status, _, body = call(self.host.url, "GET", "/2015-03-31/event-source-mappings/" + mapping["UUID"])
            self.assertEqual(status, 200, body)
            shown = json.loads(body)
            self.assertEqual(shown["State"], "Disabled")
            self.assertIn("StartingPositionTimestamp", shown["StateTransitionReason"])
            self.host.stop()
        self.host = Host(self.config, self.data).start()
        status, _, body = call(self.host.url, "DELETE", "/2015-03-31/event-source-mappings/" + mapping["UUID"])
        self.assertEqual(status, 202, body)

    # MARK: Fan-out

    def undeliverable_rows(self):
        database = sqlite3.connect(os.path.join(self.data, "chute.sqlite"))
        try:
            return database.execute("SELECT count(*) FROM undeliverable_records").fetchone()[0]
        finally:
            database.close()

    def resident_megabytes(self):
        with open(f"/proc/{self.host.process.pid}/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1]) // 1024

    def test_a_bus_whose_rule_targets_itself_answers_at_once_with_bounded_rows(self):
        events = self.host.client("events")
        for name, copies in [("loop3", 3), ("loop2", 2)]:
            events.create_event_bus(Name=name)
            events.put_rule(Name="again", EventBusName=name, EventPattern='{"source":["app"]}')
            arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{name}"
            events.put_targets(Rule="again", EventBusName=name, Targets=[{"Id": f"t{i}", "Arn": arn} for i in range(copies)])
        before = self.undeliverable_rows()
        # Once: never answered, 1.8 GB of memory, 65,536 rows with two targets. A wedged host times out here.
        status, body = self.json_call("events", "PutEvents", {"Entries": [
            {"Source": "app", "DetailType": "t", "Detail": "{}", "EventBusName": "loop3"},
            {"Source": "app", "DetailType": "t", "Detail": "{}", "EventBusName": "loop2"}]})
        self.assertEqual((status, body["FailedEntryCount"]), (200, 0), body)
        # One hop from bus to bus is delivered; what each copy would send a hop further is kept.
        self.assertEqual(self.undeliverable_rows() - before, 3 * 3 + 2 * 2)
        self.assertLess(self.resident_megabytes(), 500)
        self.assert_alive()

    def test_a_function_whose_destination_is_a_topic_that_invokes_it_stays_small(self):
        # Each hop wraps the record once more (an SNS envelope around a record around an
        # envelope): once 17 bytes grew to 783 MB by the 15th hop, and the 16th could not be stored.
        sns, lam = self.host.client("sns"), self.host.client("lambda")
        topic = sns.create_topic(Name="loop")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:faults")
        lam.put_function_event_invoke_config(FunctionName="faults", MaximumRetryAttempts=0,
                                             DestinationConfig={"OnSuccess": {"Destination": topic}})
        before = self.undeliverable_rows()
        lam.invoke(FunctionName="faults", InvocationType="Event", Payload=b'{"action":"echo"}')
        deadline = time.time() + 30
        while self.undeliverable_rows() == before and time.time() < deadline:
            time.sleep(0.5)
        database = sqlite3.connect(os.path.join(self.data, "chute.sqlite"))
        try:
            reason, size = database.execute("SELECT reason, length(record) FROM undeliverable_records ORDER BY rowid DESC LIMIT 1").fetchone()
        finally:
            database.close()
        self.assertIn("a topic takes messages of at most 262144 bytes", reason)
        self.assertLess(size, 8 * 1_048_576)
        self.assertLess(self.resident_megabytes(), 500)
        self.assert_alive()

    def test_patterns_policies_and_targets_keep_to_the_services_limits(self):
        # Once: a 390 KB rule pattern against 820 KB events took minutes and wedged the host; a
        # rule with 10,000 targets wrote 65 MB for one PutEvents.
        big_pattern = json.dumps({"detail": {"a": ["v%05d" % i for i in range(1000)]}})
        self.assert_refused(self.json_call("events", "PutRule", {"Name": "big", "EventPattern": big_pattern}), "InvalidEventPatternException")
        self.assert_refused(self.json_call("events", "TestEventPattern", {"EventPattern": big_pattern, "Event": "{}"}),
                            "InvalidEventPatternException")
        status, body = self.json_call("events", "PutRule", {"Name": "fine", "EventPattern": '{"source":["x"]}'})
        self.assertEqual(status, 200, body)
        queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"
        self.assert_refused(self.json_call("events", "PutTargets", {"Rule": "fine", "Targets": [
            {"Id": f"t{i}", "Arn": queue} for i in range(6)]}), "LimitExceededException")
        status, body = self.json_call("events", "PutTargets", {"Rule": "fine", "Targets": [
            {"Id": "t", "Arn": queue, "Input": json.dumps({"pad": "x" * 9000})}, {"Id": "bad id!", "Arn": queue}]})
        self.assertEqual((status, body["FailedEntryCount"]), (200, 2), body)
        # Exact values are looked up, not compared pair by pair: a pattern of many values
        # against an event of many values answers at once.
        many = json.dumps({"detail": {"a": ["v%04d" % i for i in range(400)]}})
        event = json.dumps({"detail": {"a": ["w"] * 45000}})
        status, body = self.json_call("events", "TestEventPattern", {"EventPattern": many, "Event": event})
        self.assertEqual((status, body.get("Result")), (200, False), body)

        sns = self.host.client("sns")
        topic = sns.create_topic(Name="filtered")["TopicArn"]
        policy = json.dumps({"a": ["x%d" % i for i in range(20)], "b": ["y%d" % i for i in range(10)]})  # 200 combinations
        with self.assertRaises(sns.exceptions.InvalidParameterException):
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"FilterPolicy": policy})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue,
                      Attributes={"FilterPolicy": json.dumps({"a": ["x%d" % i for i in range(15)], "b": ["y%d" % i for i in range(10)]})})
        with self.assertRaises(sns.exceptions.InvalidParameterException):
            sns.publish(TopicArn=topic, Message="m", MessageAttributes={
                f"n{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})
        with self.assertRaises(sns.exceptions.InvalidParameterException):
            sns.publish(TopicArn=topic, Message="m", MessageAttributes={"n" * 300: {"DataType": "String", "StringValue": "v"}})

        sqs = self.host.client("sqs")
        url = sqs.get_queue_url(QueueName="failures")["QueueUrl"]
        with self.assertRaises(sqs.exceptions.ClientError):
            sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
                f"n{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"kept": {"DataType": "String", "StringValue": "v"}})
        received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["n%d" % i for i in range(5000)] + ["kept", "x.*"])
        self.assertEqual(list(received["Messages"][0]["MessageAttributes"]), ["kept"])
        self.assert_alive()

    # MARK: Connections

    def test_twenty_thousand_idle_connections_leave_the_host_answering(self):
        # Two helper processes hold 10,000 idle connections each (one process could not hold
        # 20,000 descriptors under this machine's limit); once, /metrics stopped answering.
        holder = (
            "import resource, socket, sys, time\n"
            "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
            "host, port = sys.argv[1].split(':')\n"
            "held = []\n"
            "for _ in range(10000):\n"
            "    s = socket.socket(); s.setblocking(False)\n"
            "    s.connect_ex((host, int(port))); held.append(s)\n"
            "print('holding', flush=True)\n"
            "time.sleep(120)\n")
        address = self.host.url.split("//")[1]
        holders = [subprocess.Popen([sys.executable, "-c", holder, address], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            for process in holders:
                self.assertEqual(process.stdout.readline().strip(), "holding")
            time.sleep(1)
            # Fresh clients are served: idle connections give way to them.
            for _ in range(3):
                status, _, _ = call(self.host.url, "GET", "/metrics", timeout=30)
                self.assertEqual(status, 200)
                self.assertEqual(self.json_call("sqs", "ListQueues", {})[0], 200)
            self.assertIsNone(self.host.process.poll())
            descriptors = len(os.listdir(f"/proc/{self.host.process.pid}/fd"))
            self.assertLess(descriptors, 4096 + 4096 // 8 + 200)
        finally:
            for process in holders:
                process.kill()
                process.wait()
        self.assert_alive()

    # MARK: Names, bodies and values the services refuse

    def test_names_the_services_refuse(self):
        for name in ["..", ".", "a/b"]:
            self.assert_refused(self.json_call("events", "CreateEventBus", {"Name": name}), "ValidationException")
        self.assert_refused(self.json_call("events", "PutRule", {"Name": "..", "EventPattern": '{"source":["x"]}'}),
                            "ValidationException")
        self.assert_refused(self.json_call("events", "PutRule", {"Name": "a/b", "EventPattern": '{"source":["x"]}'}),
                            "ValidationException")
        self.assert_refused(self.json_call("kinesis", "CreateStream", {"StreamName": "../x", "ShardCount": 1}),
                            "ValidationException")
        self.assert_alive()

    def test_http_endpoints_with_ports_past_65535_are_refused_where_they_are_given(self):
        # Once accepted: the first POST then crashed the host, and every restart after it.
        bad = "http://127.0.0.1:99999/x"
        sns = self.host.client("sns")
        topic = sns.create_topic(Name="hooks")["TopicArn"]
        with self.assertRaises(sns.exceptions.InvalidParameterException):
            sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=bad)
        self.json_call("events", "PutRule", {"Name": "r", "EventPattern": '{"source":["x"]}'})
        status, body = self.json_call("events", "PutTargets", {"Rule": "r", "Targets": [{"Id": "t", "Arn": bad}]})
        self.assertEqual((status, body["FailedEntryCount"]), (200, 1), body)
        lam = self.host.client("lambda")
        with self.assertRaises(lam.exceptions.InvalidParameterValueException):
            lam.put_function_event_invoke_config(FunctionName="faults", DestinationConfig={"OnSuccess": {"Destination": bad}})
        self.assert_alive()

    def test_bodies_that_are_not_json_objects_are_serialization_errors(self):
        for service, operation in [("sqs", "CreateQueue"), ("kinesis", "CreateStream"), ("events", "CreateEventBus")]:
            for raw in [b"not json", b"[1,2]", b'"text"', b"{\"QueueName\": "]:
                self.assert_refused(self.json_call(service, operation, None, raw=raw), "SerializationException")
        # Members of the wrong JSON type, too.
        self.assert_refused(self.json_call("sqs", "CreateQueue", {"QueueName": 5}), "SerializationException")
        self.assert_refused(self.json_call("events", "PutRule", {"Name": "r", "EventPattern": "{}", "State": True}),
                            "SerializationException")
        self.assert_refused(self.json_call("kinesis", "ListStreams", {"Limit": True}), "SerializationException")
        self.assert_alive()

    def test_oversized_bodies_are_4xx_in_the_services_words(self):
        lam = "/2017-10-31/functions/faults/concurrency"
        status, headers, body = call(self.host.url, "PUT", lam, b'{"ReservedConcurrentExecutions": 1, "pad": "' + b"x" * 5000 + b'"}')
        self.assertEqual(status, 413, body)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "RequestEntityTooLargeException")
        status, headers, body = call(self.host.url, "PUT", "/2019-09-25/functions/faults/event-invoke-config",
                                     b'{"pad": "' + b"x" * 70_000 + b'"}')
        self.assertEqual(status, 413, body)
        status, headers, body = call(self.host.url, "POST", "/2015-03-31/event-source-mappings",
                                     b'{"pad": "' + b"x" * 1_100_000 + b'"}')
        self.assertEqual(status, 413, body)
        status, _, body = call(self.host.url, "PUT", lam, b"not json")
        self.assertEqual(status, 400, body)
        self.assert_alive()

    def test_number_attributes_must_be_numbers(self):
        sns = self.host.client("sns")
        topic = sns.create_topic(Name="numbers")["TopicArn"]
        for value in ["nan", "inf", "-Infinity", "0x10", "1e", ""]:
            with self.assertRaises(Exception, msg=value) as raised:
                sns.publish(TopicArn=topic, Message="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": value}})
            self.assertIn(raised.exception.response["Error"]["Code"], ("ParameterValueInvalid", "InvalidParameter"))
        sns.publish(TopicArn=topic, Message="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": "-1.5e3"}})
        sqs = self.host.client("sqs")
        url = sqs.get_queue_url(QueueName="failures")["QueueUrl"]
        with self.assertRaises(sqs.exceptions.ClientError):
            sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": "nan"}})
        self.assert_alive()


if __name__ == "__main__":
    unittest.main()


class ConnectionLimitTests(unittest.TestCase):
    """A host with a small connection cap and a short idle timeout (`server:` in the file)."""

    def setUp(self):
        directory = tempfile.mkdtemp(prefix="chute-limits-")
        config = write_config(directory, "functions: []\nqueues: [waiting]\nserver: {maxConnections: 16, idleTimeoutSeconds: 2}\n")
        self.host = Host(config, os.path.join(directory, "data")).start()
        self.addCleanup(self.host.stop)
        self.address = self.host.url.split("//")[1].split(":")

    def connect(self):
        connection = socket.create_connection((self.address[0], int(self.address[1])), timeout=30)
        self.addCleanup(connection.close)
        return connection

    def test_idle_connections_are_closed_after_the_idle_timeout(self):
        silent = self.connect()
        silent.settimeout(10)
        self.assertEqual(silent.recv(1), b"")  # closed by the host after 2 s without a request

    def trickling(self, count):
        """`count` connections that send a head, then their body a byte a second, in a thread."""
        connections = [self.connect() for _ in range(count)]
        for connection in connections:
            connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n"
                               b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 1000000\r\n\r\n{")
        stop = __import__("threading").Event()

        def trickle():
            while not stop.is_set():
                for connection in connections:
                    try:
                        connection.send(b" ")
                    except OSError:
                        pass
                stop.wait(1)
        __import__("threading").Thread(target=trickle, daemon=True).start()
        self.addCleanup(stop.set)
        return connections

    def test_bodies_trickled_a_byte_a_second_give_way_and_do_not_hold_shutdown(self):
        # Once: 16 such connections locked every fresh client out, and one kept SIGTERM waiting for ever.
        self.trickling(16)
        time.sleep(1)
        self.assertEqual(call(self.host.url, "GET", "/metrics", timeout=10)[0], 200)  # takes a trickler's place
        time.sleep(14)  # past the grace, the rate check closes the rest
        self.assertEqual(call(self.host.url, "GET", "/metrics", timeout=10)[0], 200)
        self.trickling(1)
        time.sleep(1)
        self.host.stop()  # fails if the host does not stop within 30 s

    def test_past_the_cap_with_every_connection_busy_a_request_gets_503(self):
        # 16 long polls keep every connection busy for 5 seconds.
        body = json.dumps({"QueueUrl": f"{self.host.url}/{ACCOUNT}/waiting", "WaitTimeSeconds": 5}).encode()
        request = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.ReceiveMessage\r\n"
                   b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        busy = [self.connect() for _ in range(16)]
        for connection in busy:
            connection.sendall(request)
        time.sleep(0.5)
        status, headers, _ = call(self.host.url, "GET", "/metrics", timeout=10)
        self.assertEqual(status, 503)
        self.assertEqual(headers.get("Connection"), "close")
        for connection in busy:  # the long polls themselves are answered
            self.assertTrue(connection.recv(4096).startswith(b"HTTP/1.1 200"))
        time.sleep(0.2)
        self.assertEqual(call(self.host.url, "GET", "/metrics")[0], 200)


class ConcurrentFunctionChangeTests(unittest.TestCase):
    """Changes to one function that race each other: once, 20 concurrent creates of one name got
    11 to 20 answers of 201, and what a Get showed differed from what came back after a restart."""

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="chute-races-")
        self.config = write_config(self.directory, "functions: []\n")
        self.data = os.path.join(self.directory, "data")
        self.host = Host(self.config, self.data).start()
        self.addCleanup(lambda: self.host.stop())

    def race(self, requests):
        """Sends (method, path, body) requests all at once; returns their (status, error type)."""
        from concurrent.futures import ThreadPoolExecutor
        barrier = __import__("threading").Barrier(len(requests))

        def send(request):
            barrier.wait()
            status, headers, _ = call(self.host.url, *request, timeout=60)
            return status, headers.get("x-amzn-ErrorType")
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(send, requests))

    @staticmethod
    def create_body(description):
        from test_functions import LIBRARY, code_zip
        return json.dumps({"FunctionName": "raced", "Runtime": "provided.al2023", "Role": "arn:aws:iam::000000000000:role/none",
                           "Handler": "libfaults.so:chute_handle", "Description": description,
                           "Code": {"ZipFile": base64.b64encode(code_zip([("libfaults.so", LIBRARY)])).decode()}}).encode()

    def configuration(self):
        status, _, body = call(self.host.url, "GET", "/2015-03-31/functions/raced/configuration")
        self.assertEqual(status, 200, body)
        shown = json.loads(body)
        return {key: shown[key] for key in ("Description", "Timeout", "MemorySize", "Environment", "CodeSha256")}

    def test_concurrent_creates_of_one_name_make_exactly_one_function(self):
        answers = self.race([("POST", "/2015-03-31/functions", self.create_body(f"creator {i}")) for i in range(20)])
        self.assertEqual(sum(status == 201 for status, _ in answers), 1, answers)
        self.assertTrue(all(error == "ResourceConflictException" for status, error in answers if status != 201), answers)
        before = self.configuration()
        self.host.stop()
        self.host = Host(self.config, self.data).start()
        self.assertEqual(self.configuration(), before)

    def test_a_change_whose_library_cannot_load_is_refused_and_stores_nothing(self):
        # Once: a 500, the running version served on, and after a restart the function was gone.
        lam = self.host.client("lambda")
        body = json.loads(self.create_body("first"))
        body["Handler"] = "libfaults.so:no_such_symbol"
        status, headers, answer = call(self.host.url, "POST", "/2015-03-31/functions", json.dumps(body).encode())
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (400, "InvalidParameterValueException"), answer)
        self.assertIn(b"no_such_symbol", answer)
        status, _, answer = call(self.host.url, "POST", "/2015-03-31/functions", self.create_body("first"))
        self.assertEqual(status, 201, answer)  # the name is free at once
        with self.assertRaises(lam.exceptions.InvalidParameterValueException):
            lam.update_function_configuration(FunctionName="raced", Handler="libfaults.so:no_such_symbol")
        from test_functions import code_zip
        with self.assertRaises(lam.exceptions.InvalidParameterValueException):
            lam.update_function_code(FunctionName="raced", ZipFile=code_zip([("libfaults.so", b"\x7fELF not really")]))
        before = self.configuration()
        self.assertEqual(lam.invoke(FunctionName="raced", Payload=b'{"action":"echo"}')["StatusCode"], 200)
        self.host.stop()
        self.host = Host(self.config, self.data).start()
        self.assertEqual(self.configuration(), before)
        self.assertIn(b"raced", call(self.host.url, "GET", "/2015-03-31/functions")[2])

    def test_concurrent_updates_each_apply_or_conflict_and_a_restart_brings_back_what_get_showed(self):
        status, _, body = call(self.host.url, "POST", "/2015-03-31/functions", self.create_body("first"))
        self.assertEqual(status, 201, body)
        for round in range(3):
            answers = self.race([("PUT", "/2015-03-31/functions/raced/configuration", json.dumps({
                "Description": f"round {round} update {i}", "Timeout": 3 + i, "Environment": {"Variables": {"COUNT": str(i)}}}).encode())
                for i in range(20)])
            self.assertTrue(any(status == 200 for status, _ in answers), answers)
            for status, error in answers:
                self.assertIn((status, error), [(200, None), (409, "ResourceConflictException")])
            before = self.configuration()
            self.host.stop()
            self.host = Host(self.config, self.data).start()
            self.assertEqual(self.configuration(), before)


@unittest.skipUnless(os.geteuid() == 0, "mounting a small tmpfs needs root")
class FullDiskTests(unittest.TestCase):
    """Results that fail to commit because the disk is full are stored again within seconds once
    there is room, not after the 16-minute lease of a single host."""

    def setUp(self):
        directory = tempfile.mkdtemp(prefix="chute-full-")
        self.data = os.path.join(directory, "data")
        os.makedirs(self.data)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", self.data], check=True)
        self.addCleanup(lambda: subprocess.run(["umount", "-l", self.data], check=False))
        self.config = write_config(directory, "queues: [done]\nfunctions:\n  - name: faults\n    library: FAULTS\n"
                                              "    async: {onSuccess: done}\n")
        self.host = Host(self.config, self.data).start()
        self.addCleanup(lambda: self.host.stop())
        self.filler = os.path.join(self.data, "filler")
        self.addCleanup(lambda: os.path.exists(self.filler) and os.remove(self.filler))

    def accept_an_event_then_fill_the_disk(self):
        # A large payload, so the success record needs fresh pages in the store's log.
        payload = json.dumps({"action": "sleep", "ms": 1500, "pad": "x" * 600_000}).encode()
        accepted = self.host.client("lambda").invoke(FunctionName="faults", InvocationType="Event", Payload=payload)
        self.assertEqual(accepted["StatusCode"], 202)
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT)  # the disk fills while the attempt runs
        try:
            while os.write(descriptor, b"\0" * 65536) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(descriptor)
        time.sleep(4)  # the attempt ends and its settle fails

    def success_records(self):
        sqs = self.host.client("sqs")
        url = sqs.get_queue_url(QueueName="done")["QueueUrl"]
        deadline = time.time() + 20
        records = []
        while not records and time.time() < deadline:
            records = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        return records

    def test_a_settle_that_failed_on_a_full_disk_commits_once_there_is_room(self):
        self.accept_an_event_then_fill_the_disk()
        os.remove(self.filler)
        records = self.success_records()
        self.assertEqual(len(records), 1, "the success record never arrived")
        self.assertEqual(json.loads(records[0]["Body"])["requestContext"]["condition"], "Success")

    def test_a_host_whose_disk_stays_full_still_stops_and_loses_nothing(self):
        self.accept_an_event_then_fill_the_disk()
        self.host.stop()  # SIGTERM; fails if the host has not exited within 30 s
        os.remove(self.filler)
        self.host = Host(self.config, self.data).start()
        records = self.success_records()
        self.assertEqual(len(records), 1, "the event was lost")


class ShutdownGraceTests(unittest.TestCase):
    """A handler may run for 15 minutes; SIGTERM waits `server.shutdownGraceSeconds` for what is in
    flight, then stops the host, and what was not finished runs again after a restart."""

    def test_a_long_attempt_does_not_hold_the_shutdown_and_stays_stored(self):
        directory = tempfile.mkdtemp(prefix="chute-grace-")
        config = write_config(directory, "server: {shutdownGraceSeconds: 2}\nfunctions:\n"
                                         "  - name: slow\n    library: FAULTS\n    timeout: 900\n")
        data = os.path.join(directory, "data")
        host = Host(config, data).start()
        self.addCleanup(host.stop)
        host.client("lambda").invoke(FunctionName="slow", InvocationType="Event", Payload=b'{"action":"sleep","ms":600000}')
        time.sleep(1)  # the attempt is running
        host.stop()  # fails unless the host stops within 30 s (once it waited out the function's 900 s)
        database = sqlite3.connect(os.path.join(data, "chute.sqlite"))
        try:  # still stored, to run again at the next start (fresh events are kept in batch rows)
            stored = sum(database.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("async_events", "event_batches"))
        finally:
            database.close()
        self.assertEqual(stored, 1, "the event in flight at shutdown was lost")


class HostCapacityTests(unittest.TestCase):
    """Functions and worker processes within caps (`server.maxFunctions`, `server.maxInstances`):
    once 5,300 created functions used up the host's descriptors and it accepted nothing more."""

    def test_functions_and_instances_past_their_caps_are_refused_cleanly(self):
        from test_functions import LIBRARY, code_zip
        directory = tempfile.mkdtemp(prefix="chute-capacity-")
        config = write_config(directory, "functions: []\nserver: {maxFunctions: 2, maxInstances: 2}\n")
        host = Host(config, os.path.join(directory, "data")).start()
        self.addCleanup(host.stop)
        lam = host.client("lambda")

        def create(name):
            return lam.create_function(FunctionName=name, Runtime="provided.al2023", Role="arn:aws:iam::000000000000:role/none",
                                       Handler="libfaults.so:chute_handle", Timeout=30,
                                       Code={"ZipFile": code_zip([("libfaults.so", LIBRARY)])})
        create("one")
        create("two")
        with self.assertRaises(lam.exceptions.CodeStorageExceededException):
            create("three")
        # Each function keeps one instance ready: the host's two are taken. A second concurrent
        # call of one function needs a third instance, and is throttled rather than started.
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(lam.invoke, FunctionName="one", Payload=b'{"action":"sleep","ms":3000}')
            time.sleep(1)
            status, headers, body = call(host.url, "POST", "/2015-03-31/functions/one/invocations", b'{"action":"echo"}')
            self.assertEqual((status, headers.get("x-amzn-ErrorType")), (429, "TooManyRequestsException"), body)
            self.assertIn(b"the host runs 2 worker processes", body)
            self.assertEqual(slow.result()["StatusCode"], 200)
        lam.delete_function(FunctionName="two")
        create("three")  # room again
        self.assertEqual(lam.invoke(FunctionName="three", Payload=b'{"action":"echo"}')["StatusCode"], 200)
