"""Built-in streams through real AWS clients (boto3 and the aws CLI) and `chute streams`: the
Kinesis API, shards picked by the MD5 of the partition key, and every kind of shard iterator.

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

from test_serve import CHUTE, Host, write_config

ACCOUNT = "000000000000"


class StreamTests(unittest.TestCase):
    def setUp(self):
        directory = tempfile.mkdtemp(prefix="chute-streams-")
        self.host = Host(write_config(directory, "functions: []\nstreams:\n  - {name: declared, shards: 2}\n"),
                         os.path.join(directory, "data")).start()
        self.kinesis = self.host.client("kinesis")

    def tearDown(self):
        self.host.stop()

    def test_records_go_to_the_shard_of_their_partition_key_and_are_read_from_every_kind_of_iterator(self):
        kinesis = self.kinesis
        kinesis.create_stream(StreamName="clicks", ShardCount=4)
        with self.assertRaises(kinesis.exceptions.ResourceInUseException):
            kinesis.create_stream(StreamName="clicks", ShardCount=4)
        description = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]
        self.assertEqual(description["StreamARN"], f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks")
        self.assertEqual(description["StreamStatus"], "ACTIVE")
        self.assertEqual(description["RetentionPeriodHours"], 24)
        shards = description["Shards"]
        self.assertEqual([s["ShardId"] for s in shards], [f"shardId-00000000000{i}" for i in range(4)])
        self.assertEqual(shards[1]["HashKeyRange"]["StartingHashKey"], str(2 ** 126))
        self.assertEqual(shards[3]["HashKeyRange"]["EndingHashKey"], str(2 ** 128 - 1))
        self.assertEqual(kinesis.list_shards(StreamName="clicks")["Shards"], shards)
        self.assertEqual(kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["OpenShardCount"], 4)

        def expected_shard(key):
            hash_key = int(hashlib.md5(key.encode()).hexdigest(), 16)
            return next(s["ShardId"] for s in shards
                        if int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key <= int(s["HashKeyRange"]["EndingHashKey"]))

        single = kinesis.put_record(StreamName="clicks", PartitionKey="user-7", Data=b"first")
        self.assertEqual(single["ShardId"], expected_shard("user-7"))
        batch = kinesis.put_records(StreamName="clicks", Records=[
            {"PartitionKey": f"user-{i}", "Data": json.dumps({"n": i}).encode()} for i in range(20)])
        self.assertEqual(batch["FailedRecordCount"], 0)
        self.assertEqual([r["ShardId"] for r in batch["Records"]], [expected_shard(f"user-{i}") for i in range(20)])
        explicit = kinesis.put_record(StreamName="clicks", PartitionKey="any", Data=b"last", ExplicitHashKey=str(2 ** 128 - 1))
        self.assertEqual(explicit["ShardId"], "shardId-000000000003")

        def read(shard, iterator_type, **options):
            iterator = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard, ShardIteratorType=iterator_type,
                                                  **options)["ShardIterator"]
            response = kinesis.get_records(ShardIterator=iterator, Limit=100)
            return response["Records"], response["NextShardIterator"]

        shard = single["ShardId"]
        records, next_iterator = read(shard, "TRIM_HORIZON")
        self.assertEqual(records[0]["Data"], b"first")
        self.assertEqual(records[0]["PartitionKey"], "user-7")
        keys_in_shard = ["user-7"] + [f"user-{i}" for i in range(20) if expected_shard(f"user-{i}") == shard]
        self.assertEqual([r["PartitionKey"] for r in records][:len(keys_in_shard)], keys_in_shard)
        sequence = [r["SequenceNumber"] for r in records]
        self.assertEqual(sequence, sorted(sequence))
        self.assertEqual(read(shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=sequence[1])[0][0]["SequenceNumber"], sequence[1])
        self.assertEqual([r["SequenceNumber"] for r in read(shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=sequence[0])[0]], sequence[1:])
        latest, latest_iterator = read(shard, "LATEST")
        self.assertEqual(latest, [])
        self.assertEqual(kinesis.get_records(ShardIterator=next_iterator)["Records"], [])
        later = kinesis.put_record(StreamName="clicks", PartitionKey="user-7", Data=b"later")
        self.assertEqual([r["Data"] for r in kinesis.get_records(ShardIterator=latest_iterator)["Records"]], [b"later"])
        self.assertEqual([r["SequenceNumber"] for r in kinesis.get_records(ShardIterator=next_iterator)["Records"]], [later["SequenceNumber"]])
        stamped = read(shard, "AT_TIMESTAMP", Timestamp=time.time() + 3600)[0]
        self.assertEqual(stamped, [])

        with self.assertRaises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.put_record(StreamName="nope", PartitionKey="k", Data=b"x")
        with self.assertRaises(kinesis.exceptions.InvalidArgumentException):
            kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=b"x", ExplicitHashKey=str(2 ** 128))
        with self.assertRaises(kinesis.exceptions.ResourceNotFoundException):
            kinesis.get_shard_iterator(StreamName="clicks", ShardId="shardId-000000000009", ShardIteratorType="TRIM_HORIZON")
        self.assertEqual(sorted(kinesis.list_streams()["StreamNames"]), ["clicks", "declared"])
        kinesis.delete_stream(StreamName="clicks")
        self.assertEqual(kinesis.list_streams()["StreamNames"], ["declared"])

    def test_get_records_answers_with_at_most_ten_megabytes_and_the_rest_follows(self):
        kinesis = self.kinesis
        megabyte = b"x" * 1_000_000
        shard = None
        for index in range(12):
            shard = kinesis.put_record(StreamName="declared", PartitionKey="big", Data=megabyte + bytes([index]))["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="declared", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        first = kinesis.get_records(ShardIterator=iterator, Limit=100)
        self.assertEqual(len(first["Records"]), 10)
        rest = kinesis.get_records(ShardIterator=first["NextShardIterator"], Limit=100)["Records"]
        self.assertEqual([r["Data"][-1] for r in first["Records"] + rest], list(range(12)))

    def test_the_chute_command_and_the_aws_cli_write_and_read_the_same_stream(self):
        put = subprocess.run([CHUTE, "streams", "put", "--data-dir", self.host.data_dir, "--stream", "declared",
                              "--partition-key", "k", "one", "two"], capture_output=True, text=True, check=True)
        shard_ids = {line.split()[0] for line in put.stdout.splitlines()}
        self.assertEqual(len(shard_ids), 1)
        shard = shard_ids.pop()
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
        aws = ["aws", "--endpoint-url", self.host.url, "kinesis"]
        # The aws CLI (v1) base64-encodes the text it is given.
        subprocess.run(aws + ["put-record", "--stream-name", "declared", "--partition-key", "k", "--data", "three"],
                       capture_output=True, text=True, env=env, check=True)
        iterator = json.loads(subprocess.run(aws + ["get-shard-iterator", "--stream-name", "declared", "--shard-id", shard,
                                                    "--shard-iterator-type", "TRIM_HORIZON"],
                                             capture_output=True, text=True, env=env, check=True).stdout)["ShardIterator"]
        records = json.loads(subprocess.run(aws + ["get-records", "--shard-iterator", iterator], capture_output=True, text=True,
                                            env=env, check=True).stdout)["Records"]
        self.assertEqual([base64.b64decode(r["Data"]) for r in records], [b"one", b"two", b"three"])
        read = subprocess.run([CHUTE, "streams", "read", "--data-dir", self.host.data_dir, "--stream", "declared", "--shard", shard],
                              capture_output=True, text=True, check=True).stdout
        self.assertEqual([line.split()[-1] for line in read.splitlines()], ["one", "two", "three"])


if __name__ == "__main__":
    unittest.main()
