"""Topics, event buses and HTTP endpoints through real AWS clients (boto3 and the aws CLI): SNS's
query API with filter policies and raw delivery, EventBridge's JSON API with rules and targets,
and invocation records routed to them, including an HTTP endpoint that is down, then comes back.

Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
"""
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import botocore.exceptions

from test_serve import Host, drain, write_config

ACCOUNT = "000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Endpoint:
    """An HTTP endpoint on 127.0.0.1 that records every POST; it can start after the host sends."""

    def __init__(self, port):
        self.port, self.posts, self.server = port, [], None
        self.lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with endpoint.lock:
                    endpoint.posts.append((dict(self.headers), body.decode()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, count, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.1)
        with self.lock:
            return list(self.posts)


class MessagingTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="chute-messaging-")
        self.hosts, self.endpoints = [], []

    def tearDown(self):
        for host in self.hosts:
            host.stop()
        for endpoint in self.endpoints:
            endpoint.stop()

    def host(self, config):
        host = Host(write_config(self.directory, config), os.path.join(self.directory, "data")).start()
        self.hosts.append(host)
        return host

    def queue_url(self, host, name):
        return f"{host.url}/{ACCOUNT}/{name}"

    def test_a_failure_record_fans_out_through_a_topic_to_two_queues_and_an_endpoint_that_comes_back(self):
        endpoint = Endpoint(free_port())
        self.endpoints.append(endpoint)
        host = self.host(f"""
queues: [copy-a, copy-b, dead-copy]
functions:
  - name: failing
    library: FAULTS
    isolation: thread
    async:
      maximumRetryAttempts: 0
      onFailure: arn:aws:sns:us-east-1:{ACCOUNT}:alerts
    deadLetter: arn:aws:sns:us-east-1:{ACCOUNT}:dead
topics:
  - name: dead
    subscriptions:
      - {{protocol: sqs, endpoint: dead-copy, rawMessageDelivery: true}}
  - name: alerts
    subscriptions:
      - {{protocol: sqs, endpoint: copy-a}}
      - {{protocol: sqs, endpoint: copy-b, rawMessageDelivery: true}}
      - {{protocol: http, endpoint: "{endpoint.url}"}}
httpDelivery: {{maximumAttempts: 50, initialDelaySeconds: 0.2, maximumDelaySeconds: 1, timeoutSeconds: 2}}
""")
        lam, sqs = host.client("lambda"), host.client("sqs")
        request_ids = set()
        for index in range(5):
            response = lam.invoke(FunctionName="failing", InvocationType="Event",
                                  Payload=json.dumps({"action": "error", "text": f"declined {index}"}))
            request_ids.add(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])

        # Built-in targets: every record exactly once, in SNS's envelope or raw.
        enveloped = drain(sqs, self.queue_url(host, "copy-a"), 5)
        raw = drain(sqs, self.queue_url(host, "copy-b"), 5)
        self.assertEqual(len(drain(sqs, self.queue_url(host, "copy-a"), 1, timeout=2)), 0)
        self.assertEqual(len(drain(sqs, self.queue_url(host, "copy-b"), 1, timeout=2)), 0)
        notifications = [json.loads(m["Body"]) for m in enveloped]
        self.assertTrue(all(n["Type"] == "Notification" and n["TopicArn"].endswith(":alerts") for n in notifications))
        records = [json.loads(n["Message"]) for n in notifications]
        self.assertEqual({r["requestContext"]["requestId"] for r in records}, request_ids)
        self.assertTrue(all(r["requestContext"]["condition"] == "RetriesExhausted" for r in records))
        self.assertEqual({json.loads(m["Body"])["requestContext"]["requestId"] for m in raw}, request_ids)
        # The dead-letter topic passes the original events on, with Lambda's attributes.
        dead = drain(sqs, self.queue_url(host, "dead-copy"), 5)
        self.assertEqual({m["MessageAttributes"]["RequestID"]["StringValue"] for m in dead}, request_ids)
        self.assertTrue(all(json.loads(m["Body"])["action"] == "error" for m in dead))
        self.assertTrue(all(m["MessageAttributes"]["ErrorMessage"]["StringValue"].startswith("declined") for m in dead))

        # The endpoint was down all along: the host kept retrying. Now it comes up.
        time.sleep(1)
        self.assertEqual(endpoint.posts, [])
        endpoint.start()
        posts = endpoint.wait_for(5)
        delivered = {json.loads(json.loads(body)["Message"])["requestContext"]["requestId"] for _, body in posts}
        self.assertEqual(delivered, request_ids)  # at least once each
        headers = posts[0][0]
        self.assertEqual(headers["x-amz-sns-message-type"], "Notification")
        self.assertTrue(headers["x-amz-sns-subscription-arn"].startswith(f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts:"))
        self.assertGreater(int(headers["X-Chute-Delivery-Attempt"]), 1)

    def test_a_success_record_on_an_event_bus_reaches_the_queue_its_rule_targets(self):
        host = self.host("""
queues: [successes, orders]
functions:
  - name: echo
    library: FAULTS
    isolation: thread
    async:
      onSuccess: arn:aws:events:us-east-1:000000000000:event-bus/results
""")
        events, lam, sqs = host.client("events"), host.client("lambda"), host.client("sqs")
        bus_arn = events.create_event_bus(Name="results")["EventBusArn"]
        self.assertEqual(bus_arn, f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/results")
        pattern = {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"]}
        events.put_rule(Name="ok", EventBusName="results", EventPattern=json.dumps(pattern))
        result = events.put_targets(Rule="ok", EventBusName="results",
                                    Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:successes"}])
        self.assertEqual(result["FailedEntryCount"], 0)
        self.assertEqual([t["Id"] for t in events.list_targets_by_rule(Rule="ok", EventBusName="results")["Targets"]], ["q"])

        response = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"action": "echo", "n": 1}))
        request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        messages = drain(sqs, self.queue_url(host, "successes"), 1)
        self.assertEqual(len(messages), 1)
        event = json.loads(messages[0]["Body"])
        self.assertEqual(event["source"], "lambda")
        self.assertEqual(event["detail-type"], "Lambda Function Invocation Result - Success")
        self.assertEqual(event["resources"], [bus_arn, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo:$LATEST"])
        self.assertEqual(event["detail"]["requestContext"]["requestId"], request_id)
        self.assertEqual(event["detail"]["requestContext"]["condition"], "Success")
        self.assertEqual(event["version"], "0")

        # PutEvents: a matching event reaches the rule's queue, another does not; a bad one fails alone.
        events.put_rule(Name="orders", EventBusName="results", EventPattern=json.dumps({"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}))
        events.put_targets(Rule="orders", EventBusName="results", Targets=[{"Id": "o", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"}])
        put = events.put_events(Entries=[
            {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 250}), "EventBusName": "results"},
            {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 5}), "EventBusName": bus_arn},
            {"Source": "shop", "DetailType": "order", "Detail": "not json", "EventBusName": "results"},
        ])
        self.assertEqual(put["FailedEntryCount"], 1)
        self.assertEqual(put["Entries"][2]["ErrorCode"], "MalformedDetail")
        orders = drain(sqs, self.queue_url(host, "orders"), 2, timeout=3)
        self.assertEqual([json.loads(m["Body"])["detail"]["total"] for m in orders], [250])
        self.assertEqual(json.loads(orders[0]["Body"])["id"], put["Entries"][0]["EventId"])

        self.assertTrue(events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"])
        self.assertFalse(events.test_event_pattern(EventPattern=json.dumps({"source": ["other"]}), Event=json.dumps(event))["Result"])
        with self.assertRaises(botocore.exceptions.ClientError) as invalid:
            events.put_rule(Name="bad", EventBusName="results", EventPattern=json.dumps({"source": [{"numeric": ["<"]}]}))
        self.assertEqual(invalid.exception.response["Error"]["Code"], "InvalidEventPatternException")
        with self.assertRaises(botocore.exceptions.ClientError) as busy:
            events.delete_rule(Name="ok", EventBusName="results")
        self.assertIn("has targets", busy.exception.response["Error"]["Message"])
        events.remove_targets(Rule="ok", EventBusName="results", Ids=["q"])
        events.delete_rule(Name="ok", EventBusName="results")
        self.assertEqual([r["Name"] for r in events.list_rules(EventBusName="results")["Rules"]], ["orders"])
        with self.assertRaises(events.exceptions.ResourceNotFoundException):
            events.put_targets(Rule="nope", EventBusName="results", Targets=[{"Id": "x", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"}])
        names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
        self.assertEqual(sorted(names), ["default", "results"])

        # Buses, rules and targets are kept: a restarted host routes with them.
        host.stop()
        with open(host.config) as f:
            config = f.read()
        host = self.host(config)
        events, sqs = host.client("events"), host.client("sqs")
        self.assertEqual([r["Name"] for r in events.list_rules(EventBusName="results")["Rules"]], ["orders"])
        events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 999}), "EventBusName": "results"}])
        self.assertEqual([json.loads(m["Body"])["detail"]["total"] for m in drain(sqs, self.queue_url(host, "orders"), 1)], [999])

    def test_sns_topics_subscriptions_filter_policies_and_publishing(self):
        host = self.host("""
queues: [big-orders, all-orders]
functions: []
""")
        sns, sqs = host.client("sns"), host.client("sqs")
        topic = sns.create_topic(Name="orders")["TopicArn"]
        self.assertEqual(topic, f"arn:aws:sns:us-east-1:{ACCOUNT}:orders")
        self.assertEqual(sns.create_topic(Name="orders")["TopicArn"], topic)  # idempotent
        big = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:big-orders",
                            Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"size": [{"numeric": [">=", 100]}]})},
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:all-orders")
        self.assertEqual(len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]), 2)
        attributes = sns.get_subscription_attributes(SubscriptionArn=big)["Attributes"]
        self.assertEqual(attributes["RawMessageDelivery"], "true")
        self.assertEqual(json.loads(attributes["FilterPolicy"]), {"size": [{"numeric": [">=", 100]}]})
        with self.assertRaises(sns.exceptions.InvalidParameterException):
            sns.set_subscription_attributes(SubscriptionArn=big, AttributeName="FilterPolicy", AttributeValue='{"size": [{"numeric": [">="]}]}')
        with self.assertRaises(sns.exceptions.InvalidParameterException):
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")

        sns.publish(TopicArn=topic, Message="small", MessageAttributes={"size": {"DataType": "Number", "StringValue": "5"}})
        message_id = sns.publish(TopicArn=topic, Message="large", Subject="order",
                                 MessageAttributes={"size": {"DataType": "Number", "StringValue": "500"}})["MessageId"]
        batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": "1", "Message": "batch-big", "MessageAttributes": {"size": {"DataType": "Number", "StringValue": "100"}}},
            {"Id": "2", "Message": "batch-small"},
        ])
        self.assertEqual([entry["Id"] for entry in batch["Successful"]], ["1", "2"])
        raw = drain(sqs, self.queue_url(host, "big-orders"), 2)
        self.assertEqual(sorted(m["Body"] for m in raw), ["batch-big", "large"])
        self.assertIn("size", raw[0].get("MessageAttributes", {}))
        everything = [json.loads(m["Body"]) for m in drain(sqs, self.queue_url(host, "all-orders"), 4)]
        self.assertEqual(sorted(n["Message"] for n in everything), ["batch-big", "batch-small", "large", "small"])
        large = next(n for n in everything if n["Message"] == "large")
        self.assertEqual((large["MessageId"], large["Subject"]), (message_id, "order"))
        self.assertEqual(large["MessageAttributes"]["size"], {"Type": "Number", "Value": "500"})

        # The aws CLI speaks the same protocol.
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
        output = subprocess.run(["aws", "--endpoint-url", host.url, "sns", "publish", "--topic-arn", topic, "--message", "from-cli",
                                 "--message-attributes", '{"size":{"DataType":"Number","StringValue":"300"}}'],
                                capture_output=True, text=True, env=env, check=True).stdout
        self.assertIn("MessageId", json.loads(output))
        self.assertEqual([m["Body"] for m in drain(sqs, self.queue_url(host, "big-orders"), 1)], ["from-cli"])

        sns.unsubscribe(SubscriptionArn=big)
        self.assertEqual(len(sns.list_subscriptions()["Subscriptions"]), 1)
        sns.delete_topic(TopicArn=topic)
        self.assertEqual(sns.list_topics()["Topics"], [])
        with self.assertRaises(sns.exceptions.NotFoundException):
            sns.publish(TopicArn=topic, Message="gone")

    def test_a_slow_endpoint_does_not_hold_up_another_one(self):
        fast, slow = Endpoint(free_port()), Endpoint(free_port())
        self.endpoints += [fast, slow]
        fast.start()
        # The slow endpoint accepts connections and never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", slow.port))
        silent.listen(64)
        self.addCleanup(silent.close)
        host = self.host(f"""
functions:
  - name: to-slow
    library: FAULTS
    isolation: thread
    async: {{onSuccess: "{slow.url}"}}
  - name: to-fast
    library: FAULTS
    isolation: thread
    async: {{onSuccess: "{fast.url}"}}
httpDelivery: {{maximumAttempts: 3, timeoutSeconds: 5, perEndpointConcurrency: 2}}
""")
        lam = host.client("lambda")
        # More than the 64 POSTs the host makes at once: without the per-endpoint limit they
        # would take every slot until they time out.
        for _ in range(80):
            lam.invoke(FunctionName="to-slow", InvocationType="Event", Payload=b'{"action":"echo"}')
        time.sleep(0.5)
        started = time.time()
        for _ in range(10):
            lam.invoke(FunctionName="to-fast", InvocationType="Event", Payload=b'{"action":"echo"}')
        self.assertEqual(len(fast.wait_for(10, timeout=4)), 10)
        self.assertLess(time.time() - started, 4)

    def test_undeliverable_records_and_posts_are_listed_and_redelivered_once_fixed(self):
        endpoint = Endpoint(free_port())
        self.endpoints.append(endpoint)
        host = self.host(f"""
functions:
  - name: echo
    library: FAULTS
    isolation: thread
    async:
      onSuccess: later
  - name: hooked
    library: FAULTS
    isolation: thread
    async:
      onSuccess: "{endpoint.url}"
httpDelivery: {{maximumAttempts: 2, initialDelaySeconds: 0.1, timeoutSeconds: 1}}
""")
        lam, sqs = host.client("lambda"), host.client("sqs")
        echo_id = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"action":"echo"}')["ResponseMetadata"]["RequestId"]
        hooked_id = lam.invoke(FunctionName="hooked", InvocationType="Event", Payload=b'{"action":"echo"}')["ResponseMetadata"]["RequestId"]
        chute = [os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "debug", "chute"),
                 "events"]
        data = ["--data-dir", host.data_dir]
        listing = ""
        deadline = time.time() + 30
        while time.time() < deadline and not ("later" in listing and endpoint.url in listing):
            time.sleep(0.3)
            listing = subprocess.run(chute + ["undeliverable"] + data, capture_output=True, text=True, check=True).stdout
        self.assertIn("the queue later does not exist", listing)
        self.assertIn(endpoint.url, listing)
        self.assertIn("attempts: 2", listing)
        record_id = next(line.split()[0] for line in listing.splitlines() if line.startswith("r"))

        # Still missing: kept again with the reason, and the command says so.
        failed = subprocess.run(chute + ["redeliver", record_id] + data, capture_output=True, text=True)
        self.assertEqual(failed.returncode, 1)
        self.assertIn("still undeliverable", failed.stderr)

        sqs.create_queue(QueueName="later")
        endpoint.start()
        done = subprocess.run(chute + ["redeliver", "--all"] + data, capture_output=True, text=True, check=True).stdout
        self.assertIn("redelivered: 1 records, 1 POSTs", done)
        records = drain(sqs, self.queue_url(host, "later"), 1)
        self.assertEqual([json.loads(m["Body"])["requestContext"]["requestId"] for m in records], [echo_id])
        posts = endpoint.wait_for(1)
        self.assertEqual([json.loads(body)["requestContext"]["requestId"] for _, body in posts], [hooked_id])
        self.assertEqual(posts[0][0]["X-Chute-Condition"], "Success")
        self.assertIn("no undeliverable records",
                      subprocess.run(chute + ["undeliverable"] + data, capture_output=True, text=True, check=True).stdout)


if __name__ == "__main__":
    unittest.main()
