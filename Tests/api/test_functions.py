"""Functions created, changed and deleted through the Lambda API with real clients (boto3, the aws
CLI): code zips unpacked safely, Environment reaching handlers through getenv, definitions that
survive a restart.

Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
"""
import io
import json
import os
import subprocess
import tempfile
import unittest
import zipfile

import botocore.exceptions

from test_serve import CHUTE, FAULTS, Host, write_config


def code_zip(entries):
    """A zip of (name, bytes) entries, as bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


LIBRARY = open(FAULTS, "rb").read()


class FunctionManagementTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="chute-functions-")
        self.config = write_config(self.directory, "queues: [dlq]\nfunctions: []\n")
        self.data = os.path.join(self.directory, "data")
        self.host = Host(self.config, self.data).start()
        self.addCleanup(lambda: self.host.stop())
        self.lam = self.host.client("lambda")

    def env(self, name, variable):
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps({"action": "env", "text": variable}).encode())
        self.assertNotIn("FunctionError", response)
        return response["Payload"].read().decode()

    def create(self, name="thumbs", **extra):
        arguments = dict(FunctionName=name, Runtime="provided.al2023", Role="arn:aws:iam::000000000000:role/none",
                         Handler="lib/libthumbs.so:chute_handle", Code={"ZipFile": code_zip([("lib/libthumbs.so", LIBRARY)])})
        arguments.update(extra)
        return self.lam.create_function(**arguments)

    def test_create_invoke_update_restart_delete(self):
        created = self.create(Environment={"Variables": {"GREETING": "hello"}}, Timeout=5, MemorySize=256)
        self.assertEqual(created["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:thumbs")
        self.assertEqual(created["Handler"], "lib/libthumbs.so:chute_handle")
        self.assertEqual((created["Timeout"], created["MemorySize"], created["State"]), (5, 256, "Active"))
        self.assertGreater(created["CodeSize"], 0)
        self.assertEqual(self.env("thumbs", "GREETING"), "hello")
        self.assertEqual(self.env("thumbs", "AWS_LAMBDA_FUNCTION_NAME"), "thumbs")
        self.assertIn("thumbs", [f["FunctionName"] for f in self.lam.list_functions()["Functions"]])

        updated = self.lam.update_function_configuration(
            FunctionName="thumbs", Environment={"Variables": {"GREETING": "bonjour"}}, Timeout=7,
            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"})
        self.assertEqual(updated["Timeout"], 7)
        self.assertEqual(updated["DeadLetterConfig"]["TargetArn"], "arn:aws:sqs:us-east-1:000000000000:dlq")
        self.assertEqual(self.env("thumbs", "GREETING"), "bonjour")

        # New code: the same library under another name, so the old handler no longer exists.
        with self.assertRaises(self.lam.exceptions.InvalidParameterValueException) as caught:
            self.lam.update_function_code(FunctionName="thumbs", ZipFile=code_zip([("libother.so", LIBRARY)]))
        self.assertIn("has no file lib/libthumbs.so", str(caught.exception))
        new_code = code_zip([("lib/libthumbs.so", LIBRARY), ("README", b"v2")])
        self.assertNotEqual(self.lam.update_function_code(FunctionName="thumbs", ZipFile=new_code)["CodeSha256"], created["CodeSha256"])
        self.lam.put_function_event_invoke_config(FunctionName="thumbs", MaximumRetryAttempts=0)
        self.lam.put_function_concurrency(FunctionName="thumbs", ReservedConcurrentExecutions=3)
        configs = self.lam.list_function_event_invoke_configs(FunctionName="thumbs")["FunctionEventInvokeConfigs"]
        self.assertEqual([c["MaximumRetryAttempts"] for c in configs], [0])

        # A restart brings the function back with its code, settings and concurrency.
        self.host.stop()
        self.host = Host(self.config, self.data).start()
        self.lam = self.host.client("lambda")
        self.assertEqual(self.env("thumbs", "GREETING"), "bonjour")
        again = self.lam.get_function(FunctionName="thumbs")
        self.assertEqual(again["Configuration"]["Timeout"], 7)
        self.assertEqual(again["Concurrency"]["ReservedConcurrentExecutions"], 3)
        self.assertEqual(self.lam.get_function_event_invoke_config(FunctionName="thumbs")["MaximumRetryAttempts"], 0)

        self.lam.delete_function(FunctionName="thumbs")
        with self.assertRaises(self.lam.exceptions.ResourceNotFoundException):
            self.lam.get_function(FunctionName="thumbs")
        self.assertFalse(os.path.exists(os.path.join(self.data, "functions", "thumbs")))

    def test_bad_packages_and_settings_are_refused_with_the_reason(self):
        def refused(exception, text, **extra):
            with self.assertRaises(exception) as caught:
                self.create(name="bad", **extra)
            self.assertIn(text, str(caught.exception))

        invalid = self.lam.exceptions.InvalidParameterValueException
        refused(invalid, "outside the function's directory",
                Code={"ZipFile": code_zip([("../escape.so", LIBRARY)])}, Handler="../escape.so:chute_handle")
        refused(invalid, "absolute", Code={"ZipFile": code_zip([("/tmp/abs.so", LIBRARY)])}, Handler="abs.so:chute_handle")
        refused(invalid, "Could not unzip", Code={"ZipFile": b"not a zip at all"})
        refused(invalid, "has no file lib/libthumbs.so", Code={"ZipFile": code_zip([("other.so", LIBRARY)])})
        refused(invalid, "is not a shared object", Code={"ZipFile": code_zip([("lib/libthumbs.so", b"text, not a library")])})
        refused(invalid, "must be FILE:SYMBOL", Handler="chute_handle")
        refused(invalid, "reserved keys", Environment={"Variables": {"AWS_REGION": "x"}})
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.create(name="bad", Timeout=901)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        self.assertFalse(os.path.exists(os.path.join(self.data, "functions", "bad")))
        with self.assertRaises(self.lam.exceptions.ResourceNotFoundException):
            self.lam.get_function(FunctionName="bad")

        self.create()
        with self.assertRaises(self.lam.exceptions.ResourceConflictException):
            self.create()

    def test_aws_cli_creates_a_function_from_a_zip_file(self):
        path = os.path.join(self.directory, "code.zip")
        with open(path, "wb") as f:
            f.write(code_zip([("libcli.so", LIBRARY)]))
        environment = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
        result = subprocess.run(["aws", "--endpoint-url", self.host.url, "lambda", "create-function", "--function-name", "cli",
                                 "--runtime", "provided.al2023", "--role", "arn:aws:iam::000000000000:role/none",
                                 "--handler", "libcli.so:chute_handle", "--zip-file", "fileb://" + path,
                                 "--environment", "Variables={WHO=cli}"], env=environment, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout)["FunctionName"], "cli")
        self.assertEqual(self.env("cli", "WHO"), "cli")


if __name__ == "__main__":
    unittest.main()
