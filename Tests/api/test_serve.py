"""`chute serve` through real AWS clients (boto3 and the aws CLI): the Lambda and SQS APIs, the
asynchronous pipeline with retries, destinations and a dead-letter queue, graceful shutdown, and
no accepted event lost when the host is killed with SIGKILL.

Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import boto3
import botocore.exceptions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# CHUTE_TEST_BINARY runs the API tests against another build (an older one, to see a regression test fail).
CHUTE = os.environ.get("CHUTE_TEST_BINARY") or os.path.join(ROOT, ".build", "debug", "chute")
FAULTS = os.path.join(ROOT, ".build", "debug", "libChuteFaults.so")
CREDENTIALS = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


class Host:
    """A `chute serve` process on a free loopback port."""

    def __init__(self, config, data_dir, options=("--log-level", "error")):
        self.config, self.data_dir, self.options = config, data_dir, list(options)
        self.process = None
        self.url = None
        self.early_output = []

    def start(self):
        self.process = subprocess.Popen(
            [CHUTE, "serve", "--config", self.config, "--data-dir", self.data_dir, "--port", "0"] + self.options,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(100):  # log lines may come before the listening line
            line = self.process.stdout.readline()
            match = re.search(r"listening on (http://[0-9.:]+)", line)
            if match:
                self.url = match.group(1)
                return self
            self.early_output.append(line)
            if not line:
                break
        raise RuntimeError("chute serve did not start: " + "".join(self.early_output))

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()  # no host outlives its test, even one that would not stop
                self.process.wait()
                raise AssertionError("chute serve did not stop within 30 s of the signal")

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, **CREDENTIALS)


def write_config(directory, text):
    path = os.path.join(directory, "chute.yaml")
    with open(path, "w") as f:
        f.write(text.replace("FAULTS", FAULTS))
    return path


def drain(sqs, url, expected, timeout=30):
    """Receives and deletes messages until `expected` arrived or the time is up."""
    bodies = []
    deadline = time.time() + timeout
    while len(bodies) < expected and time.time() < deadline:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"], AttributeNames=["All"])
        for message in response.get("Messages", []):
            bodies.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


class ServeTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="chute-api-")
        config = write_config(self.directory, """
queues: [done, failures, dlq]
functions:
  - name: faults
    library: FAULTS
    concurrency: 4
    async:
      retryDelays: [1, 1]
      onSuccess: done
      onFailure: failures
    deadLetter: dlq
""")
        self.host = Host(config, os.path.join(self.directory, "data")).start()
        self.addCleanup(self.host.stop)
        self.lam = self.host.client("lambda")
        self.sqs = self.host.client("sqs")

    def queue(self, name):
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def test_synchronous_invoke_and_errors(self):
        response = self.lam.invoke(FunctionName="faults", Payload=b'{"action":"echo","n":1}', LogType="Tail")
        self.assertEqual(response["StatusCode"], 200)
        self.assertEqual(json.loads(response["Payload"].read()), {"action": "echo", "n": 1})
        self.assertIn("START RequestId", __import__("base64").b64decode(response["LogResult"]).decode())

        handled = self.lam.invoke(FunctionName="faults", Payload=b'{"action":"error","text":"declined"}')
        self.assertEqual(handled["FunctionError"], "Handled")
        self.assertEqual(json.loads(handled["Payload"].read())["errorMessage"], "declined")

        crashed = self.lam.invoke(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:faults",
                                  Payload=b'{"action":"segfault"}')
        self.assertEqual(crashed["FunctionError"], "Unhandled")
        body = json.loads(crashed["Payload"].read())
        self.assertEqual(body["errorType"], "Runtime.ExitError")
        self.assertTrue(body["errorMessage"].endswith("signal: segmentation fault"))

        with self.assertRaises(self.lam.exceptions.ResourceNotFoundException):
            self.lam.invoke(FunctionName="ghost", Payload=b"{}")
        with self.assertRaises(self.lam.exceptions.RequestTooLargeException):
            self.lam.invoke(FunctionName="faults", InvocationType="Event", Payload=b'"' + b"x" * 1_100_000 + b'"')
        self.assertEqual(self.lam.invoke(FunctionName="faults", InvocationType="DryRun")["StatusCode"], 204)

    def test_async_success_and_failure_records(self):
        accepted = self.lam.invoke(FunctionName="faults", InvocationType="Event", Payload=b'{"action":"echo"}')
        self.assertEqual(accepted["StatusCode"], 202)
        failing = self.lam.invoke(FunctionName="faults", InvocationType="Event", Payload=b'{"action":"error","text":"async"}')
        request_id = failing["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

        success = json.loads(drain(self.sqs, self.queue("done"), 1)[0]["Body"])
        self.assertEqual(success["requestContext"]["condition"], "Success")
        self.assertEqual(success["responseContext"], {"statusCode": 200, "executedVersion": "$LATEST"})
        self.assertEqual(list(success), ["version", "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"])
        self.assertRegex(success["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        failure = json.loads(drain(self.sqs, self.queue("failures"), 1)[0]["Body"])
        self.assertEqual(failure["requestContext"]["requestId"], request_id)
        self.assertEqual(failure["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(failure["requestContext"]["approximateInvokeCount"], 3)
        self.assertEqual(failure["responseContext"]["functionError"], "Handled")
        self.assertEqual(failure["responsePayload"]["requestId"], request_id)

        dead = drain(self.sqs, self.queue("dlq"), 1)[0]
        self.assertEqual(json.loads(dead["Body"]), {"action": "error", "text": "async"})
        self.assertEqual(dead["MessageAttributes"]["RequestID"]["StringValue"], request_id)
        self.assertEqual(dead["MessageAttributes"]["ErrorCode"], {"StringValue": "200", "DataType": "Number"})

        # People find the failure and redrive it beside the running host; it fails again, same id.
        data = ["--data-dir", self.host.data_dir]
        listed = subprocess.run([CHUTE, "events", "failed"] + data, capture_output=True, text=True, check=True).stdout
        self.assertIn(request_id, listed)
        self.assertIn("RetriesExhausted", listed)
        self.assertIn("FaultInjected: async", listed)
        shown = json.loads(subprocess.run([CHUTE, "events", "show", request_id] + data, capture_output=True, text=True, check=True).stdout)
        self.assertEqual(shown["requestContext"]["requestId"], request_id)
        subprocess.run([CHUTE, "events", "redrive", request_id] + data, capture_output=True, text=True, check=True)
        again = json.loads(drain(self.sqs, self.queue("failures"), 1)[0]["Body"])
        self.assertEqual(again["requestContext"]["requestId"], request_id)
        missing = subprocess.run([CHUTE, "events", "redrive", "no-such-id"] + data, capture_output=True, text=True)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no-such-id", missing.stderr)

    def test_event_invoke_config_api(self):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.lam.put_function_event_invoke_config(FunctionName="faults", MaximumRetryAttempts=3)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("Member must have value less than or equal to 2", str(caught.exception))
        put = self.lam.put_function_event_invoke_config(FunctionName="faults", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60)
        self.assertEqual((put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]), (0, 60))
        self.assertNotIn("DestinationConfig", put)  # PUT replaces: the destinations were cleared
        merged = self.lam.update_function_event_invoke_config(
            FunctionName="faults", DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:failures"}})
        self.assertEqual(merged["MaximumRetryAttempts"], 0)
        self.assertEqual(merged["DestinationConfig"]["OnFailure"]["Destination"], "arn:aws:sqs:us-east-1:000000000000:failures")
        self.assertEqual(self.lam.get_function_event_invoke_config(FunctionName="faults")["MaximumEventAgeInSeconds"], 60)

    def test_zero_reserved_concurrency(self):
        self.assertEqual(self.lam.put_function_concurrency(FunctionName="faults", ReservedConcurrentExecutions=0)["ReservedConcurrentExecutions"], 0)
        self.assertEqual(self.lam.get_function_concurrency(FunctionName="faults")["ReservedConcurrentExecutions"], 0)
        with self.assertRaises(self.lam.exceptions.TooManyRequestsException):
            self.lam.invoke(FunctionName="faults", Payload=b'{"action":"echo"}')
        self.lam.invoke(FunctionName="faults", InvocationType="Event", Payload=b'{"action":"echo"}')
        record = json.loads(drain(self.sqs, self.queue("failures"), 1)[0]["Body"])
        self.assertEqual(record["requestContext"]["condition"], "ZeroReservedConcurrency")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 0)
        self.assertNotIn("responseContext", record)
        self.lam.delete_function_concurrency(FunctionName="faults")
        self.assertEqual(self.lam.invoke(FunctionName="faults", Payload=b'{"action":"echo"}')["StatusCode"], 200)

    def test_sqs_api(self):
        url = self.sqs.create_queue(QueueName="orders")["QueueUrl"]
        self.assertIn(url, self.sqs.list_queues()["QueueUrls"])
        self.sqs.send_message(QueueUrl=url, MessageBody="one", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
        received = self.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], VisibilityTimeout=1)["Messages"]
        self.assertEqual(received[0]["Body"], "one")
        self.assertEqual(self.sqs.receive_message(QueueUrl=url).get("Messages"), None)
        time.sleep(1.2)
        again = self.sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
        self.assertEqual(again["Attributes"]["ApproximateReceiveCount"], "2")
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
        with self.assertRaises(self.sqs.exceptions.QueueDoesNotExist):
            self.sqs.get_queue_url(QueueName="missing")
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_577)
        self.assertIn("Message must be shorter than 1048576 bytes", str(caught.exception))
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
        self.assertIn("WaitTimeSeconds is invalid", str(caught.exception))

    def test_sqs_queue_attributes_batches_and_redrive(self):
        dead = self.sqs.create_queue(QueueName="attr-dead")["QueueUrl"]
        dead_arn = self.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.assertEqual(dead_arn, "arn:aws:sqs:us-east-1:000000000000:attr-dead")
        url = self.sqs.create_queue(QueueName="attr-work", Attributes={
            "VisibilityTimeout": "1", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "2"})})["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["VisibilityTimeout"], "1")
        self.assertEqual(json.loads(attributes["RedrivePolicy"]), {"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2})
        self.assertEqual(attributes["MessageRetentionPeriod"], "345600")
        # Re-creating with other attributes is refused; with none it returns the queue.
        with self.assertRaises(self.sqs.exceptions.QueueNameExists):
            self.sqs.create_queue(QueueName="attr-work", Attributes={"VisibilityTimeout": "5"})
        self.assertEqual(self.sqs.create_queue(QueueName="attr-work")["QueueUrl"], url)

        sent = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "poison"},
            {"Id": "b", "MessageBody": "fine", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
            {"Id": "c", "MessageBody": "too big " + "x" * 1_048_576}])
        self.assertEqual(sorted(entry["Id"] for entry in sent["Successful"]), ["a", "b"])
        self.assertEqual([(entry["Id"], entry["Code"]) for entry in sent["Failed"]], [("c", "InvalidParameterValue")])
        self.assertEqual(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                         ["Attributes"]["ApproximateNumberOfMessages"], "2")

        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        fine = next(m for m in messages if m["Body"] == "fine")
        # Keep "fine" hidden longer, delete it in a batch with a stale handle beside it.
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=fine["ReceiptHandle"], VisibilityTimeout=60)
        counts = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(counts["ApproximateNumberOfMessagesNotVisible"], "2")
        deleted = self.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "fine", "ReceiptHandle": fine["ReceiptHandle"]}, {"Id": "stale", "ReceiptHandle": "nope:1"}])
        self.assertEqual([entry["Id"] for entry in deleted["Successful"]], ["fine"])
        self.assertEqual([entry["Code"] for entry in deleted["Failed"]], ["ReceiptHandleIsInvalid"])

        # "poison" is received twice, never deleted, then moves to the dead-letter queue.
        time.sleep(1.1)
        second = self.sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
        self.assertEqual(second[0]["Attributes"]["ApproximateReceiveCount"], "2")
        time.sleep(1.1)
        self.assertIsNone(self.sqs.receive_message(QueueUrl=url).get("Messages"))
        moved = self.sqs.receive_message(QueueUrl=dead, AttributeNames=["All"])["Messages"]
        self.assertEqual([m["Body"] for m in moved], ["poison"])
        self.assertEqual(moved[0]["MessageId"], second[0]["MessageId"])

        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "50000"})
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidAttributeValue")
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:nowhere", "maxReceiveCount": 3})})
        self.assertIn("Dead letter target does not exist", str(caught.exception))
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "30"})
        self.sqs.send_message(QueueUrl=url, MessageBody="later")
        self.assertEqual(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
                         ["Attributes"]["ApproximateNumberOfMessagesDelayed"], "1")
        self.sqs.purge_queue(QueueUrl=url)
        self.assertEqual(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                         ["ApproximateNumberOfMessagesDelayed"], "0")

    def test_prometheus_metrics_per_function(self):
        self.lam.invoke(FunctionName="faults", Payload=b'{"action":"echo"}')
        self.lam.invoke(FunctionName="faults", Payload=b'{"action":"error","text":"no"}')
        self.lam.invoke(FunctionName="faults", InvocationType="Event", Payload=b'{"action":"echo"}')
        drain(self.sqs, self.queue("done"), 1)

        def sample(name):
            text = urllib.request.urlopen(self.host.url + "/metrics").read().decode()
            for line in text.splitlines():
                if line.startswith(name + '{FunctionName="faults"}'):
                    return float(line.split()[-1])
            self.fail(name + " missing from /metrics:\n" + text)

        self.assertEqual(sample("Invocations"), 3)
        self.assertEqual(sample("Errors"), 1)
        self.assertEqual(sample("AsyncEventsReceived"), 1)
        self.assertEqual(sample("ConcurrentExecutions"), 0)
        self.assertEqual(sample("Duration_count"), 3)
        self.assertEqual(sample("AsyncEventAge_count"), 1)
        self.assertEqual(sample("AsyncEventsDropped"), 0)

    def test_aws_cli(self):
        environment = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
        out = os.path.join(self.directory, "out.json")
        result = subprocess.run(["aws", "--endpoint-url", self.host.url, "lambda", "invoke", "--function-name", "faults",
                                 "--cli-binary-format", "raw-in-base64-out", "--payload", '{"action":"echo"}', out],
                                env=environment, capture_output=True, text=True)
        if "--cli-binary-format" in result.stderr:  # aws CLI v1 has no such option
            result = subprocess.run(["aws", "--endpoint-url", self.host.url, "lambda", "invoke", "--function-name", "faults",
                                     "--payload", '{"action":"echo"}', out], env=environment, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.load(open(out)), {"action": "echo"})
        listed = subprocess.run(["aws", "--endpoint-url", self.host.url, "sqs", "list-queues"], env=environment,
                                capture_output=True, text=True)
        self.assertIn("/done", listed.stdout)


class DurabilityTests(unittest.TestCase):
    def test_no_accepted_event_is_lost_when_the_host_is_killed(self):
        directory = tempfile.mkdtemp(prefix="chute-kill-")
        config = write_config(directory, """
queues: [done]
functions:
  - name: slow
    library: FAULTS
    concurrency: 2
    async:
      onSuccess: done
""")
        data = os.path.join(directory, "data")
        host = Host(config, data).start()
        lam = host.client("lambda")
        ids = set()
        for index in range(40):
            response = lam.invoke(FunctionName="slow", InvocationType="Event", Payload=json.dumps({"action": "sleep", "ms": 100, "i": index}).encode())
            ids.add(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
        time.sleep(0.3)  # some attempts are in flight, most are still queued
        host.stop(signal.SIGKILL)

        restarted = Host(config, data).start()
        try:
            sqs = restarted.client("sqs")
            records = drain(sqs, sqs.get_queue_url(QueueName="done")["QueueUrl"], 40, timeout=60)
            delivered = [json.loads(message["Body"])["requestContext"]["requestId"] for message in records]
            self.assertEqual(ids - set(delivered), set(), "accepted events were lost")
            duplicates = len(delivered) - len(set(delivered))
            print(f"\n  40 accepted, {len(set(delivered))} delivered after SIGKILL and restart, {duplicates} duplicates (at-least-once)")
        finally:
            restarted.stop()


class JSONLogTests(unittest.TestCase):
    def test_every_pipeline_line_is_a_json_object_with_the_request_id(self):
        directory = tempfile.mkdtemp(prefix="chute-api-")
        config = write_config(directory, """
queues: [failures]
functions:
  - name: faults
    library: FAULTS
    async:
      maximumRetryAttempts: 0
      onFailure: failures
""")
        host = Host(config, os.path.join(directory, "data"), ["--log-format", "json", "--log-level", "info"]).start()
        self.addCleanup(host.stop)
        response = host.client("lambda").invoke(FunctionName="faults", InvocationType="Event",
                                                 Payload=b'{"action":"error","text":"declined"}')
        request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        sqs = host.client("sqs")
        self.assertEqual(len(drain(sqs, sqs.get_queue_url(QueueName="failures")["QueueUrl"], 1)), 1)
        host.stop()
        lines = host.early_output + host.process.stdout.read().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        self.assertTrue(entries, "no JSON log lines in: " + "".join(lines))
        for entry in entries:
            self.assertEqual({"timestamp", "level", "label", "message"} - set(entry), set())
        failed = [entry for entry in entries if entry.get("requestId") == request_id]
        self.assertTrue(any(entry["message"] == "event failed" and entry["condition"] == "RetriesExhausted" for entry in failed),
                        json.dumps(failed))


if __name__ == "__main__":
    unittest.main()
