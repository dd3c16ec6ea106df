"""Hostile input over HTTP: malformed, mistyped, oversized and abandoned requests against every
service the emulator serves, sent byte by byte over raw sockets so nothing is tidied on the way.

Each test throws one burst, checks that every answer is the error the service's protocol would
give (JSON: status, content type, __type; Query: <ErrorResponse><Error><Code>; REST: <Error>),
and then that the emulator is still healthy: /_dss/health answers, ordinary requests work and
the witness data written before the first burst is exactly as it was.

Liveness is checked with generous timeouts only (a request that has not answered within
ANSWER_SECONDS is a hang); speed belongs to tests/bench.
"""
import json
import socket
import struct
import threading
import time
import unittest
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import botocore.exceptions

import dsstest

ANSWER_SECONDS = 30
DDB = "DynamoDB_20120810."
SQS = "AmazonSQS."
SQS_VERSION = "2012-11-05"
WITNESS_TABLE = "hostile_witness"
WITNESS_QUEUE = "hostile-witness"
BODY_CAP = 16 << 20  # the emulator's request body limit (server.c JSON_BODY_MAX)


# ---- raw HTTP ----

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers.get("content-type"), self.body[:300])


def read_response(stream):
    """Reads one HTTP/1.1 response from a socket or from a buffered reader over one (needed to
    read pipelined responses one by one); None if the server closed without answering."""
    f = stream.makefile("rb") if isinstance(stream, socket.socket) else stream
    status_line = f.readline()
    if not status_line:
        return None
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(f.readline().split(b";")[0], 16)
            body += f.read(size)
            f.readline()
            if size == 0:
                break
    else:
        body = f.read()
    return Response(status, headers, body)


def build(method, path, headers=(), body=b"", content_length=True):
    """The bytes of a request; Host and Content-Length are added unless given."""
    names = {h[0].lower() for h in headers}
    lines = ["%s %s HTTP/1.1" % (method, path)]
    hdrs = list(headers)
    if "host" not in names:
        hdrs.insert(0, ("Host", "127.0.0.1"))
    if content_length and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    head = "\r\n".join(lines) .encode() + b"\r\n"
    for name, value in hdrs:
        name = name.encode("latin-1") if isinstance(name, str) else name
        value = value.encode("latin-1") if isinstance(value, str) else value
        head += name + b": " + value + b"\r\n"
    return head + b"\r\n" + body


def connect(port, timeout=ANSWER_SECONDS):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def rst_close(sock):
    """Closes with a TCP reset rather than an orderly FIN: the abrupt case."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def exchange(port, data, timeout=ANSWER_SECONDS):
    """Sends data and reads one response (None: the server closed without one)."""
    with connect(port, timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse early and close; its answer is still readable
        try:
            return read_response(s)
        except ConnectionResetError:
            return None


def json_body(obj):
    return obj if isinstance(obj, bytes) else json.dumps(obj).encode()


def nested(depth, open_, close):
    return (open_ * depth + close * depth).encode()


# Types of the members of a few operations, as the service models declare them:
# s string, i integer, b boolean, m map, l list, t structure.
DDB_MEMBERS = {
    "PutItem": ({"TableName": WITNESS_TABLE, "Item": {"pk": {"S": "scratch"}}},
                {"TableName": "s", "Item": "m", "Expected": "m", "ReturnValues": "s", "ReturnConsumedCapacity": "s",
                 "ReturnItemCollectionMetrics": "s", "ConditionalOperator": "s", "ConditionExpression": "s",
                 "ExpressionAttributeNames": "m", "ExpressionAttributeValues": "m"}),
    "GetItem": ({"TableName": WITNESS_TABLE, "Key": {"pk": {"S": "w0"}}},
                {"TableName": "s", "Key": "m", "AttributesToGet": "l", "ConsistentRead": "b",
                 "ReturnConsumedCapacity": "s", "ProjectionExpression": "s", "ExpressionAttributeNames": "m"}),
    "Query": ({"TableName": WITNESS_TABLE, "KeyConditionExpression": "pk = :v",
               "ExpressionAttributeValues": {":v": {"S": "w0"}}},
              {"TableName": "s", "IndexName": "s", "Select": "s", "AttributesToGet": "l", "Limit": "i",
               "ConsistentRead": "b", "KeyConditions": "m", "QueryFilter": "m", "ConditionalOperator": "s",
               "ScanIndexForward": "b", "ExclusiveStartKey": "m", "ReturnConsumedCapacity": "s",
               "ProjectionExpression": "s", "FilterExpression": "s", "KeyConditionExpression": "s",
               "ExpressionAttributeNames": "m", "ExpressionAttributeValues": "m"}),
    "Scan": ({"TableName": WITNESS_TABLE},
             {"TableName": "s", "IndexName": "s", "AttributesToGet": "l", "Limit": "i", "Select": "s",
              "ScanFilter": "m", "ConditionalOperator": "s", "ExclusiveStartKey": "m", "ReturnConsumedCapacity": "s",
              "TotalSegments": "i", "Segment": "i", "ProjectionExpression": "s", "FilterExpression": "s",
              "ExpressionAttributeNames": "m", "ExpressionAttributeValues": "m", "ConsistentRead": "b"}),
    "UpdateItem": ({"TableName": WITNESS_TABLE, "Key": {"pk": {"S": "scratch"}}, "UpdateExpression": "SET x = :v",
                    "ExpressionAttributeValues": {":v": {"S": "a"}}},
                   {"TableName": "s", "Key": "m", "AttributeUpdates": "m", "Expected": "m", "ConditionalOperator": "s",
                    "ReturnValues": "s", "ReturnConsumedCapacity": "s", "ReturnItemCollectionMetrics": "s",
                    "UpdateExpression": "s", "ConditionExpression": "s", "ExpressionAttributeNames": "m",
                    "ExpressionAttributeValues": "m"}),
    "CreateTable": ({"TableName": "hostile_new", "BillingMode": "PAY_PER_REQUEST",
                     "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                     "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}]},
                    {"TableName": "s", "AttributeDefinitions": "l", "KeySchema": "l", "BillingMode": "s",
                     "ProvisionedThroughput": "t", "LocalSecondaryIndexes": "l", "GlobalSecondaryIndexes": "l",
                     "Tags": "l"}),
    "ListTables": ({}, {"ExclusiveStartTableName": "s", "Limit": "i"}),
    "BatchGetItem": ({"RequestItems": {WITNESS_TABLE: {"Keys": [{"pk": {"S": "w0"}}]}}},
                     {"RequestItems": "m", "ReturnConsumedCapacity": "s"}),
    "BatchWriteItem": ({"RequestItems": {WITNESS_TABLE: [{"PutRequest": {"Item": {"pk": {"S": "scratch"}}}}]}},
                       {"RequestItems": "m", "ReturnConsumedCapacity": "s", "ReturnItemCollectionMetrics": "s"}),
}
SQS_MEMBERS = {
    "SendMessage": ({"QueueUrl": None, "MessageBody": "x"},
                    {"QueueUrl": "s", "MessageBody": "s", "DelaySeconds": "i", "MessageAttributes": "m",
                     "MessageSystemAttributes": "m", "MessageDeduplicationId": "s", "MessageGroupId": "s"}),
    "ReceiveMessage": ({"QueueUrl": None, "VisibilityTimeout": 0},
                       {"QueueUrl": "s", "AttributeNames": "l", "MessageAttributeNames": "l",
                        "MaxNumberOfMessages": "i", "VisibilityTimeout": "i", "WaitTimeSeconds": "i",
                        "ReceiveRequestAttemptId": "s"}),
    "CreateQueue": ({"QueueName": "hostile-scratch"}, {"QueueName": "s", "Attributes": "m", "tags": "m"}),
    "SendMessageBatch": ({"QueueUrl": None, "Entries": [{"Id": "a", "MessageBody": "x"}]},
                         {"QueueUrl": "s", "Entries": "l"}),
}
# JSON values of every kind, and the member types each is wrong for.
WRONG = [(5, "sml t"), (True, "siml t"), ("str", "iblmt"), ([1], "sibmt"), ({"a": 1}, "sibl")]


class HostileTest(dsstest.EmulatorTestCase):
    witness_items = [{"pk": {"S": "w%d" % i}, "n": {"N": str(i * 1000 + 7)}, "s": {"S": "witness %d é" % i},
                      "l": {"L": [{"S": "x"}, {"N": "1.5"}, {"M": {"k": {"BOOL": True}}}]}} for i in range(5)]
    witness_bodies = ["witness message %d" % i for i in range(5)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = cls.emulator.port
        cls.ddb = dsstest.client(cls.endpoint, "dynamodb")
        cls.sqs = dsstest.client(cls.endpoint, "sqs")
        cls.ddb.create_table(TableName=WITNESS_TABLE, BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        for item in cls.witness_items:
            cls.ddb.put_item(TableName=WITNESS_TABLE, Item=item)
        cls.queue_url = cls.sqs.create_queue(QueueName=WITNESS_QUEUE)["QueueUrl"]
        for body in cls.witness_bodies:
            cls.sqs.send_message(QueueUrl=cls.queue_url, MessageBody=body)
        cls.scratch_url = cls.sqs.create_queue(QueueName="hostile-scratch")["QueueUrl"]
        with urllib.request.urlopen(cls.endpoint + "/_dss/health", timeout=10) as r:
            cls.services = json.loads(r.read())["services"]

    def setUp(self):
        """Puts the witness data back as it was, so that a burst that damaged it fails its own
        test and no other."""
        for item in self.witness_items:
            self.ddb.put_item(TableName=WITNESS_TABLE, Item=item)
        self.ddb.delete_item(TableName=WITNESS_TABLE, Key={"pk": {"S": "scratch"}})
        for extra in self.ddb.scan(TableName=WITNESS_TABLE, ConsistentRead=True)["Items"]:
            if extra not in self.witness_items:
                self.ddb.delete_item(TableName=WITNESS_TABLE, Key={"pk": extra["pk"]})
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        if (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) != ("5", "0"):
            cls = type(self)
            cls.witness_generation = getattr(cls, "witness_generation", 0) + 1
            cls.queue_url = self.sqs.create_queue(QueueName="%s-%d" % (WITNESS_QUEUE, cls.witness_generation))["QueueUrl"]
            for body in self.witness_bodies:
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    # ---- the checks after every burst ----

    def check_intact(self):
        """The emulator answers, serves ordinary requests, and the witness data is unchanged."""
        self.ddb.delete_item(TableName=WITNESS_TABLE, Key={"pk": {"S": "scratch"}})  # a burst's own writes
        status, body = self.emulator.health()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], "ok")
        for item in self.witness_items:
            got = self.ddb.get_item(TableName=WITNESS_TABLE, Key={"pk": item["pk"]}, ConsistentRead=True)
            self.assertEqual(got.get("Item"), item)
        self.assertEqual(self.ddb.scan(TableName=WITNESS_TABLE, Select="COUNT")["Count"], len(self.witness_items))
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages",
                                                     "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        self.assertEqual(attrs, {"ApproximateNumberOfMessages": str(len(self.witness_bodies)),
                                 "ApproximateNumberOfMessagesNotVisible": "0"})
        # An ordinary round trip on each service.
        self.sqs.send_message(QueueUrl=self.scratch_url, MessageBody="round trip")
        got = []
        for _ in range(20):
            got = self.sqs.receive_message(QueueUrl=self.scratch_url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=30).get("Messages", [])
            if any(m["Body"] == "round trip" for m in got):
                break
            for m in got:  # leftovers of a burst
                self.sqs.delete_message(QueueUrl=self.scratch_url, ReceiptHandle=m["ReceiptHandle"])
        self.assertIn("round trip", [m["Body"] for m in got])
        for m in got:
            self.sqs.delete_message(QueueUrl=self.scratch_url, ReceiptHandle=m["ReceiptHandle"])
        self.ddb.put_item(TableName=WITNESS_TABLE, Item={"pk": {"S": "scratch"}, "v": {"S": "ok"}})
        self.assertEqual(self.ddb.get_item(TableName=WITNESS_TABLE, Key={"pk": {"S": "scratch"}})["Item"]["v"],
                         {"S": "ok"})
        self.ddb.delete_item(TableName=WITNESS_TABLE, Key={"pk": {"S": "scratch"}})

    # ---- requests and the shapes of their answers ----

    def send(self, data, timeout=ANSWER_SECONDS):
        r = exchange(self.port, data, timeout)
        self.assertIsNotNone(r, "the emulator closed the connection without answering %r" % data[:200])
        return r

    def json_call(self, target, body, headers=None):
        hdrs = headers if headers is not None else [("Content-Type", "application/x-amz-json-1.0")]
        return self.send(build("POST", "/", [("X-Amz-Target", target)] + hdrs, json_body(body)))

    def query_call(self, form, path="/", ctype="application/x-www-form-urlencoded"):
        body = form if isinstance(form, bytes) else urllib.parse.urlencode(form).encode()
        return self.send(build("POST", path, [("Content-Type", ctype)], body))

    def assert_json_error(self, r, status, codes, what=""):
        """A JSON-protocol error: status, content type, __type naming one of codes, a message."""
        codes = (codes,) if isinstance(codes, str) else codes
        ctx = "%s -> %r" % (what, r)
        self.assertEqual(r.status, status, ctx)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/x-amz-json-1."), ctx)
        self.assertIn("x-amzn-requestid", r.headers, ctx)
        doc = json.loads(r.body)
        self.assertIn(doc["__type"].rsplit("#", 1)[-1], codes, ctx)
        self.assertIsInstance(doc.get("message", doc.get("Message")), str, ctx)
        return doc

    def assert_query_error(self, r, status, codes, what=""):
        """A Query-protocol error: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>."""
        codes = (codes,) if isinstance(codes, str) else codes
        ctx = "%s -> %r" % (what, r)
        self.assertEqual(r.status, status, ctx)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/xml"), ctx)
        root = ET.fromstring(r.body)
        strip = lambda tag: tag.rsplit("}", 1)[-1]
        self.assertEqual(strip(root.tag), "ErrorResponse", ctx)
        err = {strip(e.tag): e for e in root}
        fields = {strip(e.tag): (e.text or "") for e in err["Error"]}
        self.assertIn(fields["Type"], ("Sender", "Receiver"), ctx)
        self.assertIn(fields["Code"], codes, ctx)
        self.assertIn("Message", fields, ctx)
        self.assertTrue(err["RequestId"].text, ctx)
        return fields

    def assert_xml_error(self, r, status_range, what=""):
        """An S3-style <Error><Code/></Error> answer with a 4xx status."""
        ctx = "%s -> %r" % (what, r)
        self.assertIn(r.status, status_range, ctx)
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "Error", ctx)
        self.assertTrue(root.findtext("Code"), ctx)
        return root.findtext("Code")

    # ---- bursts ----

    def test_invalid_json_bodies(self):
        bodies = [b"{", b'{"TableName":', b"not json", b"[]", b'"text"', b"123", b"null",
                  b"\xff\xfe{}", b'{"a":"\xff"', nested(10000, "[", "]"), b'{"a":' * 10000 + b"1" + b"}" * 10000,
                  b"{" * 200000, b'{"QueueName":"a" "b"}', b"{'single':'quotes'}", b'{"a":NaN}']
        for target in (DDB + "ListTables", SQS + "ListQueues"):
            for body in bodies:
                r = self.json_call(target, body)
                self.assert_json_error(r, 400, "SerializationException", "%s %r" % (target, body[:40]))
        self.check_intact()

    def test_json_with_trailing_bytes(self):
        for target in (DDB + "ListTables", SQS + "ListQueues"):
            for body in (b'{"a":1}}', b'{}{}', b'{} x', b'{}\x00junk'):
                r = self.json_call(target, body)
                self.assert_json_error(r, 400, "SerializationException", "%s %r" % (target, body))

    def test_truncated_bodies(self):
        """Content-Length promises more than arrives, then the client goes away."""
        body = json.dumps({"TableName": WITNESS_TABLE, "Item": {"pk": {"S": "w0"}, "evil": {"S": "x" * 1000}}}).encode()
        for cut in (0, 1, len(body) // 2, len(body) - 1):
            for close in (rst_close, socket.socket.close):
                s = connect(self.port)
                s.sendall(build("POST", "/", [("X-Amz-Target", DDB + "PutItem"),
                                              ("Content-Length", str(len(body)))], body[:cut]))
                close(s)
        form = b"Action=SendMessage&Version=2012-11-05&QueueUrl=" + self.queue_url.encode() + b"&MessageBody=evil"
        for cut in (1, len(form) // 2, len(form) - 1):
            s = connect(self.port)
            s.sendall(build("POST", "/", [("Content-Type", "application/x-www-form-urlencoded"),
                                          ("Content-Length", str(len(form)))], form[:cut]))
            rst_close(s)
        time.sleep(0.2)
        self.check_intact()

    def test_json_members_of_the_wrong_type(self):
        for op, (base, members) in DDB_MEMBERS.items():
            for member, kind in members.items():
                for value, wrong_for in WRONG:
                    if kind not in wrong_for:
                        continue
                    body = dict(base, **{member: value})
                    r = self.json_call(DDB + op, body)
                    self.assert_json_error(r, 400, "SerializationException", "%s %s=%r" % (op, member, value))
        for op, (base, members) in SQS_MEMBERS.items():
            for member, kind in members.items():
                for value, wrong_for in WRONG:
                    if kind not in wrong_for:
                        continue
                    body = dict(base, **{member: value})
                    if "QueueUrl" in body and body["QueueUrl"] is None:
                        body["QueueUrl"] = self.scratch_url
                    r = self.json_call(SQS + op, body)
                    self.assert_json_error(r, 400, "SerializationException", "%s %s=%r" % (op, member, value))
        self.check_intact()

    def test_attribute_values_of_the_wrong_type(self):
        bad_values = [{"S": 5}, {"S": ["a"]}, {"N": 5}, {"N": {"a": 1}}, {"B": 5}, {"BOOL": "true"}, {"NULL": 1},
                      {"L": {"a": {"S": "x"}}}, {"L": "x"}, {"M": [1]}, {"M": "x"}, {"SS": "a"}, {"SS": [1]},
                      {"NS": [1]}, {"BS": [True]}, 5, "x", [1], None]
        for value in bad_values:
            r = self.json_call(DDB + "PutItem", {"TableName": WITNESS_TABLE, "Item": {"pk": {"S": "w0"}, "a": value}})
            self.assert_json_error(r, 400, ("SerializationException", "ValidationException"), repr(value))
            r = self.json_call(DDB + "GetItem", {"TableName": WITNESS_TABLE, "Key": {"pk": value}})
            self.assert_json_error(r, 400, ("SerializationException", "ValidationException"), repr(value))
        for value in ({"B": "!!!"}, {"B": "abc"}, {"N": "1e999"}, {"N": "x"}, {"N": "1" * 39}, {"SS": []},
                      {"SS": ["a", "a"]}, {"S": "a", "N": "1"}, {}, {"X": "1"}):
            r = self.json_call(DDB + "PutItem", {"TableName": WITNESS_TABLE, "Item": {"pk": {"S": "w0"}, "a": value}})
            self.assert_json_error(r, 400, ("SerializationException", "ValidationException"), repr(value))
        self.check_intact()

    def test_deep_nesting(self):
        def nested_m(depth):
            v = {"S": "leaf"}
            for _ in range(depth):
                v = {"M": {"a": v}}
            return v

        def nested_l(depth):
            v = {"S": "leaf"}
            for _ in range(depth):
                v = {"L": [v]}
            return v

        # Within cJSON's nesting limit but past DynamoDB's 32 levels.
        for depth in (33, 100, 240):
            for value in (nested_m(depth), nested_l(depth)):
                item = {"pk": {"S": "w1"}, "deep": value}
                r = self.json_call(DDB + "PutItem", {"TableName": WITNESS_TABLE, "Item": item})
                doc = self.assert_json_error(r, 400, "ValidationException", "depth %d" % depth)
                self.assertIn("Nesting Levels have exceeded supported limits", doc["message"])
        ok = {"pk": {"S": "scratch"}, "deep": nested_m(31)}
        r = self.json_call(DDB + "PutItem", {"TableName": WITNESS_TABLE, "Item": ok})
        self.assertEqual(r.status, 200, r)
        self.ddb.delete_item(TableName=WITNESS_TABLE, Key={"pk": {"S": "scratch"}})
        # Far past any parser's limit, in every place a value can go.
        deep_obj = b'{"a":' * 10000 + b"1" + b"}" * 10000
        deep_arr = nested(10000, "[", "]")
        for target, member in ((DDB + "PutItem", "Item"), (DDB + "Query", "ExpressionAttributeValues"),
                               (DDB + "ListTables", "Limit"), (SQS + "SendMessage", "MessageAttributes"),
                               (SQS + "CreateQueue", "Attributes")):
            for deep in (deep_obj, deep_arr):
                body = b'{"TableName":"%s","QueueUrl":"%s","%s":%s}' % (
                    WITNESS_TABLE.encode(), self.scratch_url.encode(), member.encode(), deep)
                r = self.json_call(target, body)
                self.assert_json_error(r, 400, "SerializationException", "%s %s" % (target, member))
        self.check_intact()

    def test_expression_bombs(self):
        """Expressions nested, long and self-multiplying: each refused with DynamoDB's error, the
        item never past 400 KB."""
        put = lambda expr: self.json_call(DDB + "PutItem", {"TableName": WITNESS_TABLE, "Item": {"pk": {"S": "w2"}},
                                                            "ConditionExpression": expr,
                                                            "ExpressionAttributeValues": {":v": {"S": "x"}}})
        for expr in ("(" * 2000 + "a = :v" + ")" * 2000, "(" * 100000 + "a = :v" + ")" * 100000,
                     "NOT " * 1000 + "a = :v", "a = :v AND " * 400 + "a = :v", "a IN (" + ",".join([":v"] * 1500) + ")",
                     "a" + "[99999999999999999999]" + " = :v", "a" + ".b" * 3000 + " = :v"):
            r = put(expr)
            doc = self.assert_json_error(r, 400, ("ValidationException", "ConditionalCheckFailedException"), expr[:30])
            if doc["__type"].endswith("ValidationException"):
                self.assertTrue(doc["message"].startswith("Invalid ConditionExpression: "), doc)
        self.ddb.put_item(TableName=WITNESS_TABLE, Item={"pk": {"S": "scratch"}, "l": {"L": [{"S": "x" * 1000}]}})
        for i in range(20):  # list_append(l, l) doubles the list until the item would pass 400 KB
            r = self.json_call(DDB + "UpdateItem", {"TableName": WITNESS_TABLE, "Key": {"pk": {"S": "scratch"}},
                                                    "UpdateExpression": "SET l = list_append(l, l)"})
            if r.status != 200:
                doc = self.assert_json_error(r, 400, "ValidationException", "doubling")
                self.assertIn("exceeded the maximum allowed size", doc["message"])
                break
        else:
            self.fail("an item grew past 400 KB")
        self.check_intact()

    def test_huge_and_odd_targets(self):
        for target in ("x" * 8000, DDB + "x" * 8000, "DynamoDB_20120810." * 400, DDB, SQS, ".", "", "\x01\x7f",
                       DDB + "PutItem\t", "dynamodb_20120810.PutItem", DDB + "putitem"):
            r = self.json_call(target, {"TableName": WITNESS_TABLE})
            self.assert_json_error(r, 400, "UnknownOperationException", repr(target[:40]))
        # Beyond any sane header size: refused before routing, never a crash.
        for size in (100 << 10, 2 << 20):
            r = exchange(self.port, build("POST", "/", [("X-Amz-Target", DDB + "x" * size)], b"{}"))
            if r is not None:
                self.assertGreaterEqual(r.status, 400, r)
                self.assertLess(r.status, 500, r)
        # Thousands of headers.
        r = exchange(self.port, build("POST", "/", [("X-Amz-Target", DDB + "ListTables")] +
                                      [("X-Junk-%d" % i, "v") for i in range(5000)], b"{}"))
        if r is not None:
            self.assertIn(r.status, (200, 400, 413, 431), r)
        self.check_intact()

    def test_missing_and_garbage_content_types(self):
        for ctype in (None, "", "garbage", "\x01\x02;;;=", "application/json", "application/x-amz-json-1.1",
                      "text/plain; charset=\xff", "application/x-amz-json-1.0" + ";x" * 2000):
            hdrs = [] if ctype is None else [("Content-Type", ctype)]
            r = self.json_call(DDB + "ListTables", {}, headers=hdrs)
            if r.status != 200:
                self.assert_json_error(r, 400, ("SerializationException", "UnknownOperationException"), repr(ctype))
        form = {"Action": "ListQueues", "Version": SQS_VERSION}
        for ctype in ("application/x-www-form-urlencoded; charset=utf-8", "APPLICATION/X-WWW-FORM-URLENCODED"):
            r = self.query_call(form, ctype=ctype)
            self.assertEqual(r.status, 200, r)
        for ctype in ("", "text/plain", "multipart/form-data; boundary=x", "\x01garbage"):
            # Not a Query request: S3's REST API has it (POST / is not an S3 operation).
            r = self.query_call(form, ctype=ctype)
            self.assert_xml_error(r, list(range(400, 500)) + [501], repr(ctype))
        self.check_intact()

    def test_bodies_over_the_cap(self):
        big = b"x" * (BODY_CAP + 1)
        r = self.json_call(DDB + "PutItem", b'{"TableName":"' + big + b'"}')
        self.assert_json_error(r, 413, "RequestEntityTooLarge", "DynamoDB")
        r = self.json_call(SQS + "SendMessage", b'{"MessageBody":"' + big + b'"}')
        self.assert_json_error(r, 413, "RequestEntityTooLarge", "SQS JSON")
        r = self.query_call(b"Action=SendMessage&Version=2012-11-05&MessageBody=" + big)
        self.assert_query_error(r, 413, "RequestEntityTooLarge", "SQS Query")
        # Chunked: no Content-Length to refuse early.
        chunk = b"x" * (1 << 20)
        data = build("POST", "/", [("X-Amz-Target", DDB + "PutItem"), ("Transfer-Encoding", "chunked")], b"")
        data += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
        r = self.send(data)
        self.assert_json_error(r, 413, "RequestEntityTooLarge", "chunked")
        # Lengths no parser can take.
        for length in ("99999999999999999999999", "-1", "abc", "1 2"):
            r = exchange(self.port, build("POST", "/", [("X-Amz-Target", DDB + "ListTables"),
                                                        ("Content-Length", length)], b"{}"))
            if r is not None:
                self.assertGreaterEqual(r.status, 400, (length, r))
        self.check_intact()

    def test_declared_length_over_the_cap_is_refused_at_once(self):
        """A client announcing 100 GB gets 413 before it sends anything, as AWS answers."""
        for target, length in ((DDB + "PutItem", "99999999999"), (SQS + "SendMessage", str(BODY_CAP + 1))):
            r = exchange(self.port, build("POST", "/", [("X-Amz-Target", target), ("Content-Length", length)],
                                          b"{}"), timeout=5)
            self.assertIsNotNone(r)
            self.assert_json_error(r, 413, "RequestEntityTooLarge", target)

    def test_form_with_10000_pairs(self):
        pairs = "&".join("p%d=v" % i for i in range(10000))
        r = self.query_call(("Action=ListQueues&Version=2012-11-05&" + pairs).encode())
        self.assert_query_error(r, 400, "MalformedQueryString", "10000 pairs")
        pairs = "&".join("p%d=v" % i for i in range(4000))
        r = self.query_call(("Action=ListQueues&Version=2012-11-05&" + pairs).encode())
        self.assertEqual(r.status, 200, r)
        # 10,000 pairs in the query string of a GET.
        r = self.send(build("GET", "/?Action=ListQueues&Version=2012-11-05&" +
                            "&".join("q%d=v" % i for i in range(10000)), []))
        self.assertIn(r.status, (200, 400, 414, 431), r)
        self.check_intact()

    def test_huge_list_indexes(self):
        """Attribute.999999.Name and friends: indexes far past any real list, with many pairs."""
        url = self.scratch_url
        forms = [
            "Action=CreateQueue&Version=2012-11-05&QueueName=hostile-idx&Attribute.999999.Name=DelaySeconds"
            "&Attribute.999999.Value=1",
            "Action=CreateQueue&Version=2012-11-05&QueueName=hostile-idx&Attribute.100000.Name=DelaySeconds"
            "&Attribute.100000.Value=1&" + "&".join("Attribute.%d.Name=x" % (99000 + i) for i in range(4000)),
            "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=%s&" % url +
            "&".join("SendMessageBatchRequestEntry.%d.Id=a%d" % (100000 - i, i) for i in range(4000)),
            "Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=x&" % url +
            "&".join("MessageAttribute.%d.Name=n%d&MessageAttribute.%d.Value.StringListValue.100000=x"
                     % (100000 - i, i, 100000 - i) for i in range(2000)),
            "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=%s&" % url +
            "&".join("AttributeName.%d=All" % (100000 - i) for i in range(4000)),
        ]
        for form in forms:
            r = self.query_call(form.encode())
            if r.status != 200:
                self.assert_query_error(r, 400, ("InvalidParameterValue", "MalformedQueryString",
                                                 "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                                                 "AWS.SimpleQueueService.InvalidBatchEntryId",
                                                 "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                                                 "InvalidAttributeName", "MissingParameter"), form[:80])
        for m in self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.check_intact()

    def test_invalid_percent_escapes(self):
        for body in (b"Action=ListQueues&Version=2012-11-05&x=%ZZ", b"Action=ListQueues&Version=2012-11-05&x=%",
                     b"Action=ListQueues&Version=2012-11-05&x=%4", b"Action=ListQueues%&Version=2012-11-05",
                     b"%%%%%%", b"Action=List%G1Queues&Version=2012-11-05"):
            r = self.query_call(body)
            self.assert_query_error(r, 400, "MalformedQueryString", repr(body))
        for path in ("/?Action=ListQueues&Version=2012-11-05&x=%ZZ", "/?Action=ListQueues&Version=2012-11-05&x=%",
                     "/%ZZ?Action=ListQueues&Version=2012-11-05"):
            r = self.send(build("GET", path, []))
            if r.status != 200:
                self.assert_query_error(r, 400, ("MalformedQueryString", "InvalidAction"), path)
        self.check_intact()

    def test_nul_bytes(self):
        # A NUL must never cut a key short: "w0<NUL>evil" is not the witness item w0.
        item = b'{"TableName":"%s","Item":{"pk":{"S":"w0\\u0000evil"},"evil":{"S":"1"}}}' % WITNESS_TABLE.encode()
        r = self.json_call(DDB + "PutItem", item)
        # The emulator cannot hold U+0000 in a string (a documented limitation) and refuses it.
        self.assert_json_error(r, 400, "ValidationException", "escaped NUL key")
        self.assertRaises(Exception, self.ddb.get_item, TableName=WITNESS_TABLE, Key={"pk": {"S": "w0\x00evil"}})
        for form in ("Action=CreateQueue&Version=2012-11-05&QueueName=hostile-witness%00x",
                     "Action=SendMessage&Version=2012-11-05&QueueUrl=" + self.queue_url + "&MessageBody=a%00b",
                     "Action=GetQueueUrl&Version=2012-11-05&QueueName=hostile-witness%00"):
            r = self.query_call(form.encode())
            self.assert_query_error(r, 400, ("InvalidParameterValue", "AWS.SimpleQueueService.NonExistentQueue",
                                             "InvalidMessageContents"), form)
        # NULs in the request line and headers.
        r = exchange(self.port, b"GET /_dss/health\x00x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(r is None or r.status < 500, r)  # libmicrohttpd ends the target at the NUL
        for data in (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + DDB.encode() + b"List\x00Tables\r\n"
                     b"Content-Length: 2\r\n\r\n{}",
                     b"POST / HTTP/1.1\r\nHo\x00st: x\r\nContent-Length: 0\r\n\r\n"):
            r = exchange(self.port, data)
            if r is not None and r.status != 400:
                self.assert_json_error(r, 400, "UnknownOperationException", repr(data))
        self.check_intact()

    def test_raw_control_characters_in_json_strings(self):
        """JSON forbids raw control characters in strings; cJSON takes them, and a raw NUL then
        cuts the string short: "w0<NUL>evil" would overwrite the witness item w0."""
        for ctl in (b"\x00", b"\x01", b"\x1f", b"\n"):
            raw = b'{"TableName":"%s","Item":{"pk":{"S":"w0%sevil"},"evil":{"S":"1"}}}' % (WITNESS_TABLE.encode(), ctl)
            r = self.json_call(DDB + "PutItem", raw)
            self.assert_json_error(r, 400, "SerializationException", "raw %r in a DynamoDB key" % ctl)
            r = self.json_call(SQS + "CreateQueue", b'{"QueueName":"hostile-witness%sx"}' % ctl)
            self.assert_json_error(r, 400, "SerializationException", "raw %r in a queue name" % ctl)
            r = self.json_call(SQS + "SendMessage", b'{"QueueUrl":"%s","MessageBody":"a%sb"}'
                               % (self.queue_url.encode(), ctl))
            self.assert_json_error(r, 400, "SerializationException", "raw %r in a message body" % ctl)
        self.check_intact()

    def test_invalid_utf8(self):
        for value in (b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"w0\xc0\xaf"):
            item = b'{"TableName":"%s","Item":{"pk":{"S":"%s"},"v":{"S":"%s"}}}' % (WITNESS_TABLE.encode(), value, value)
            r = self.json_call(DDB + "PutItem", item)
            self.assert_json_error(r, 400, "SerializationException", "DynamoDB %r" % value)
            r = self.json_call(SQS + "SendMessage",
                               b'{"QueueUrl":"%s","MessageBody":"%s"}' % (self.scratch_url.encode(), value))
            self.assert_json_error(r, 400, ("SerializationException", "InvalidMessageContents"), "SQS %r" % value)
            r = self.json_call(SQS + "CreateQueue", b'{"QueueName":"q%s"}' % value)
            self.assert_json_error(r, 400, ("SerializationException", "InvalidParameterValue"), "queue %r" % value)
            esc = urllib.parse.quote_from_bytes(value)
            r = self.query_call(("Action=SendMessage&Version=2012-11-05&QueueUrl=%s&MessageBody=%s"
                                 % (self.scratch_url, esc)).encode())
            self.assert_query_error(r, 400, ("InvalidParameterValue", "InvalidMessageContents"), "query body %r" % value)
            r = self.query_call(("Action=CreateQueue&Version=2012-11-05&QueueName=q%s" % esc).encode())
            self.assert_query_error(r, 400, "InvalidParameterValue", "query queue name %r" % value)
        self.check_intact()

    def test_xml_answers_stay_well_formed(self):
        """Errors echo what the client sent; control characters and bytes that are not UTF-8
        must not make the answer unparseable."""
        for action in ("List%01Queues", "List%FFQueues", "%1B%5B31m", "%EF%BF%BE", "a%0Bb%0Cc", "%C0%AF"):
            r = self.query_call(("Action=%s&Version=2012-11-05" % action).encode())
            fields = self.assert_query_error(r, 400, "InvalidAction", action)
            self.assertTrue(fields["Message"].startswith("The action "), fields)
        if "s3" in self.services:
            self.assertEqual(self.send(build("PUT", "/hostile-xml", [])).status, 200)
            for key in ("a%01b", "c%1Fd", "e%0Df"):
                r = self.send(build("PUT", "/hostile-xml/" + key, [], b"x"))
                self.assertEqual(r.status, 200, r)
            r = self.send(build("GET", "/hostile-xml?list-type=2", []))
            self.assertEqual(r.status, 200, r)
            keys = [e.text for e in ET.fromstring(r.body).iter() if e.tag.endswith("}Key") or e.tag == "Key"]
            self.assertEqual(len(keys), 3, r)
            self.assertIn("e\rf", keys)  # CR survives as &#13;
        self.check_intact()

    def test_control_errors_are_well_formed_xml(self):
        r = self.send(build("GET", "/_dss/%3Cb%3Ex%26y", []))
        self.assertEqual(r.status, 400, r)
        root = ET.fromstring(r.body)
        self.assertIn("<b>x&y", root.findtext("Message"))

    def test_garbage_requests(self):
        junk = bytes(range(256)) * 256
        for data in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", junk,
                     b"GET " + b"/" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n\r\n",
                     b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n",
                     b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345",
                     b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     b"POST / HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n",
                     b"POST / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n"):
            r = exchange(self.port, data)
            if r is not None:
                self.assertGreaterEqual(r.status, 400, (data[:60], r))
                self.assertTrue(r.status < 500 or r.status in (501, 505), (data[:60], r))
        # Many requests pipelined on one connection, the last one cut short.
        req = build("POST", "/", [("X-Amz-Target", DDB + "ListTables")], b"{}")
        with connect(self.port) as s:
            s.sendall(req * 200 + req[:len(req) // 2])
            f = s.makefile("rb")
            for _ in range(200):
                r = read_response(f)
                self.assertEqual(r.status, 200, r)
        self.check_intact()

    def test_slow_clients_do_not_hold_the_server(self):
        """Slowloris: hundreds of connections sit on partial headers or partial bodies while
        ordinary clients are served."""
        held = []
        try:
            for i in range(300):
                s = connect(self.port)
                if i % 3 == 0:
                    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + DDB.encode())
                elif i % 3 == 1:
                    s.sendall(build("POST", "/", [("X-Amz-Target", DDB + "PutItem"),
                                                  ("Content-Length", "100000")], b'{"TableName":'))
                else:
                    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                              b"Content-Length: 50000\r\n\r\nAction=SendMessage&")
                held.append(s)
            stop = threading.Event()

            def trickle():  # a third of them keep sending one byte at a time
                while not stop.wait(0.2):
                    for s in held[::3]:
                        try:
                            s.send(b"x")
                        except OSError:
                            pass

            t = threading.Thread(target=trickle)
            t.start()
            try:
                for i in range(20):
                    self.ddb.put_item(TableName=WITNESS_TABLE, Item={"pk": {"S": "scratch"}, "i": {"N": str(i)}})
                    self.sqs.send_message(QueueUrl=self.scratch_url, MessageBody="during slowloris %d" % i)
                self.check_intact()
            finally:
                stop.set()
                t.join()
        finally:
            for s in held:
                rst_close(s)
        self.sqs.purge_queue(QueueUrl=self.scratch_url)
        self.check_intact()

    def test_connections_closed_abruptly(self):
        req = build("POST", "/", [("X-Amz-Target", DDB + "Scan"), ("Content-Type", "application/x-amz-json-1.0")],
                    json_body({"TableName": WITNESS_TABLE}))
        poll = build("POST", "/", [("X-Amz-Target", SQS + "ReceiveMessage"),
                                   ("Content-Type", "application/x-amz-json-1.0")],
                     json_body({"QueueUrl": self.scratch_url, "WaitTimeSeconds": 20, "VisibilityTimeout": 0}))
        for round_ in range(3):
            socks = []
            for i in range(200):
                s = connect(self.port)
                stage = i % 5
                if stage == 1:
                    s.sendall(req[:10])
                elif stage == 2:
                    s.sendall(req[:-5])
                elif stage == 3:
                    s.sendall(req)  # the answer is never read
                elif stage == 4:
                    s.sendall(poll)  # a long poll whose client has gone
                socks.append(s)
            time.sleep(0.05)
            for s in socks:
                rst_close(s) if round_ != 1 else s.close()
        # The abandoned long polls must not swallow messages a live client waits for. A receive
        # that ran after its client left leaves the message in flight with VisibilityTimeout
        # 0, so it stays receivable either way.
        self.sqs.send_message(QueueUrl=self.scratch_url, MessageBody="after the storm")
        got = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            got = self.sqs.receive_message(QueueUrl=self.scratch_url, WaitTimeSeconds=1).get("Messages", [])
        self.assertEqual([m["Body"] for m in got], ["after the storm"])
        self.sqs.delete_message(QueueUrl=self.scratch_url, ReceiptHandle=got[0]["ReceiptHandle"])
        self.check_intact()

    # ---- S3, once the emulator serves it ----

    def test_s3_malformed_requests(self):
        if "s3" not in self.services:
            self.skipTest("the emulator does not serve S3 yet")
        s3 = self.send
        r = s3(build("PUT", "/hostile-bucket", []))
        self.assertEqual(r.status, 200, r)
        cases = [
            build("PUT", "/hostile-bucket/" + "k" * 2000, [], b"x"),
            build("PUT", "/Bad_Bucket_Name!", []),
            build("PUT", "/" + "b" * 300, []),
            build("POST", "/hostile-bucket?delete", [("Content-Type", "application/xml")], b"<Delete><Object>"),
            build("POST", "/hostile-bucket?delete", [], b"\x00\xff" * 100),
            build("PUT", "/hostile-bucket/k", [("Content-Encoding", "aws-chunked"),
                                               ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                                               ("x-amz-decoded-content-length", "5")], b"zz;chunk-signature=\r\nxx"),
            build("PUT", "/hostile-bucket/k", [("Content-MD5", "not-base64")], b"abc"),
            build("GET", "/hostile-bucket/%ZZ", []),
            build("GET", "/hostile-bucket?list-type=2&max-keys=-5", []),
            build("PUT", "/hostile-bucket/k?partNumber=999999&uploadId=nope", [], b"x"),
        ]
        for data in cases:
            r = s3(data)
            if r.status >= 300:
                self.assert_xml_error(r, range(400, 500), data[:80])
        self.check_intact()


class AbandonedLongPollTest(dsstest.EmulatorTestCase):
    """A parked receive whose client has gone must neither take a message nor hold its place.
    The queue's visibility timeout is 10 minutes, so a message the dead receive took would stay
    invisible far longer than the live receive below waits for it. One long poll may park at
    once (--max-long-polls 1): a live long poll being throttled shows the dead one is parked."""

    emulator_args = ("--max-long-polls", "1")

    def poll_is_throttled(self, sqs, url):
        try:
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
            return False
        except botocore.exceptions.ClientError as e:
            self.assertEqual(e.response["Error"]["Code"], "RequestThrottled")
            return True

    def park(self, poll, sqs, url):
        """Sends the raw long poll until it is the one parked (a probe is throttled); returns its
        socket. If the probe got the place first, the raw poll was answered: send it again."""
        deadline = time.monotonic() + 2 * ANSWER_SECONDS
        while time.monotonic() < deadline:
            s = connect(self.emulator.port)
            s.sendall(poll)
            while time.monotonic() < deadline:
                if self.poll_is_throttled(sqs, url):
                    return s
                try:
                    s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                    break  # answered (or closed): it did not park
                except BlockingIOError:
                    pass  # still waiting: not yet read by the emulator, or parked after the probe
            s.close()
        self.fail("the raw long poll never parked")

    def test_a_gone_client_takes_no_message(self):
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName="abandoned", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
        poll = build("POST", "/", [("X-Amz-Target", SQS + "ReceiveMessage"),
                                   ("Content-Type", "application/x-amz-json-1.0")],
                     json_body({"QueueUrl": url, "WaitTimeSeconds": 20}))
        for n, close in enumerate((rst_close, socket.socket.close)):
            s = self.park(poll, sqs, url)
            close(s)
            body = "after the client left %d" % n
            sqs.send_message(QueueUrl=url, MessageBody=body)
            got = []
            deadline = time.monotonic() + ANSWER_SECONDS
            while not got and time.monotonic() < deadline:
                got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
            self.assertEqual([m["Body"] for m in got], [body])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
            # Its place is given back before its 20 s have run out (checked about once a second).
            self.assertTrue(dsstest.wait_until(lambda: not self.poll_is_throttled(sqs, url), timeout=15))


if __name__ == "__main__":
    unittest.main()
