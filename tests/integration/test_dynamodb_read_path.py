"""DynamoDB's read path shortcuts (emulator/dynamodb/store.c) against the real emulator over HTTP.

GetItem answers a whole item with its stored JSON text instead of parsing and printing it again,
and a table's stored description is parsed once per server thread and reused while its text is
unchanged. These tests hold both to what the slow path answered:
- a whole item's bytes in GetItem are exactly the bytes Query (which still parses and prints)
  gives for the same item, for awkward values: escapes, control characters, non-ASCII text,
  numbers written unusually, binary, sets, nested maps and lists, BOOL and NULL;
- ConsumedCapacity of a whole-item GetItem (from the stored size) equals that of a projected
  GetItem (from the parsed item), for an item over 4 KB, strongly and eventually consistent;
- a table deleted and created again under the same name with another key schema is read with the
  new schema at once; more tables in one BatchGetItem than the cache has slots; a failed
  CreateTable leaves nothing behind.
Raw HTTP (urllib) where bytes matter, boto3 elsewhere.
"""
import json
import unittest
import urllib.request

from botocore.exceptions import ClientError

import dsstest


def raw_call(endpoint, op, body):
    """POSTs one DynamoDB JSON request; returns (status, body bytes)."""
    req = urllib.request.Request(endpoint + "/", data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + op,
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


AWKWARD_ITEM = {
    "pk": {"S": "awkward"},
    "quote": {"S": "say \"hi\" \\ back/slash\ttab\nnewline\r\u0001\u001f\u007f"},
    "unicode": {"S": "caf\u00e9 \u65e5\u672c \U0001F600 \u2028"},
    "num": {"N": "-0012.50"},
    "big": {"N": "1E+125"},
    "bin": {"B": "AAECAwQ="},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["3", "1.0"]},
    "bs": {"BS": ["AQ==", "Ag=="]},
    "nested": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}, {"BOOL": False}, {"NULL": True},
                                 {"M": {"deep": {"S": "\u00fc"}}}]}, "empty": {"M": {}}}},
    "yes": {"BOOL": True},
    "nothing": {"NULL": True},
}


class ReadPathTest(dsstest.EmulatorTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ddb = dsstest.client(cls.endpoint, "dynamodb")
        cls.ddb.create_table(
            TableName="rpt", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

    def call(self, op, body):
        status, data = raw_call(self.endpoint, op, body)
        self.assertEqual(status, 200, data)
        return data

    def test_whole_item_bytes_match_query(self):
        self.call("PutItem", {"TableName": "rpt", "Item": AWKWARD_ITEM})
        got = self.call("GetItem", {"TableName": "rpt", "Key": {"pk": {"S": "awkward"}}})
        self.assertTrue(got.startswith(b'{"Item":') and got.endswith(b"}"), got)
        item_bytes = got[len(b'{"Item":'):-1]
        queried = self.call("Query", {"TableName": "rpt", "KeyConditionExpression": "pk = :p",
                                      "ExpressionAttributeValues": {":p": {"S": "awkward"}}})
        self.assertIn(b'"Items":[' + item_bytes + b"]", queried)
        self.assertEqual(json.loads(item_bytes), json.loads(queried)["Items"][0])
        self.assertEqual(json.loads(item_bytes)["unicode"], AWKWARD_ITEM["unicode"])

    def test_whole_item_with_consumed_capacity(self):
        self.call("PutItem", {"TableName": "rpt", "Item": {"pk": {"S": "cc"}, "v": {"S": "w"}}})
        got = json.loads(self.call("GetItem", {"TableName": "rpt", "Key": {"pk": {"S": "cc"}},
                                               "ReturnConsumedCapacity": "TOTAL"}))
        self.assertEqual(got["Item"], {"pk": {"S": "cc"}, "v": {"S": "w"}})
        self.assertEqual(got["ConsumedCapacity"], {"TableName": "rpt", "CapacityUnits": 0.5})

    def test_capacity_from_stored_size_matches_parsed_size(self):
        # 9,000 bytes of attributes: 3 read units strongly consistent, 1.5 eventually.
        item = {"pk": {"S": "large"}, "a": {"S": "x" * 4500}, "b": {"S": "y" * 4500}}
        self.ddb.put_item(TableName="rpt", Item=item)
        for consistent in (True, False):
            whole = self.ddb.get_item(TableName="rpt", Key={"pk": {"S": "large"}}, ConsistentRead=consistent,
                                      ReturnConsumedCapacity="TOTAL")
            projected = self.ddb.get_item(TableName="rpt", Key={"pk": {"S": "large"}}, ConsistentRead=consistent,
                                          ProjectionExpression="pk", ReturnConsumedCapacity="TOTAL")
            self.assertEqual(whole["Item"], item)
            self.assertEqual(projected["Item"], {"pk": {"S": "large"}})
            self.assertEqual(whole["ConsumedCapacity"]["CapacityUnits"], 3.0 if consistent else 1.5)
            self.assertEqual(whole["ConsumedCapacity"], projected["ConsumedCapacity"])

    def test_missing_item_and_table(self):
        self.assertEqual(self.call("GetItem", {"TableName": "rpt", "Key": {"pk": {"S": "absent"}}}), b"{}")
        status, data = raw_call(self.endpoint, "GetItem", {"TableName": "nope", "Key": {"pk": {"S": "x"}}})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data)["message"], "Requested resource not found")

    def test_table_recreated_with_another_schema(self):
        name = "rp-recreated"
        self.ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        self.ddb.put_item(TableName=name, Item={"id": {"S": "1"}, "v": {"S": "old"}})
        # Read it on every server thread, so that each has the old description cached.
        for _ in range(20):
            self.assertEqual(self.ddb.get_item(TableName=name, Key={"id": {"S": "1"}})["Item"]["v"], {"S": "old"})
        self.ddb.delete_table(TableName=name)
        self.ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"},
                                         {"AttributeName": "n", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"},
                                                    {"AttributeName": "n", "AttributeType": "N"}])
        for _ in range(20):
            with self.assertRaises(ClientError) as cm:
                self.ddb.get_item(TableName=name, Key={"id": {"S": "1"}})
            self.assertEqual(cm.exception.response["Error"]["Message"],
                             "The provided key element does not match the schema")
            self.assertNotIn("Item", self.ddb.get_item(TableName=name, Key={"id": {"N": "1"}, "n": {"N": "2"}}))
        self.ddb.put_item(TableName=name, Item={"id": {"N": "1"}, "n": {"N": "2"}, "v": {"S": "new"}})
        self.assertEqual(self.ddb.get_item(TableName=name, Key={"id": {"N": "1"}, "n": {"N": "2"}})["Item"]["v"],
                         {"S": "new"})
        self.ddb.delete_table(TableName=name)

    def test_failed_create_table_leaves_nothing(self):
        with self.assertRaises(ClientError):
            self.ddb.create_table(TableName="rp-bad", BillingMode="PROVISIONED",
                                  KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        with self.assertRaises(ClientError) as cm:
            self.ddb.get_item(TableName="rp-bad", Key={"id": {"S": "1"}})
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_batch_get_over_more_tables_than_cached(self):
        names = ["rp-many-%02d" % i for i in range(20)]  # more than the cache's 16 slots
        for i, name in enumerate(names):
            key_type = "S" if i % 2 else "N"
            self.ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "k%d" % i, "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "k%d" % i, "AttributeType": key_type}])
            self.ddb.put_item(TableName=name, Item={"k%d" % i: {key_type: str(i)}, "t": {"S": name}})
        for _ in range(3):
            got = self.ddb.batch_get_item(RequestItems={
                name: {"Keys": [{"k%d" % i: {"S" if i % 2 else "N": str(i)}}]} for i, name in enumerate(names)})
            self.assertEqual(got["UnprocessedKeys"], {})
            self.assertEqual({n: [it["t"]["S"] for it in items] for n, items in got["Responses"].items()},
                             {n: [n] for n in names})
        for name in names:
            self.ddb.delete_table(TableName=name)


if __name__ == "__main__":
    unittest.main()
