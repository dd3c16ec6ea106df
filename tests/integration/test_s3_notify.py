"""S3 event notifications delivered to SQS queues of the same emulator: the test event, the
record S3 writes, filters, event types, exactly-once delivery and configuration errors."""
import json
import unittest
import urllib.parse

from botocore.exceptions import ClientError

import dsstest

MiB = 1 << 20


class TestNotifications(dsstest.EmulatorTestCase):
    def setUp(self):
        self.s3 = self.client("s3")
        self.sqs = self.client("sqs")

    def queue(self, name):
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.addCleanup(self.sqs.delete_queue, QueueUrl=url)
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def bucket(self, name):
        self.s3.create_bucket(Bucket=name)
        self.addCleanup(self.drop_bucket, name)
        return name

    def drop_bucket(self, name):
        for o in self.s3.list_objects_v2(Bucket=name).get("Contents", []):
            self.s3.delete_object(Bucket=name, Key=o["Key"])
        self.s3.delete_bucket(Bucket=name)

    def drain(self, url):
        """Every message now in the queue, deleted, as parsed JSON bodies."""
        bodies = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return bodies
            for m in msgs:
                bodies.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def records(self, url):
        out = []
        for body in self.drain(url):
            self.assertIn("Records", body, body)
            self.assertEqual(len(body["Records"]), 1)
            out.append(body["Records"][0])
        return out

    def configure(self, bucket, *configs):
        self.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": list(configs)})

    def test_suffix_fires_once(self):
        url, arn = self.queue("notify-jobs")
        b = self.bucket("notify-jobs")
        self.configure(b, {"Id": "jobs", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                           "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".sh"}]}}})
        test = self.drain(url)
        self.assertEqual(len(test), 1)
        self.assertEqual((test[0]["Service"], test[0]["Event"], test[0]["Bucket"]), ("Amazon S3", "s3:TestEvent", b))
        self.s3.put_object(Bucket=b, Key="jobs/1/x.input", Body=b"input")
        etag = self.s3.put_object(Bucket=b, Key="jobs/1/x.sh", Body=b"#!/bin/sh\necho hi\n")["ETag"]
        recs = self.records(url)
        self.assertEqual(len(recs), 1)
        r = recs[0]
        self.assertEqual((r["eventVersion"], r["eventSource"], r["awsRegion"], r["eventName"]),
                         ("2.1", "aws:s3", "us-east-1", "ObjectCreated:Put"))
        self.assertRegex(r["eventTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        s3 = r["s3"]
        self.assertEqual(s3["configurationId"], "jobs")
        self.assertEqual((s3["bucket"]["name"], s3["bucket"]["arn"]), (b, "arn:aws:s3:::" + b))
        self.assertEqual((s3["object"]["key"], s3["object"]["size"], s3["object"]["eTag"]),
                         ("jobs/1/x.sh", 18, etag.strip('"')))
        self.assertRegex(s3["object"]["sequencer"], r"^[0-9A-F]{16,}$")
        # Nothing more arrives later either.
        self.assertEqual(self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []), [])

    def test_event_types_and_keys(self):
        url, arn = self.queue("notify-types")
        b = self.bucket("notify-types")
        self.configure(b,
                       {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy",
                                                    "s3:ObjectCreated:CompleteMultipartUpload"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}},
                       {"QueueArn": arn, "Events": ["s3:ObjectRemoved:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"},
                                                           {"Name": "Suffix", "Value": ".txt"}]}}})
        self.drain(url)
        key = "in/my dir/a+b \u20ac.txt"
        self.s3.put_object(Bucket=b, Key=key, Body=b"1")
        self.s3.put_object(Bucket=b, Key="out/ignored.txt", Body=b"1")
        self.s3.copy_object(Bucket=b, Key="in/copy.bin", CopySource={"Bucket": b, "Key": key})
        up = self.s3.create_multipart_upload(Bucket=b, Key="in/multi.bin")["UploadId"]
        part = self.s3.upload_part(Bucket=b, Key="in/multi.bin", UploadId=up, PartNumber=1, Body=b"m" * 100)
        self.s3.complete_multipart_upload(Bucket=b, Key="in/multi.bin", UploadId=up,
                                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        self.s3.delete_object(Bucket=b, Key=key)
        self.s3.delete_object(Bucket=b, Key="in/never-existed.txt")
        self.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "in/copy.bin"}, {"Key": "out/ignored.txt"}]})
        recs = self.records(url)
        got = [(r["eventName"], urllib.parse.unquote_plus(r["s3"]["object"]["key"])) for r in recs]
        self.assertEqual(sorted(got), sorted([
            ("ObjectCreated:Put", key),
            ("ObjectCreated:Copy", "in/copy.bin"),
            ("ObjectCreated:CompleteMultipartUpload", "in/multi.bin"),
            ("ObjectRemoved:Delete", key),
        ]))
        put = [r for r in recs if r["eventName"] == "ObjectCreated:Put"][0]
        self.assertEqual(put["s3"]["object"]["key"], "in/my+dir/a%2Bb+%E2%82%AC.txt")
        removed = [r for r in recs if r["eventName"] == "ObjectRemoved:Delete"][0]
        self.assertNotIn("size", removed["s3"]["object"])
        multi = [r for r in recs if r["eventName"] == "ObjectCreated:CompleteMultipartUpload"][0]
        self.assertTrue(multi["s3"]["object"]["eTag"].endswith("-1"))
        # Sequencers grow.
        seqs = [int(r["s3"]["object"]["sequencer"], 16) for r in recs]
        self.assertEqual(len(set(seqs)), len(seqs))

    def test_configuration_round_trip_and_clear(self):
        url, arn = self.queue("notify-config")
        b = self.bucket("notify-config")
        self.assertNotIn("QueueConfigurations", self.s3.get_bucket_notification_configuration(Bucket=b))
        self.configure(b, {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]})
        got = self.s3.get_bucket_notification_configuration(Bucket=b)["QueueConfigurations"]
        self.assertEqual((got[0]["QueueArn"], got[0]["Events"]), (arn, ["s3:ObjectCreated:*"]))
        self.assertTrue(got[0]["Id"])  # S3 names a configuration that has no Id
        self.s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={})
        self.assertNotIn("QueueConfigurations", self.s3.get_bucket_notification_configuration(Bucket=b))
        self.drain(url)
        self.s3.put_object(Bucket=b, Key="k", Body=b"1")
        self.assertEqual(self.drain(url), [])

    def test_invalid_configurations(self):
        url, arn = self.queue("notify-bad")
        b = self.bucket("notify-bad")
        bad = [
            {"QueueArn": arn + "-missing", "Events": ["s3:ObjectCreated:*"]},
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:Sometimes"]},
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "infix", "Value": "x"}]}}},
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}}},
        ]
        for config in bad:
            with self.assertRaises(ClientError) as e:
                self.configure(b, config)
            self.assertEqual(e.exception.response["Error"]["Code"], "InvalidArgument", config)
        # Overlap: a shared event type and filters that one key could match both.
        with self.assertRaises(ClientError) as e:
            self.configure(b, {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                               "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"}]}}},
                           {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put"],
                            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/b/"}]}}})
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidArgument")
        # Disjoint prefixes are fine.
        self.configure(b, {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                           "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"}]}}},
                       {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "b/"}]}}})
        with self.assertRaises(ClientError) as e:
            self.s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
                "TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:000000000000:t",
                                         "Events": ["s3:ObjectCreated:*"]}]})
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidArgument")
        # A queue deleted after configuration just loses its events; writes still succeed.
        url2 = self.sqs.create_queue(QueueName="notify-gone")["QueueUrl"]
        arn2 = arn.replace("notify-bad", "notify-gone")
        self.configure(b, {"QueueArn": arn2, "Events": ["s3:ObjectCreated:*"]})
        self.sqs.delete_queue(QueueUrl=url2)
        self.s3.put_object(Bucket=b, Key="still-works", Body=b"1")
        self.assertEqual(self.s3.get_object(Bucket=b, Key="still-works")["Body"].read(), b"1")


if __name__ == "__main__":
    unittest.main()
