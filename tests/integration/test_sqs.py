"""SQS through unmodified clients: every operation, its errors as the client sees them, and the
queue semantics AWS documents (at-least-once, visibility, stale receipt handles, redrive,
delays, size limits, byte-exact bodies).

Run under Debian's python3 (boto3 1.26: the Query protocol) and pyenv's (boto3 1.43: the JSON
protocol); the error codes checked are the ones botocore reports in both cases (the JSON
protocol's x-amzn-query-error header carries the legacy AWS.SimpleQueueService.* codes).
MD5s are recomputed here, independently of the emulator, with AWS's algorithms.
Long polling has its own file, test_sqs_longpoll.py, so the two run in parallel.
"""
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import time
import unittest
import urllib.parse
import warnings
import http.client

import botocore.exceptions
import botocore.session

import dsstest

ACCOUNT = "000000000000"
# Under an emulator wrapper (ci/valgrind) every request is many times slower: upper bounds on
# durations stretch, and tests built on short wall-clock windows are skipped.
SLOW = 10 if os.environ.get("DSS_EMULATOR_WRAPPER") else 1


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def md5_of_message_attributes(attrs):
    """AWS's MD5OfMessageAttributes: for each attribute in name order, the name, the data type,
    a transport-type byte (1 string/number, 2 binary) and the value, each string or value
    preceded by its length as a 4-byte big-endian integer."""
    h = hashlib.md5()

    def put(b):
        h.update(struct.pack(">I", len(b)))
        h.update(b)

    for name in sorted(attrs):
        a = attrs[name]
        put(name.encode("utf-8"))
        put(a["DataType"].encode("utf-8"))
        if "StringValue" in a:
            h.update(b"\x01")
            put(a["StringValue"].encode("utf-8"))
        else:
            h.update(b"\x02")
            value = a["BinaryValue"]
            put(value if isinstance(value, bytes) else base64.b64decode(value))
    return h.hexdigest()


class SqsTestCase(dsstest.EmulatorTestCase):
    """Helpers shared by the SQS test classes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sqs = dsstest.client(cls.endpoint, "sqs")

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)  # pooled sockets of short-lived clients

    def queue(self, suffix="", **attrs):
        """A queue named after the test, with string attributes; deleted when the test ends."""
        name = (self.id().rsplit(".", 1)[-1] + suffix)[-80:]
        url = self.sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        return url

    def _delete_quietly(self, url):
        try:
            self.sqs.delete_queue(QueueUrl=url)
        except botocore.exceptions.ClientError:
            pass

    def assertClientError(self, code, status, fn, *args, **kwargs):
        """Calls fn, which must fail with error code and HTTP status; returns the error dict."""
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(*args, **kwargs)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)
        self.assertTrue(err["Error"].get("Message"), err)
        return err["Error"]

    def attrs(self, url, *names):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]

    def receive(self, url, **kw):
        return self.sqs.receive_message(QueueUrl=url, **kw).get("Messages", [])

    def receive_one(self, url, **kw):
        msgs = self.receive(url, **kw)
        self.assertEqual(len(msgs), 1, msgs)
        return msgs[0]


class QueueTest(SqsTestCase):
    """CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes, tags."""

    def test_create_queue_url_and_attributes(self):
        before = int(time.time())
        url = self.queue(DelaySeconds=1, MaximumMessageSize=2048, MessageRetentionPeriod=120,
                         ReceiveMessageWaitTimeSeconds=2, VisibilityTimeout=5)
        name = url.rsplit("/", 1)[1]
        self.assertEqual(url, "%s/%s/%s" % (self.endpoint, ACCOUNT, name))
        a = self.attrs(url)
        self.assertEqual(a["DelaySeconds"], "1")
        self.assertEqual(a["MaximumMessageSize"], "2048")
        self.assertEqual(a["MessageRetentionPeriod"], "120")
        self.assertEqual(a["ReceiveMessageWaitTimeSeconds"], "2")
        self.assertEqual(a["VisibilityTimeout"], "5")
        self.assertEqual(a["QueueArn"], "arn:aws:sqs:us-east-1:%s:%s" % (ACCOUNT, name))
        self.assertEqual(a["ApproximateNumberOfMessages"], "0")
        self.assertEqual(a["ApproximateNumberOfMessagesNotVisible"], "0")
        self.assertEqual(a["ApproximateNumberOfMessagesDelayed"], "0")
        self.assertGreaterEqual(int(a["CreatedTimestamp"]), before - 1)
        self.assertLessEqual(int(a["CreatedTimestamp"]), time.time() + 1)
        self.assertGreaterEqual(int(a["LastModifiedTimestamp"]), int(a["CreatedTimestamp"]))
        self.assertNotIn("RedrivePolicy", a)
        self.assertNotIn("Policy", a)

    def test_create_queue_defaults(self):
        a = self.attrs(self.queue())
        self.assertEqual(a["DelaySeconds"], "0")
        self.assertEqual(a["MaximumMessageSize"], "1048576")
        self.assertEqual(a["MessageRetentionPeriod"], "345600")
        self.assertEqual(a["ReceiveMessageWaitTimeSeconds"], "0")
        self.assertEqual(a["VisibilityTimeout"], "30")

    def test_create_queue_with_redrive_policy(self):
        dlq = self.queue("-dlq")
        dlq_arn = self.attrs(dlq, "QueueArn")["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        url = self.queue(RedrivePolicy=policy)
        got = json.loads(self.attrs(url, "RedrivePolicy")["RedrivePolicy"])
        self.assertEqual(got["deadLetterTargetArn"], dlq_arn)
        self.assertEqual(int(got["maxReceiveCount"]), 3)

    def test_create_queue_is_idempotent_for_equal_attributes(self):
        url = self.queue(VisibilityTimeout=7)
        name = url.rsplit("/", 1)[1]
        self.assertEqual(self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})["QueueUrl"], url)
        self.assertEqual(self.sqs.create_queue(QueueName=name)["QueueUrl"], url)
        # A default value counts as equal to the same value given explicitly.
        self.assertEqual(self.sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "0"})["QueueUrl"], url)
        err = self.assertClientError("QueueAlreadyExists", 400, self.sqs.create_queue, QueueName=name,
                                     Attributes={"VisibilityTimeout": "8"})
        self.assertIn("VisibilityTimeout", err["Message"])
        self.assertEqual(self.attrs(url, "VisibilityTimeout")["VisibilityTimeout"], "7")

    def test_create_queue_bad_names(self):
        for name in ["has space", "dot.name", "x" * 81, "sl/ash", "emoji\U0001F600"]:
            self.assertClientError("InvalidParameterValue", 400, self.sqs.create_queue, QueueName=name)
        url = self.sqs.create_queue(QueueName="x" * 80)["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        self.assertTrue(url.endswith("/" + "x" * 80))

    def test_create_queue_bad_attributes(self):
        name = "bad-attrs"
        self.assertClientError("InvalidAttributeName", 400, self.sqs.create_queue, QueueName=name,
                               Attributes={"NoSuchAttribute": "1"})
        for attr, value in [("VisibilityTimeout", "43201"), ("VisibilityTimeout", "-1"), ("DelaySeconds", "901"),
                            ("MaximumMessageSize", "1023"), ("MaximumMessageSize", "1048577"),
                            ("MessageRetentionPeriod", "59"), ("MessageRetentionPeriod", "1209601"),
                            ("ReceiveMessageWaitTimeSeconds", "21"), ("DelaySeconds", "one"), ("DelaySeconds", "")]:
            with self.subTest(attr=attr, value=value):
                err = self.assertClientError("InvalidAttributeValue", 400, self.sqs.create_queue, QueueName=name,
                                             Attributes={attr: value})
                self.assertIn(attr, err["Message"])
        dlq_arn = self.attrs(self.queue("-dlq"), "QueueArn")["QueueArn"]
        for policy, reason in [
                ("not json", "not a valid JSON map"),
                (json.dumps({"maxReceiveCount": 2}), "mandatory attribute: deadLetterTargetArn"),
                (json.dumps({"deadLetterTargetArn": dlq_arn}), "mandatory attribute: maxReceiveCount"),
                (json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 0}), "maxReceiveCount"),
                (json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1001}), "maxReceiveCount"),
                (json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1e300}), "maxReceiveCount"),
                (json.dumps({"deadLetterTargetArn": dlq_arn + "-missing", "maxReceiveCount": 2}), "does not exist"),
                (json.dumps({"deadLetterTargetArn": dlq_arn.replace("us-east-1", "eu-west-1"), "maxReceiveCount": 2}),
                 "does not exist")]:
            with self.subTest(policy=policy):
                err = self.assertClientError("InvalidParameterValue", 400, self.sqs.create_queue, QueueName=name,
                                             Attributes={"RedrivePolicy": policy})
                self.assertIn("RedrivePolicy", err["Message"])
                self.assertIn(reason, err["Message"])
        # Nothing was created by the failed calls.
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.get_queue_url,
                               QueueName=name)

    def test_get_queue_url(self):
        url = self.queue()
        name = url.rsplit("/", 1)[1]
        self.assertEqual(self.sqs.get_queue_url(QueueName=name)["QueueUrl"], url)
        err = self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.get_queue_url,
                                     QueueName="no-such-queue")
        self.assertEqual(err["Message"], "The specified queue does not exist.")

    def test_queue_url_from_another_host_names_the_same_queue(self):
        url = self.queue()
        other = "https://sqs.us-east-1.amazonaws.com/%s/%s" % (ACCOUNT, url.rsplit("/", 1)[1])
        self.sqs.send_message(QueueUrl=other, MessageBody="via another host")
        self.assertEqual(self.receive_one(url)["Body"], "via another host")

    def test_list_queues_prefix_and_paging(self):
        names = ["pagedlist-%02d" % i for i in range(7)]
        urls = []
        for n in names:
            urls.append(self.sqs.create_queue(QueueName=n)["QueueUrl"])
            self.addCleanup(self._delete_quietly, urls[-1])
        self.queue("-other")
        listed = self.sqs.list_queues(QueueNamePrefix="pagedlist-")
        self.assertEqual(sorted(listed["QueueUrls"]), sorted(urls))
        self.assertNotIn("NextToken", listed)
        self.assertNotIn("QueueUrls", self.sqs.list_queues(QueueNamePrefix="no-queue-has-this-prefix"))
        # Pages of 3: 3 + 3 + 1, every queue exactly once, the last page without a token.
        seen, token, pages = [], None, 0
        while True:
            kw = {"NextToken": token} if token else {}
            page = self.sqs.list_queues(QueueNamePrefix="pagedlist-", MaxResults=3, **kw)
            pages += 1
            self.assertLessEqual(len(page["QueueUrls"]), 3)
            seen += page["QueueUrls"]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(sorted(seen), sorted(urls))
        # The client's own paginator agrees.
        paged = [u for p in self.sqs.get_paginator("list_queues").paginate(
            QueueNamePrefix="pagedlist-", PaginationConfig={"PageSize": 2}) for u in p.get("QueueUrls", [])]
        self.assertEqual(sorted(paged), sorted(urls))
        for bad in [0, 1001]:
            self.assertClientError("InvalidParameterValue", 400, self.sqs.list_queues, MaxResults=bad)

    def test_delete_queue(self):
        url = self.sqs.create_queue(QueueName="to-delete")["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="goes with the queue")
        self.sqs.delete_queue(QueueUrl=url)
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.get_queue_url,
                               QueueName="to-delete")
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.delete_queue, QueueUrl=url)
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.send_message, QueueUrl=url,
                               MessageBody="x")

    def test_get_queue_attributes_each_name(self):
        url = self.queue(VisibilityTimeout=11)
        every = self.attrs(url, "All")
        for name in ["VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "ApproximateNumberOfMessages",
                     "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
                     "ApproximateNumberOfMessagesDelayed", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                     "SqsManagedSseEnabled"]:
            with self.subTest(name=name):
                self.assertEqual(self.attrs(url, name), {name: every[name]})
        # Names that exist but have no value on this queue come back as nothing.
        for name in ["Policy", "RedrivePolicy", "KmsMasterKeyId", "RedriveAllowPolicy"]:
            self.assertEqual(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name]).get("Attributes", {}), {})
        self.assertEqual(self.attrs(url, "VisibilityTimeout", "DelaySeconds"),
                         {"VisibilityTimeout": "11", "DelaySeconds": "0"})
        self.assertNotIn("Attributes", self.sqs.get_queue_attributes(QueueUrl=url))
        err = self.assertClientError("InvalidAttributeName", 400, self.sqs.get_queue_attributes, QueueUrl=url,
                                     AttributeNames=["NoSuchAttribute"])
        self.assertIn("NoSuchAttribute", err["Message"])
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.get_queue_attributes,
                               QueueUrl=url + "-missing", AttributeNames=["All"])

    def test_set_queue_attributes(self):
        url = self.queue()
        dlq = self.queue("-dlq")
        dlq_arn = self.attrs(dlq, "QueueArn")["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "42", "DelaySeconds": "3",
                                                                "RedrivePolicy": policy})
        a = self.attrs(url)
        self.assertEqual((a["VisibilityTimeout"], a["DelaySeconds"]), ("42", "3"))
        self.assertEqual(json.loads(a["RedrivePolicy"])["deadLetterTargetArn"], dlq_arn)
        # An empty RedrivePolicy removes it.
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
        self.assertNotIn("RedrivePolicy", self.attrs(url))
        err = self.assertClientError("InvalidAttributeValue", 400, self.sqs.set_queue_attributes, QueueUrl=url,
                                     Attributes={"VisibilityTimeout": "50000"})
        self.assertIn("VisibilityTimeout", err["Message"])
        self.assertClientError("InvalidAttributeName", 400, self.sqs.set_queue_attributes, QueueUrl=url,
                               Attributes={"QueueArn": "arn:aws:sqs:us-east-1:%s:other" % ACCOUNT})
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.set_queue_attributes,
                               QueueUrl=url + "-missing", Attributes={"VisibilityTimeout": "1"})
        # A failed call changes nothing.
        self.assertEqual(self.attrs(url, "VisibilityTimeout")["VisibilityTimeout"], "42")

    def test_tags(self):
        url = self.sqs.create_queue(QueueName="tagged", tags={"team": "a", "env": "test"})["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"team": "a", "env": "test"})
        self.sqs.tag_queue(QueueUrl=url, Tags={"team": "b", "cost": "42"})
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"team": "b", "env": "test", "cost": "42"})
        self.sqs.untag_queue(QueueUrl=url, TagKeys=["env", "cost", "not-there"])
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"team": "b"})
        self.sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
        self.assertNotIn("Tags", self.sqs.list_queue_tags(QueueUrl=url))
        for fn, kw in [(self.sqs.tag_queue, {"Tags": {"a": "b"}}), (self.sqs.untag_queue, {"TagKeys": ["a"]}),
                       (self.sqs.list_queue_tags, {})]:
            self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, fn, QueueUrl=url + "-missing", **kw)

    def test_purge_queue(self):
        url = self.queue()
        for i in range(5):
            self.sqs.send_message(QueueUrl=url, MessageBody="m%d" % i)
        self.receive_one(url)  # one in flight: purged too
        self.sqs.purge_queue(QueueUrl=url)
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))
        self.assertEqual(self.receive(url), [])
        err = self.assertClientError("AWS.SimpleQueueService.PurgeQueueInProgress", 403, self.sqs.purge_queue,
                                     QueueUrl=url)
        self.assertIn("60 seconds", err["Message"])
        # Sending still works while a purge blocks further purges.
        self.sqs.send_message(QueueUrl=url, MessageBody="after purge")
        self.assertEqual(self.receive_one(url)["Body"], "after purge")
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.purge_queue,
                               QueueUrl=url + "-missing")


class MessageTest(SqsTestCase):
    """SendMessage(+Batch), ReceiveMessage, DeleteMessage(+Batch), ChangeMessageVisibility(+Batch)."""

    ATTRS = {
        "str": {"DataType": "String", "StringValue": "h\u00e9llo \U0001F600"},
        "num": {"DataType": "Number", "StringValue": "-12.5e3"},
        "bin": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
        "custom.a": {"DataType": "String.custom", "StringValue": "x"},
        "custom.b": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a"},
    }

    def test_send_and_receive_with_message_attributes(self):
        url = self.queue()
        body = "payload \u00fc"
        r = self.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=self.ATTRS)
        self.assertEqual(r["MD5OfMessageBody"], md5_hex(body.encode()))
        self.assertEqual(r["MD5OfMessageAttributes"], md5_of_message_attributes(self.ATTRS))
        m = self.receive_one(url, MessageAttributeNames=["All"], VisibilityTimeout=0)
        self.assertEqual(m["MessageId"], r["MessageId"])
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MD5OfBody"], r["MD5OfMessageBody"])
        self.assertEqual(m["MessageAttributes"], self.ATTRS)
        self.assertEqual(m["MD5OfMessageAttributes"], r["MD5OfMessageAttributes"])
        # A prefix picks some attributes; the MD5 covers only those returned.
        m = self.receive_one(url, MessageAttributeNames=["custom.*"], VisibilityTimeout=0)
        picked = {k: v for k, v in self.ATTRS.items() if k.startswith("custom.")}
        self.assertEqual(m["MessageAttributes"], picked)
        self.assertEqual(m["MD5OfMessageAttributes"], md5_of_message_attributes(picked))
        m = self.receive_one(url, MessageAttributeNames=["num", "str"], VisibilityTimeout=0)
        self.assertEqual(set(m["MessageAttributes"]), {"num", "str"})
        # Asked for none: none, and no MD5 of them.
        m = self.receive_one(url, VisibilityTimeout=0)
        self.assertNotIn("MessageAttributes", m)
        self.assertNotIn("MD5OfMessageAttributes", m)

    def test_send_without_attributes_has_no_attribute_md5(self):
        url = self.queue()
        r = self.sqs.send_message(QueueUrl=url, MessageBody="plain")
        self.assertNotIn("MD5OfMessageAttributes", r)
        self.assertRegex(r["MessageId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

    def test_bad_message_attributes(self):
        url = self.queue()
        cases = [
            {"": {"DataType": "String", "StringValue": "x"}},
            {"AWS.reserved": {"DataType": "String", "StringValue": "x"}},
            {"bad name!": {"DataType": "String", "StringValue": "x"}},
            {"t": {"DataType": "Integer", "StringValue": "1"}},
            {"t": {"DataType": "String", "BinaryValue": b"x"}},
            {"t": {"DataType": "Binary", "StringValue": "x"}},
            {"t": {"DataType": "String", "StringValue": "bad \x01 char"}},
            {"a%d" % i: {"DataType": "String", "StringValue": "x"} for i in range(11)},
            {".lead": {"DataType": "String", "StringValue": "x"}},
            {"trail.": {"DataType": "String", "StringValue": "x"}},
            {"dou..ble": {"DataType": "String", "StringValue": "x"}},
            {"amazon.x": {"DataType": "String", "StringValue": "x"}},
            {"t": {"DataType": "Stringy", "StringValue": "x"}},
            {"t": {"DataType": "String.", "StringValue": "x"}},
            {"t": {"DataType": "String", "StringValue": ""}},
            {"t": {"DataType": "Binary", "BinaryValue": b""}},
            {"t": {"DataType": "Number", "StringValue": "twelve"}},
            {"t": {"DataType": "Number", "StringValue": "1e127"}},
            {"t": {"DataType": "Number", "StringValue": "0x10"}},
            {"t": {"DataType": "Number.int", "StringValue": "1.2.3"}},
        ]
        for attrs in cases:
            with self.subTest(attrs=list(attrs)[:2]):
                self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url,
                                       MessageBody="x", MessageAttributes=attrs)
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "0")
        # Numbers in every form AWS accepts.
        for value in ["0", "-1", "+1.5", "1e126", "-1E128", ".5", "5.", "123456789012345678901234567890123456789"]:
            with self.subTest(number=value):
                attrs = {"n": {"DataType": "Number.float", "StringValue": value}}
                r = self.sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
                self.assertEqual(r["MD5OfMessageAttributes"], md5_of_message_attributes(attrs))

    def test_bodies_round_trip_byte_exactly(self):
        url = self.queue()
        bodies = [
            "plain ascii",
            "unicode: \u00e9\u00e8 \u4e2d\u6587 \u0416 \u2603 \U0001F600\U0001F9D1\u200D\U0001F680 \U00010348",
            "back\\slash \\\\ \\n \\u0041 and \"quotes\" 'single'",
            "xml <tag attr=\"v\">&amp; &lt; & < > ]]> <![CDATA[x]]></tag>",
            "cr\rlf\ncrlf\r\ntab\tend",
            "\r\n\r\n",
            "  leading and trailing spaces  ",
            "json {\"a\": [1, 2, {\"b\": null}]}",
            "percent %20 %zz + plus & amp = equals",
            "\ue000\ufffd \U0010FFFF",
        ]
        sent = {}
        for b in bodies:
            r = self.sqs.send_message(QueueUrl=url, MessageBody=b)
            self.assertEqual(r["MD5OfMessageBody"], md5_hex(b.encode("utf-8")), repr(b))
            sent[r["MessageId"]] = b
        got = {}
        while len(got) < len(bodies):
            msgs = self.receive(url, MaxNumberOfMessages=10)
            self.assertTrue(msgs)
            for m in msgs:
                got[m["MessageId"]] = m["Body"]
                self.assertEqual(m["MD5OfBody"], md5_hex(m["Body"].encode("utf-8")))
        for mid, b in sent.items():
            self.assertEqual(got[mid], b)

    def test_invalid_body_characters_are_rejected(self):
        url = self.queue()
        for body, char in [("bad \x01 char", "#x1"), ("form\x0cfeed", "#xC"), ("\x1f", "#x1F"),
                           ("non-character \ufffe", "#xFFFE"), ("\uffff", "#xFFFF"), ("cut \x00 here", "#x0")]:
            with self.subTest(body=body):
                if char == "#x0" and dsstest.sqs_protocol() == "query":
                    # A NUL is refused by the Query protocol layer before SQS sees the body.
                    self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url,
                                           MessageBody=body)
                    continue
                err = self.assertClientError("InvalidMessageContents", 400, self.sqs.send_message, QueueUrl=url,
                                             MessageBody=body)
                self.assertIn("'%s'" % char, err["Message"])
        self.assertClientError("MissingParameter", 400, self.sqs.send_message, QueueUrl=url, MessageBody="")
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "0")

    def test_body_size_limit(self):
        url = self.queue()
        exact = "a" * (1 << 20)
        r = self.sqs.send_message(QueueUrl=url, MessageBody=exact)
        self.assertEqual(r["MD5OfMessageBody"], md5_hex(exact.encode()))
        err = self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url,
                                     MessageBody=exact + "a")
        self.assertIn("1048576", err["Message"])
        m = self.receive_one(url)
        self.assertEqual(m["Body"], exact)
        # The limit is in bytes: 2-byte characters count twice.
        self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url,
                               MessageBody="\u00e9" * ((1 << 19) + 1))
        small = self.queue("-256k", MaximumMessageSize=262144)
        self.sqs.send_message(QueueUrl=small, MessageBody="b" * 262144)
        err = self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=small,
                                     MessageBody="b" * 262145)
        self.assertIn("262144", err["Message"])
        # The batch limit is AWS's fixed 1 MiB in total, not the queue's per-message limit.
        r = self.sqs.send_message_batch(QueueUrl=small, Entries=[{"Id": "a", "MessageBody": "a" * 200000},
                                                                 {"Id": "b", "MessageBody": "b" * 200000}])
        self.assertEqual(len(r["Successful"]), 2)
        r = self.sqs.send_message_batch(QueueUrl=small, Entries=[{"Id": "a", "MessageBody": "a" * 262145}])
        self.assertEqual([f["Code"] for f in r["Failed"]], ["InvalidParameterValue"])
        # Attributes count toward the limit too.
        self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=small,
                               MessageBody="b" * 262140,
                               MessageAttributes={"k": {"DataType": "String", "StringValue": "vvvv"}})

    def test_receive_max_number_of_messages(self):
        url = self.queue()
        self.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "m%d" % i} for i in range(10)])
        self.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "n%d" % i} for i in range(2)])
        self.assertEqual(len(self.receive(url, MaxNumberOfMessages=1)), 1)
        self.assertEqual(len(self.receive(url, MaxNumberOfMessages=10)), 10)
        self.assertEqual(len(self.receive(url, MaxNumberOfMessages=10)), 1)
        self.assertEqual(self.receive(url, MaxNumberOfMessages=10), [])
        for bad in [0, 11, -1]:
            with self.subTest(max=bad):
                err = self.assertClientError("InvalidParameterValue", 400, self.sqs.receive_message, QueueUrl=url,
                                             MaxNumberOfMessages=bad)
                self.assertEqual(err["Message"], "Value %d for parameter MaxNumberOfMessages is invalid. "
                                                 "Reason: Must be between 1 and 10, if provided." % bad)

    def test_receive_parameter_errors(self):
        url = self.queue()
        for kw in [{"WaitTimeSeconds": 21}, {"WaitTimeSeconds": -1}, {"VisibilityTimeout": 43201},
                   {"VisibilityTimeout": -1}]:
            with self.subTest(**kw):
                err = self.assertClientError("InvalidParameterValue", 400, self.sqs.receive_message, QueueUrl=url, **kw)
                self.assertIn(list(kw)[0], err["Message"])
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.receive_message,
                               QueueUrl=url + "-missing")

    def test_receive_system_attributes(self):
        url = self.queue()
        before = int(time.time() * 1000)
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        after = int(time.time() * 1000)
        m = self.receive_one(url, AttributeNames=["SentTimestamp", "ApproximateReceiveCount"], VisibilityTimeout=0)
        self.assertEqual(set(m["Attributes"]), {"SentTimestamp", "ApproximateReceiveCount"})
        self.assertTrue(before - 5 <= int(m["Attributes"]["SentTimestamp"]) <= after + 5, (before, m, after))
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        m = self.receive_one(url, AttributeNames=["All"], VisibilityTimeout=0)
        a = m["Attributes"]
        for k in ["SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"]:
            self.assertIn(k, a)
        self.assertEqual(a["ApproximateReceiveCount"], "2")
        self.assertGreaterEqual(int(a["ApproximateFirstReceiveTimestamp"]), int(a["SentTimestamp"]))
        self.assertNotIn("Attributes", self.receive_one(url, VisibilityTimeout=0))
        op = self.sqs.meta.service_model.operation_model("ReceiveMessage")
        if "MessageSystemAttributeNames" in op.input_shape.members:  # newer SDKs only
            m = self.receive_one(url, MessageSystemAttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=0)
            self.assertEqual(m["Attributes"], {"ApproximateReceiveCount": "4"})

    def test_send_message_batch(self):
        url = self.queue()
        entries = [
            {"Id": "plain", "MessageBody": "one"},
            {"Id": "with-attrs", "MessageBody": "two", "MessageAttributes": self.ATTRS},
            {"Id": "delayed_1", "MessageBody": "three", "DelaySeconds": 30},
        ]
        r = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(r.get("Failed", []), [])
        by_id = {e["Id"]: e for e in r["Successful"]}
        self.assertEqual(set(by_id), {"plain", "with-attrs", "delayed_1"})
        for e in entries:
            self.assertEqual(by_id[e["Id"]]["MD5OfMessageBody"], md5_hex(e["MessageBody"].encode()))
        self.assertEqual(by_id["with-attrs"]["MD5OfMessageAttributes"], md5_of_message_attributes(self.ATTRS))
        self.assertNotIn("MD5OfMessageAttributes", by_id["plain"])
        self.assertEqual(len({e["MessageId"] for e in r["Successful"]}), 3)
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesDelayed"]), ("2", "1"))

    def test_send_message_batch_partial_failure(self):
        url = self.queue()
        r = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok1", "MessageBody": "fine"},
            {"Id": "badchar", "MessageBody": "bad \x02"},
            {"Id": "baddelay", "MessageBody": "x", "DelaySeconds": 901},
            {"Id": "ok2", "MessageBody": "also fine"},
        ])
        self.assertEqual(sorted(e["Id"] for e in r["Successful"]), ["ok1", "ok2"])
        failed = {f["Id"]: f for f in r["Failed"]}
        self.assertEqual(set(failed), {"badchar", "baddelay"})
        self.assertEqual(failed["badchar"]["Code"], "InvalidMessageContents")
        self.assertEqual(failed["baddelay"]["Code"], "InvalidParameterValue")
        for f in failed.values():
            self.assertIs(f["SenderFault"], True)
            self.assertTrue(f["Message"])
        self.assertEqual(sorted(m["Body"] for m in self.receive(url, MaxNumberOfMessages=10)), ["also fine", "fine"])

    def test_batch_request_errors(self):
        url = self.queue()
        for call, entry in [(self.sqs.send_message_batch, {"MessageBody": "x"}),
                            (self.sqs.delete_message_batch, {"ReceiptHandle": "x"}),
                            (self.sqs.change_message_visibility_batch, {"ReceiptHandle": "x", "VisibilityTimeout": 1})]:
            with self.subTest(call=call.__name__):
                self.assertClientError("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, call, QueueUrl=url,
                                       Entries=[dict(entry, Id="e%d" % i) for i in range(11)])
                self.assertClientError("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, call, QueueUrl=url,
                                       Entries=[dict(entry, Id="same"), dict(entry, Id="same")])
                self.assertClientError("AWS.SimpleQueueService.InvalidBatchEntryId", 400, call, QueueUrl=url,
                                       Entries=[dict(entry, Id="bad id!")])
                self.assertClientError("AWS.SimpleQueueService.EmptyBatchRequest", 400, call, QueueUrl=url, Entries=[])
                self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, call, QueueUrl=url + "-missing",
                                       Entries=[dict(entry, Id="a")])
        # The batch as a whole may not pass 1 MiB, even when every message fits.
        err = self.assertClientError("AWS.SimpleQueueService.BatchRequestTooLong", 400, self.sqs.send_message_batch,
                                     QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "a" * 600000},
                                                            {"Id": "b", "MessageBody": "b" * 600000}])
        self.assertIn("1048576", err["Message"])
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "0")

    def test_delete_message(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        m = self.receive_one(url)
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))
        # Deleting again with the same handle succeeds and does nothing.
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        err = self.assertClientError("ReceiptHandleIsInvalid", 400, self.sqs.delete_message, QueueUrl=url,
                                     ReceiptHandle="not-a-handle")
        self.assertIn("not-a-handle", err["Message"])
        self.assertClientError("AWS.SimpleQueueService.NonExistentQueue", 400, self.sqs.delete_message,
                               QueueUrl=url + "-missing", ReceiptHandle=m["ReceiptHandle"])

    def test_counts_follow_every_change(self):
        """The three counts after each kind of change: sends (single, batch, delayed), receives,
        a delete, a visibility change, a redrive to the dead-letter queue, a purge, and a queue
        deleted and made again under the same name (which may be given the deleted one's id)."""
        def counts(url):
            a = self.attrs(url)
            return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
                    int(a["ApproximateNumberOfMessagesDelayed"]))

        dlq = self.queue("-dlq")
        dlq_arn = self.attrs(dlq, "QueueArn")["QueueArn"]
        url = self.queue(RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
        self.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(5)])
        self.sqs.send_message(QueueUrl=url, MessageBody="late", DelaySeconds=900)
        self.assertEqual(counts(url), (5, 0, 1))
        taken = self.receive(url, MaxNumberOfMessages=2, VisibilityTimeout=600)
        self.assertEqual(len(taken), 2)
        self.assertEqual(counts(url), (3, 2, 1))
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=taken[0]["ReceiptHandle"])
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=taken[0]["ReceiptHandle"])  # stale: deletes nothing
        self.assertEqual(counts(url), (3, 1, 1))
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=taken[1]["ReceiptHandle"], VisibilityTimeout=0)
        self.assertEqual(counts(url), (4, 0, 1))
        # Every visible message has been received at most once; receiving them all again moves
        # the one received before (maxReceiveCount 1) to the dead-letter queue.
        again = self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        self.assertEqual(len(again), 3)
        self.assertEqual(counts(url), (0, 3, 1))
        self.assertEqual(counts(dlq), (1, 0, 0))
        self.sqs.purge_queue(QueueUrl=url)
        self.assertEqual(counts(url), (0, 0, 0))
        self.assertEqual(counts(dlq), (1, 0, 0))
        # The newest queue deleted and made again: the new one starts empty.
        fresh = self.queue("-fresh")
        self.sqs.send_message_batch(QueueUrl=fresh, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
        self.sqs.delete_queue(QueueUrl=fresh)
        fresh = self.queue("-fresh")
        self.assertEqual(counts(fresh), (0, 0, 0))
        self.sqs.send_message(QueueUrl=fresh, MessageBody="x")
        self.assertEqual(counts(fresh), (1, 0, 0))

    def test_receipt_handle_of_another_queue_is_invalid(self):
        a, b = self.queue("-a"), self.queue("-b")
        self.sqs.send_message(QueueUrl=a, MessageBody="x")
        m = self.receive_one(a)
        self.assertClientError("ReceiptHandleIsInvalid", 400, self.sqs.delete_message, QueueUrl=b,
                               ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(self.attrs(a, "ApproximateNumberOfMessagesNotVisible")["ApproximateNumberOfMessagesNotVisible"], "1")

    def test_delete_message_batch(self):
        url = self.queue()
        self.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
        msgs = self.receive(url, MaxNumberOfMessages=10)
        self.assertEqual(len(msgs), 3)
        entries = [{"Id": "m%d" % i, "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        entries.append({"Id": "bogus", "ReceiptHandle": "bogus-handle"})
        r = self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(sorted(e["Id"] for e in r["Successful"]), ["m0", "m1", "m2"])
        self.assertEqual([(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]],
                         [("bogus", "ReceiptHandleIsInvalid", True)])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))

    def test_change_message_visibility(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        m = self.receive_one(url, VisibilityTimeout=30)
        self.assertEqual(self.receive(url), [])
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        m2 = self.receive_one(url, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=30)
        self.assertEqual(m2["MessageId"], m["MessageId"])
        self.assertEqual(m2["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertNotEqual(m2["ReceiptHandle"], m["ReceiptHandle"])
        # Extending works; the message stays invisible.
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=60)
        self.assertEqual(self.receive(url), [])
        for bad in [-1, 43201]:
            self.assertClientError("InvalidParameterValue", 400, self.sqs.change_message_visibility, QueueUrl=url,
                                   ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=bad)
        self.assertClientError("ReceiptHandleIsInvalid", 400, self.sqs.change_message_visibility, QueueUrl=url,
                               ReceiptHandle="garbage", VisibilityTimeout=5)
        # Made visible again, the message is no longer in flight.
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=0)
        self.assertClientError("AWS.SimpleQueueService.MessageNotInflight", 400, self.sqs.change_message_visibility,
                               QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=10)

    def test_change_message_visibility_batch(self):
        url = self.queue()
        self.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
        msgs = self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        self.assertEqual(len(msgs), 3)
        r = self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": msgs[1]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "c", "ReceiptHandle": msgs[2]["ReceiptHandle"], "VisibilityTimeout": 99999},
            {"Id": "d", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ])
        self.assertEqual(sorted(e["Id"] for e in r["Successful"]), ["a", "b"])
        failed = {f["Id"]: f["Code"] for f in r["Failed"]}
        self.assertEqual(failed, {"c": "InvalidParameterValue", "d": "ReceiptHandleIsInvalid"})
        again = self.receive(url, MaxNumberOfMessages=10)
        self.assertEqual(sorted(m["MessageId"] for m in again), sorted(m["MessageId"] for m in msgs[:2]))


class SemanticsTest(SqsTestCase):
    """At-least-once delivery, visibility, stale handles, redrive, delays."""

    def test_invisible_until_timeout_then_redelivered(self):
        url = self.queue(VisibilityTimeout=2)
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="again and again")["MessageId"]
        m1 = self.receive_one(url, AttributeNames=["ApproximateReceiveCount"])
        self.assertEqual(m1["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(self.receive(url), [])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "1"))
        time.sleep(2.2)
        m2 = self.receive_one(url, AttributeNames=["ApproximateReceiveCount"])
        self.assertEqual(m2["MessageId"], sent)
        self.assertEqual(m2["Body"], "again and again")
        self.assertEqual(m2["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertNotEqual(m2["ReceiptHandle"], m1["ReceiptHandle"])

    def test_stale_receipt_handle_does_not_delete(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        old = self.receive_one(url, VisibilityTimeout=1)
        time.sleep(1.2)
        new = self.receive_one(url, VisibilityTimeout=1)
        self.assertEqual(old["MessageId"], new["MessageId"])
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])  # succeeds...
        time.sleep(1.2)
        again = self.receive_one(url, AttributeNames=["ApproximateReceiveCount"])  # ...but deleted nothing
        self.assertEqual(again["MessageId"], old["MessageId"])
        self.assertEqual(again["Attributes"]["ApproximateReceiveCount"], "3")
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))

    def test_redrive_to_dead_letter_queue(self):
        dlq = self.queue("-dlq")
        arn = self.attrs(dlq, "QueueArn")["QueueArn"]
        url = self.queue(RedrivePolicy=json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2}))
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="poison",
                                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
        for count in (1, 2):
            m = self.receive_one(url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
            self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], str(count))
        self.assertEqual(self.receive(url, VisibilityTimeout=0), [])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))
        self.assertEqual(self.attrs(dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "1")
        d = self.receive_one(dlq, MessageAttributeNames=["All"])
        self.assertEqual((d["MessageId"], d["Body"]), (sent["MessageId"], "poison"))
        self.assertEqual(d["MessageAttributes"], {"k": {"DataType": "String", "StringValue": "v"}})
        self.assertEqual(d["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"])

    def test_writes_follow_attribute_changes_at_once(self):
        """Sends and receives obey SetQueueAttributes from the next call on. (The emulator keeps
        the queues its writes load, and must drop one as soon as it changes.)"""
        url = self.queue(MaximumMessageSize=1024)
        body = "x" * 1500
        self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url, MessageBody=body)
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "2048"})
        self.sqs.send_message(QueueUrl=url, MessageBody=body)
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "1024"})
        self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url, MessageBody=body)
        # A redrive policy given to a queue in use applies to its next receive...
        self.assertEqual(self.receive_one(url, VisibilityTimeout=0)["Body"], body)
        dlq = self.queue("-dlq")
        arn = self.attrs(dlq, "QueueArn")["QueueArn"]
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})})
        self.assertEqual(self.receive(url, VisibilityTimeout=0), [])
        self.assertEqual(self.receive_one(dlq)["Body"], body)
        # ...and so does its removal.
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
        self.sqs.send_message(QueueUrl=url, MessageBody="stays")
        for count in (1, 2, 3):
            m = self.receive_one(url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
            self.assertEqual((m["Body"], m["Attributes"]["ApproximateReceiveCount"]), ("stays", str(count)))

    def test_queue_delay(self):
        url = self.queue(DelaySeconds=2)
        self.sqs.send_message(QueueUrl=url, MessageBody="later")
        self.assertEqual(self.receive(url), [])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesDelayed"]), ("0", "1"))
        # A message's own DelaySeconds overrides the queue's.
        self.sqs.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
        self.assertEqual(self.receive_one(url)["Body"], "now")
        time.sleep(2.2)
        self.assertEqual(self.receive_one(url)["Body"], "later")

    def test_message_delay(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
        self.assertEqual(self.receive(url), [])
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessagesDelayed")["ApproximateNumberOfMessagesDelayed"], "1")
        time.sleep(2.2)
        self.assertEqual(self.receive_one(url)["Body"], "later")
        for bad in [-1, 901]:
            self.assertClientError("InvalidParameterValue", 400, self.sqs.send_message, QueueUrl=url, MessageBody="x",
                                   DelaySeconds=bad)

    def test_at_least_once_every_message_delivered(self):
        url = self.queue()
        bodies = {"msg-%03d" % i for i in range(35)}
        for chunk in range(0, 35, 10):
            part = sorted(bodies)[chunk:chunk + 10]
            self.sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "i%d" % i, "MessageBody": b}
                                                               for i, b in enumerate(part)])
        got = []
        while True:
            msgs = self.receive(url, MaxNumberOfMessages=10)
            if not msgs:
                break
            got += [m["Body"] for m in msgs]
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "d%d" % i, "ReceiptHandle": m["ReceiptHandle"]}
                                                                 for i, m in enumerate(msgs)])
        self.assertEqual(sorted(got), sorted(bodies))


class FastClockTest(SqsTestCase):
    """Deadlines of a minute and more, on an emulator whose clock runs 30 times faster than
    wall time (--clock-speed): one emulated minute is three real seconds."""

    emulator_args = ("--clock-speed", "20")

    def setUp(self):
        super().setUp()
        if SLOW > 1:
            self.skipTest("windows of a fraction of a second; too short under an emulator wrapper")

    def test_default_visibility_timeout_is_30_seconds(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        first = self.receive_one(url)
        time.sleep(0.3)  # 6 emulated seconds
        self.assertEqual(self.receive(url), [])
        time.sleep(1.5)  # 36 emulated seconds in all
        again = self.receive_one(url, AttributeNames=["ApproximateReceiveCount"])
        self.assertEqual(again["MessageId"], first["MessageId"])
        self.assertEqual(again["Attributes"]["ApproximateReceiveCount"], "2")

    def test_messages_expire_after_the_retention_period(self):
        url = self.queue(MessageRetentionPeriod=60)
        self.sqs.send_message(QueueUrl=url, MessageBody="old")
        time.sleep(1.5)  # 30 emulated seconds: still there
        self.sqs.send_message(QueueUrl=url, MessageBody="young")
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "2")
        time.sleep(2.0)  # 70 emulated seconds after the first send, 40 after the second
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "1")
        self.assertEqual([m["Body"] for m in self.receive(url, MaxNumberOfMessages=10)], ["young"])

    def test_a_message_moved_to_the_dead_letter_queue_keeps_its_send_time(self):
        """Retention counts from the first send: a message redriven 30 s after it was sent
        expires from the dead-letter queue 60 s after that send, not 60 s after the move (the
        emulator knows each queue's oldest send time; a move must lower the DLQ's)."""
        dlq = self.queue("-dlq", MessageRetentionPeriod=60)
        dlq_arn = self.attrs(dlq, "QueueArn")["QueueArn"]
        url = self.queue(RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
        self.sqs.send_message(QueueUrl=url, MessageBody="old")
        self.receive_one(url, VisibilityTimeout=0)
        time.sleep(1.5)  # 30 emulated seconds
        self.assertEqual(self.receive(url), [])  # received once already: moved, not delivered
        self.assertEqual(self.attrs(dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "1")
        self.sqs.send_message(QueueUrl=dlq, MessageBody="young")
        time.sleep(2.0)  # 70 emulated seconds after the first send, 40 after the move
        self.assertEqual(self.attrs(dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "1")
        self.assertEqual([m["Body"] for m in self.receive(dlq, MaxNumberOfMessages=10)], ["young"])

    def test_purge_is_allowed_again_after_60_seconds(self):
        url = self.queue()
        self.sqs.purge_queue(QueueUrl=url)
        self.assertClientError("AWS.SimpleQueueService.PurgeQueueInProgress", 403, self.sqs.purge_queue, QueueUrl=url)
        time.sleep(3.3)  # 66 emulated seconds
        self.sqs.purge_queue(QueueUrl=url)

    def test_sent_timestamp_follows_the_emulated_clock(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="a")
        time.sleep(1.0)
        self.sqs.send_message(QueueUrl=url, MessageBody="b")
        msgs = self.receive(url, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"])
        stamps = {m["Body"]: int(m["Attributes"]["SentTimestamp"]) for m in msgs}
        self.assertGreaterEqual(stamps["b"] - stamps["a"], 15000)  # ~20 emulated seconds apart


class RobustnessTest(SqsTestCase):
    """Mistyped and malformed input, straight onto the wire: every answer is a 4xx in the
    protocol's error shape, never a crash, and the queue is unharmed."""

    OPERATIONS = ["CreateQueue", "GetQueueUrl", "ListQueues", "DeleteQueue", "GetQueueAttributes", "SetQueueAttributes",
                  "PurgeQueue", "TagQueue", "UntagQueue", "ListQueueTags", "SendMessage", "SendMessageBatch",
                  "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
                  "ChangeMessageVisibilityBatch"]
    WEIRD = [None, True, 1, -1, 1.5, 1e300, -1e300, "", "x", "1", [], ["x"], [1], [None], {}, {"a": "b"}, {"a": 1},
             [{}], [{"Id": 1}], {"a": {"DataType": 1}}, {"": ""}, "\u0000", "a" * 3000]

    def post(self, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.emulator.port, timeout=30)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def call_json(self, op, params):
        body = params if isinstance(params, bytes) else json.dumps(params).encode()
        return self.post({"X-Amz-Target": "AmazonSQS." + op, "Content-Type": "application/x-amz-json-1.0"}, body)

    def test_mistyped_json_members(self):
        url = self.queue(VisibilityTimeout=60)  # never addressed below: must come through unharmed
        self.sqs.send_message(QueueUrl=url, MessageBody="survivor")
        scratch = self.queue("-scratch")
        model = botocore.session.get_session().get_service_model("sqs")
        base = {"QueueUrl": scratch, "QueueName": scratch.rsplit("/", 1)[1], "MessageBody": "b",
                "ReceiptHandle": "x", "Entries": [{"Id": "a", "MessageBody": "x", "ReceiptHandle": "x",
                                                   "VisibilityTimeout": 1}]}
        calls = 0
        for op in self.OPERATIONS:
            members = list(model.operation_model(op).input_shape.members)
            cases = [dict(base, **{m: w}) for m in members for w in self.WEIRD]
            cases += [{"QueueUrl": scratch, "Entries": [w], "MessageAttributes": {"k": w}, "Attributes": {"DelaySeconds": w},
                       "Tags": {"k": w}, "TagKeys": [w], "AttributeNames": [w], "MessageAttributeNames": [w]}
                      for w in self.WEIRD]
            cases += [b"", b"null", b"[]", b"1", b'"x"', b"{", b"\xff\xfe", b'{"QueueName":"\xff"}']
            for params in cases:
                status, body = self.call_json(op, params)
                calls += 1
                self.assertLess(status, 500, (op, params, body))
                self.assertTrue(body.startswith(b"{"), (op, params, body))
                if status >= 400:
                    self.assertIn("__type", json.loads(body), (op, params, body))
        self.assertGreater(calls, 1000)
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["VisibilityTimeout"]), ("1", "60"))

    def test_malformed_query_values(self):
        url = self.queue()
        form = "application/x-www-form-urlencoded"
        q = urllib.parse.quote(url, safe="")
        for body in ["Action=ReceiveMessage&Version=2012-11-05&QueueUrl=%s&MaxNumberOfMessages=nan" % q,
                     "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=%s&VisibilityTimeout=1e300" % q,
                     "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=%s&WaitTimeSeconds=-inf" % q,
                     "Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=x&DelaySeconds=0x10" % q,
                     "Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=%%zz" % q,
                     "Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=x&MessageAttribute.1.Name=a" % q,
                     "Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=x&MessageAttribute.1.Name=a"
                     "&MessageAttribute.1.Value.DataType=Binary&MessageAttribute.1.Value.BinaryValue=!!!" % q,
                     "Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=x&DelaySeconds=%%201" % q,
                     "Action=CreateQueue&Version=2012-11-05&QueueName=q&Attribute.1.Name=DelaySeconds",
                     "Action=DeleteMessageBatch&Version=2012-11-05&QueueUrl=%s&DeleteMessageBatchRequestEntry.1.Id=" % q]:
            with self.subTest(body=body):
                status, out = self.post({"Content-Type": form}, body.encode())
                self.assertGreaterEqual(status, 400, out)
                self.assertLess(status, 500, out)
                self.assertIn(b"<ErrorResponse", out)
        self.assertEqual(self.attrs(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"], "0")


class CliTest(SqsTestCase):
    """The unmodified AWS CLIs: Debian's v2 speaks SQS Query, pyenv's v1 speaks SQS JSON."""

    def run_cli(self, aws, name):
        """A queue's life through one CLI: each call costs a CLI start-up (seconds on a busy
        machine), so a few calls cover request encoding, result decoding and an error."""
        def cli(*args):
            rc, out, err = self.aws("sqs", *args, aws=aws)
            self.assertEqual(rc, 0, err)
            return json.loads(out) if out.strip() else {}

        url = cli("create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=300")["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        self.assertEqual(url, "%s/%s/%s" % (self.endpoint, ACCOUNT, name))
        body = "cli <body> & \"quotes\" \u00e9\U0001F600"
        attrs = {"n": {"DataType": "Number", "StringValue": "7"}}
        sent = cli("send-message", "--queue-url", url, "--message-body", body, "--message-attributes",
                   json.dumps(attrs))
        self.assertEqual(sent["MD5OfMessageBody"], md5_hex(body.encode()))
        self.assertEqual(sent["MD5OfMessageAttributes"], md5_of_message_attributes(attrs))
        got = cli("receive-message", "--queue-url", url, "--attribute-names", "All", "--message-attribute-names", "All")
        m = got["Messages"][0]
        self.assertEqual((m["MessageId"], m["Body"]), (sent["MessageId"], body))
        self.assertEqual(m["MessageAttributes"]["n"]["StringValue"], "7")
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        attrs = cli("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
        self.assertEqual((attrs["VisibilityTimeout"], attrs["ApproximateNumberOfMessagesNotVisible"]), ("300", "1"))
        cli("delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))
        rc, out, err = self.aws("sqs", "get-queue-url", "--queue-name", name + "-missing", aws=aws)
        self.assertNotEqual(rc, 0)
        self.assertIn("NonExistentQueue", err)

    def test_debian_cli_v2_query_protocol(self):
        if not os.path.exists("/usr/bin/aws"):
            self.skipTest("Debian's AWS CLI (/usr/bin/aws) is not installed")
        self.run_cli("/usr/bin/aws", "cli-v2-query")

    def test_path_cli_v1_json_protocol(self):
        exe = shutil.which("aws")
        if exe and "/shims/" in exe:  # pyenv's shim: find the real program (a second of start-up less)
            p = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True)
            exe = p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else exe
        if not exe or os.path.realpath(exe) == "/usr/bin/aws":
            self.skipTest("no AWS CLI other than /usr/bin/aws on PATH")
        self.run_cli(exe, "cli-v1-json")

if __name__ == "__main__":
    unittest.main()
