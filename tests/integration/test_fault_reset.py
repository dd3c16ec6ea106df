"""The emulator's connection-reset fault (POST /_dss/faults/api?...&action=reset, emulator/ec2/faults.c)
seen by real clients: the connection closes without an HTTP answer, before the operation runs.
boto3 with retries off gets botocore's ConnectionClosedError and nothing happened on the server;
with the SDK's standard retries the same call succeeds on its second attempt; the AWS CLI (which
retries by default) succeeds too. The fault counts and reports its firings like the other faults.
"""
import json
import urllib.error
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

import dsstest


def retrying_client(endpoint, service):
    """A client with the SDK's standard retry mode (3 attempts), unlike dsstest's."""
    cfg = botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=60)
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=cfg)


class ConnectionResetTest(dsstest.EmulatorTestCase):
    def control(self, method, path):
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def arm(self, service, operation, nth=1, count=1):
        q = "/_dss/faults/api?service=%s&operation=%s&nth=%d&count=%d&action=reset" % (service, operation, nth, count)
        fid = self.control("POST", q)["id"]
        self.addCleanup(self.control, "DELETE", "/_dss/faults?id=%d" % fid)
        return fid

    def fired(self, fid):
        for f in self.control("GET", "/_dss/faults")["faults"]:
            if f["id"] == fid:
                self.assertEqual(f["action"], "reset")
                return f["fired"]
        self.fail("fault %d is not armed" % fid)

    def test_no_retries_sees_the_reset_and_nothing_ran(self):
        sqs = self.client("sqs")  # dsstest's clients: max_attempts 0
        fid = self.arm("sqs", "CreateQueue")
        with self.assertRaises((botocore.exceptions.ConnectionClosedError,
                                botocore.exceptions.EndpointConnectionError)):
            sqs.create_queue(QueueName="reset-never-made")
        self.assertEqual(self.fired(fid), 1)
        urls = sqs.list_queues().get("QueueUrls", [])
        self.assertFalse([u for u in urls if u.endswith("/reset-never-made")], urls)

    def test_standard_retries_absorb_a_reset(self):
        sqs = self.client("sqs")
        sqs_retry = retrying_client(self.endpoint, "sqs")
        url = sqs.create_queue(QueueName="reset-retried")["QueueUrl"]
        fid = self.arm("sqs", "SendMessage")
        sqs_retry.send_message(QueueUrl=url, MessageBody="after a reset")
        self.assertEqual(self.fired(fid), 1)
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        self.assertEqual([m["Body"] for m in msgs], ["after a reset"])

    def test_other_protocols_and_the_cli(self):
        # DynamoDB (JSON 1.0) through the AWS CLI, EC2 (Query) through boto3 with retries.
        fid = self.arm("dynamodb", "ListTables")
        rc, out, err = self.aws("dynamodb", "list-tables")
        self.assertEqual(rc, 0, err)
        self.assertIn("TableNames", out)
        self.assertEqual(self.fired(fid), 1)
        ec2 = retrying_client(self.endpoint, "ec2")
        fid = self.arm("ec2", "DescribeRegions")
        self.assertTrue(ec2.describe_regions()["Regions"])
        self.assertEqual(self.fired(fid), 1)

    def test_bad_action_is_refused(self):
        req = urllib.request.Request(self.endpoint + "/_dss/faults/api?service=sqs&operation=X&action=explode",
                                     method="POST", data=b"")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(cm.exception.code, 400)
        self.assertIn("reset", cm.exception.read().decode())


if __name__ == "__main__":
    import unittest
    unittest.main()
