"""DynamoDB (API 2012-08-10, JSON 1.0) against the real emulator with boto3's low-level client.

Every operation the emulator serves, in success and in error (code and message as DynamoDB
words them), expressions, paging, numbers and sets. Runs under Debian's boto3 1.26 and a newer
one alike: only the low-level client and plain dicts are used.
"""
import base64
import unittest

from botocore.exceptions import ClientError

import dsstest


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


class DynamoDBTest(dsstest.EmulatorTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ddb = dsstest.client(cls.endpoint, "dynamodb")
        cls.ddb.create_table(
            TableName="items", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}])
        cls.ddb.create_table(
            TableName="simple", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])

    def error(self, code, message, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        self.last_error_response = cm.exception.response
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code)
        if message is not None:
            self.assertEqual(err["Message"], message)
        return err

    # ---- tables ----

    def test_create_describe_list_delete(self):
        d = self.ddb.create_table(
            TableName="temp-table.1", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "B"}])["TableDescription"]
        self.assertEqual(d["TableStatus"], "ACTIVE")
        self.assertEqual(d["TableArn"], "arn:aws:dynamodb:us-east-1:000000000000:table/temp-table.1")
        self.assertEqual(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        t = self.ddb.describe_table(TableName="temp-table.1")["Table"]
        self.assertEqual(t["KeySchema"], [{"AttributeName": "h", "KeyType": "HASH"}])
        self.assertEqual(t["ItemCount"], 0)
        self.assertIn("CreationDateTime", t)
        self.assertIn("temp-table.1", self.ddb.list_tables()["TableNames"])
        self.ddb.put_item(TableName="temp-table.1", Item={"h": {"B": b"\x00\x01"}})
        self.assertEqual(self.ddb.describe_table(TableName="temp-table.1")["Table"]["ItemCount"], 1)
        d = self.ddb.delete_table(TableName="temp-table.1")["TableDescription"]
        self.assertEqual(d["TableStatus"], "DELETING")
        self.error("ResourceNotFoundException", "Requested resource not found: Table: temp-table.1 not found",
                   self.ddb.describe_table, TableName="temp-table.1")
        self.error("ResourceNotFoundException", "Requested resource not found: Table: temp-table.1 not found",
                   self.ddb.delete_table, TableName="temp-table.1")
        self.error("ResourceNotFoundException", "Requested resource not found",
                   self.ddb.get_item, TableName="temp-table.1", Key={"h": {"B": b"x"}})

    def test_create_table_errors(self):
        ks = [{"AttributeName": "id", "KeyType": "HASH"}]
        ad = [{"AttributeName": "id", "AttributeType": "S"}]
        self.error("ResourceInUseException", "Table already exists: simple", self.ddb.create_table,
                   TableName="simple", KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
        self.error("ValidationException",
                   "One or more parameter values were invalid: Some index key attributes are not defined in "
                   "AttributeDefinitions. Keys: [id], AttributeDefinitions: [other]",
                   self.ddb.create_table, TableName="bad1", KeySchema=ks, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}])
        self.error("ValidationException",
                   "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly "
                   "match number of attributes defined in AttributeDefinitions",
                   self.ddb.create_table, TableName="bad2", KeySchema=ks, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=ad + [{"AttributeName": "x", "AttributeType": "N"}])
        self.error("ValidationException", "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                   self.ddb.create_table, TableName="bad3", BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": "id", "KeyType": "RANGE"}], AttributeDefinitions=ad)
        self.error("ValidationException",
                   "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be "
                   "specified when BillingMode is PROVISIONED",
                   self.ddb.create_table, TableName="bad4", KeySchema=ks, AttributeDefinitions=ad)
        err = self.error("ValidationException", None, self.ddb.create_table, TableName="bad name", KeySchema=ks,
                         AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
        self.assertIn("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", err["Message"])

    def test_list_tables_paging(self):
        for i in range(3):
            self.ddb.create_table(TableName="page-%d" % i, BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        names = []
        kw = {"Limit": 2}
        while True:
            r = self.ddb.list_tables(**kw)
            self.assertLessEqual(len(r["TableNames"]), 2)
            names += r["TableNames"]
            if "LastEvaluatedTableName" not in r:
                break
            kw["ExclusiveStartTableName"] = r["LastEvaluatedTableName"]
        self.assertEqual(names, sorted(names))
        self.assertTrue({"page-0", "page-1", "page-2", "items", "simple"} <= set(names))
        for i in range(3):
            self.ddb.delete_table(TableName="page-%d" % i)

    # ---- items ----

    def test_put_get_all_types(self):
        item = {"id": S("types"), "s": S("text"), "n": N("1.50"), "b": {"B": b"\x00\xff"}, "t": {"BOOL": True},
                "z": {"NULL": True}, "l": {"L": [S("a"), N("+02")]}, "m": {"M": {"k": {"SS": ["x", "y"]}}},
                "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.50"]}, "bs": {"BS": [b"\x01", b"\x02"]},
                "empty": S("")}
        self.ddb.put_item(TableName="simple", Item=item)
        got = self.ddb.get_item(TableName="simple", Key={"id": S("types")}, ConsistentRead=True)["Item"]
        self.assertEqual(got["n"], N("1.5"))            # numbers come back canonical
        self.assertEqual(got["l"]["L"][1], N("2"))
        self.assertEqual(got["b"], {"B": b"\x00\xff"})
        self.assertEqual(sorted(got["ns"]["NS"]), ["1", "2.5"])
        self.assertEqual(sorted(got["bs"]["BS"]), [b"\x01", b"\x02"])
        self.assertEqual(got["empty"], S(""))
        self.assertEqual(got["m"]["M"]["k"]["SS"], ["x", "y"])
        got = self.ddb.get_item(TableName="simple", Key={"id": S("types")},
                                ProjectionExpression="s, l[1], m.k, #z", ExpressionAttributeNames={"#z": "z"})["Item"]
        self.assertEqual(got, {"s": S("text"), "l": {"L": [N("2")]}, "m": {"M": {"k": {"SS": ["x", "y"]}}},
                               "z": {"NULL": True}})
        got = self.ddb.get_item(TableName="simple", Key={"id": S("types")}, AttributesToGet=["s", "t"])["Item"]
        self.assertEqual(got, {"s": S("text"), "t": {"BOOL": True}})
        self.assertNotIn("Item", self.ddb.get_item(TableName="simple", Key={"id": S("nope")}))

    def test_item_validation_errors(self):
        self.error("ValidationException", "One or more parameter values were invalid: Missing the key id in the item",
                   self.ddb.put_item, TableName="simple", Item={"x": S("1")})
        self.error("ValidationException",
                   "One or more parameter values were invalid: Type mismatch for key id expected: S actual: N",
                   self.ddb.put_item, TableName="simple", Item={"id": N(1)})
        self.error("ValidationException",
                   "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
                   "an empty string value. Key: id",
                   self.ddb.put_item, TableName="simple", Item={"id": S("")})
        self.error("ValidationException", "The provided key element does not match the schema",
                   self.ddb.get_item, TableName="simple", Key={"id": S("a"), "x": S("b")})
        self.error("ValidationException", "The provided key element does not match the schema",
                   self.ddb.get_item, TableName="items", Key={"pk": S("a")})
        self.error("ValidationException", "The provided key element does not match the schema",
                   self.ddb.get_item, TableName="items", Key={"pk": S("a"), "sk": S("1")})
        self.error("ValidationException", "The parameter cannot be converted to a numeric value: 1x",
                   self.ddb.put_item, TableName="simple", Item={"id": S("n"), "v": N("1x")})
        self.error("ValidationException", "Attempting to store more than 38 significant digits in a Number",
                   self.ddb.put_item, TableName="simple", Item={"id": S("n"), "v": N("1" * 39)})
        self.error("ValidationException",
                   "Number overflow. Attempting to store a number with magnitude larger than supported range",
                   self.ddb.put_item, TableName="simple", Item={"id": S("n"), "v": N("1E+126")})
        self.error("ValidationException", "One or more parameter values were invalid: An string set  may not be empty",
                   self.ddb.put_item, TableName="simple", Item={"id": S("n"), "v": {"SS": []}})
        self.error("ValidationException",
                   "One or more parameter values were invalid: Input collection [a, a] contains duplicates.",
                   self.ddb.put_item, TableName="simple", Item={"id": S("n"), "v": {"SS": ["a", "a"]}})
        self.error("ValidationException", "Item size has exceeded the maximum allowed size",
                   self.ddb.put_item, TableName="simple", Item={"id": S("big"), "v": S("x" * 410000)})
        self.error("ValidationException", "ReturnValues can only be ALL_OLD or NONE",
                   self.ddb.put_item, TableName="simple", Item={"id": S("x")}, ReturnValues="ALL_NEW")

    def test_put_conditions_and_return_values(self):
        self.ddb.put_item(TableName="simple", Item={"id": S("c1"), "v": N(1)})
        self.error("ConditionalCheckFailedException", "The conditional request failed", self.ddb.put_item,
                   TableName="simple", Item={"id": S("c1"), "v": N(2)}, ConditionExpression="attribute_not_exists(id)")
        r = self.ddb.put_item(TableName="simple", Item={"id": S("c1"), "v": N(2)}, ReturnValues="ALL_OLD",
                              ConditionExpression="v = :one", ExpressionAttributeValues={":one": N(1)},
                              ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["Attributes"], {"id": S("c1"), "v": N(1)})
        self.assertEqual(r["ConsumedCapacity"], {"TableName": "simple", "CapacityUnits": 1.0})
        self.error("ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:two}",
                   self.ddb.put_item, TableName="simple", Item={"id": S("c1")}, ConditionExpression="v = :one",
                   ExpressionAttributeValues={":one": N(1), ":two": N(2)})
        self.error("ValidationException",
                   "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
                   "attribute value: :nope",
                   self.ddb.put_item, TableName="simple", Item={"id": S("c1")}, ConditionExpression="v = :nope",
                   ExpressionAttributeValues={":one": N(1)})
        self.error("ValidationException",
                   "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \"",
                   self.ddb.put_item, TableName="simple", Item={"id": S("c1")}, ConditionExpression="v = ")
        self.error("ValidationException",
                   "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status",
                   self.ddb.put_item, TableName="simple", Item={"id": S("c1")},
                   ConditionExpression="status = :one", ExpressionAttributeValues={":one": N(1)})
        self.error("ValidationException",
                   "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null",
                   self.ddb.put_item, TableName="simple", Item={"id": S("c1")}, ExpressionAttributeValues={":one": N(1)})
        self.error("ValidationException", None, self.ddb.put_item, TableName="simple", Item={"id": S("c1")},
                   Expected={"v": {"Exists": False}})

    def test_condition_failure_can_return_the_item(self):
        """ReturnValuesOnConditionCheckFailure=ALL_OLD puts the stored item into the
        ConditionalCheckFailedException of PutItem, UpdateItem and DeleteItem; NONE, or no
        stored item, leaves it out; the item is unchanged."""
        members = self.ddb.meta.service_model.operation_model("PutItem").input_shape.members
        if "ReturnValuesOnConditionCheckFailure" not in members:
            self.skipTest("this botocore's DynamoDB model predates ReturnValuesOnConditionCheckFailure (2023)")
        item = {"id": S("rvf"), "v": N(1)}
        self.ddb.put_item(TableName="simple", Item=item)
        cond = {"ConditionExpression": "v = :two", "ExpressionAttributeValues": {":two": N(2)}}
        calls = ((self.ddb.put_item, {"Item": {"id": S("rvf"), "v": N(3)}}),
                 (self.ddb.update_item, {"Key": {"id": S("rvf")}, "UpdateExpression": "SET v = :two"}),
                 (self.ddb.delete_item, {"Key": {"id": S("rvf")}}))
        for fn, kw in calls:
            self.error("ConditionalCheckFailedException", "The conditional request failed", fn,
                             TableName="simple", ReturnValuesOnConditionCheckFailure="ALL_OLD", **cond, **kw)
            self.assertEqual(self.last_error_response["Item"], item, fn.__name__)
            self.error("ConditionalCheckFailedException", "The conditional request failed", fn,
                       TableName="simple", ReturnValuesOnConditionCheckFailure="NONE", **cond, **kw)
            self.assertNotIn("Item", self.last_error_response, fn.__name__)
        self.error("ConditionalCheckFailedException", "The conditional request failed", self.ddb.put_item,
                   TableName="simple", Item={"id": S("rvf-none")}, ConditionExpression="attribute_exists(id)",
                   ReturnValuesOnConditionCheckFailure="ALL_OLD")
        self.assertNotIn("Item", self.last_error_response)
        self.error("ValidationException",
                   "1 validation error detected: Value 'ALL_NEW' at 'returnValuesOnConditionCheckFailure' failed to "
                   "satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
                   self.ddb.put_item, TableName="simple", Item=item, ReturnValuesOnConditionCheckFailure="ALL_NEW")
        self.assertEqual(self.ddb.get_item(TableName="simple", Key={"id": S("rvf")})["Item"], item)

    def test_enum_members_are_validated(self):
        key = {"id": S("enum")}
        self.error("ValidationException",
                   "1 validation error detected: Value 'ALL' at 'returnConsumedCapacity' failed to satisfy "
                   "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
                   self.ddb.get_item, TableName="simple", Key=key, ReturnConsumedCapacity="ALL")
        self.error("ValidationException",
                   "1 validation error detected: Value 'BYTES' at 'returnItemCollectionMetrics' failed to satisfy "
                   "constraint: Member must satisfy enum value set: [SIZE, NONE]",
                   self.ddb.put_item, TableName="simple", Item=key, ReturnItemCollectionMetrics="BYTES")
        self.error("ValidationException",
                   "1 validation error detected: Value 'total' at 'returnConsumedCapacity' failed to satisfy "
                   "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
                   self.ddb.batch_get_item, RequestItems={"simple": {"Keys": [key]}}, ReturnConsumedCapacity="total")
        self.assertNotIn("Item", self.ddb.get_item(TableName="simple", Key=key))  # nothing was written
        r = self.ddb.put_item(TableName="simple", Item=key, ReturnItemCollectionMetrics="SIZE",
                              ReturnConsumedCapacity="INDEXES")
        self.assertEqual(r["ConsumedCapacity"]["TableName"], "simple")

    def test_delete_item(self):
        self.ddb.put_item(TableName="simple", Item={"id": S("d1"), "v": S("x")})
        self.error("ConditionalCheckFailedException", "The conditional request failed", self.ddb.delete_item,
                   TableName="simple", Key={"id": S("d1")}, ConditionExpression="v = :y",
                   ExpressionAttributeValues={":y": S("y")})
        r = self.ddb.delete_item(TableName="simple", Key={"id": S("d1")}, ReturnValues="ALL_OLD")
        self.assertEqual(r["Attributes"], {"id": S("d1"), "v": S("x")})
        self.assertNotIn("Attributes", self.ddb.delete_item(TableName="simple", Key={"id": S("d1")}, ReturnValues="ALL_OLD"))

    def test_update_item(self):
        key = {"id": S("u1")}
        r = self.ddb.update_item(
            TableName="simple", Key=key, ReturnValues="ALL_NEW",
            UpdateExpression="SET #c = if_not_exists(#c, :zero) + :inc, l = list_append(if_not_exists(l, :empty), :l), "
                             "m = :m ADD tags :tags, amount :half",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":zero": N(0), ":inc": N(1), ":empty": {"L": []}, ":l": {"L": [S("a")]},
                                       ":m": {"M": {"x": {"L": [N(1), N(2), N(3)]}}}, ":tags": {"SS": ["t1", "t2"]},
                                       ":half": N("0.5")})
        a = r["Attributes"]
        self.assertEqual(a["count"], N(1))
        self.assertEqual(a["amount"], N("0.5"))
        self.assertEqual(a["l"], {"L": [S("a")]})
        r = self.ddb.update_item(
            TableName="simple", Key=key, ReturnValues="UPDATED_NEW",
            UpdateExpression="SET #c = #c + :inc, m.x[1] = :s, m.y = :s ADD amount :big DELETE tags :t1",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":inc": N(1), ":s": S("two"), ":big": N("0.1"), ":t1": {"SS": ["t1"]}})
        self.assertEqual(r["Attributes"], {"count": N(2), "m": {"M": {"x": {"L": [S("two")]}, "y": S("two")}},
                                           "amount": N("0.6"), "tags": {"SS": ["t2"]}})
        r = self.ddb.update_item(TableName="simple", Key=key, ReturnValues="UPDATED_OLD",
                                 UpdateExpression="REMOVE tags, l, m.x[0]")
        self.assertEqual(r["Attributes"], {"tags": {"SS": ["t2"]}, "l": {"L": [S("a")]}, "m": {"M": {"x": {"L": [N(1)]}}}})
        item = self.ddb.get_item(TableName="simple", Key=key)["Item"]
        self.assertNotIn("tags", item)
        self.assertEqual(item["m"], {"M": {"x": {"L": [S("two"), N(3)]}, "y": S("two")}})
        # errors
        self.error("ValidationException",
                   "One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="SET id = :v",
                   ExpressionAttributeValues={":v": S("x")})
        self.error("ValidationException", "The provided expression refers to an attribute that does not exist in the item",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="SET a = nothing + :v",
                   ExpressionAttributeValues={":v": N(1)})
        self.error("ValidationException", "An operand in the update expression has an incorrect data type",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="ADD m :v",
                   ExpressionAttributeValues={":v": N(1)})
        self.error("ValidationException",
                   "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
                   "these paths; path one: [m], path two: [m, x]",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="SET m = :v REMOVE m.x",
                   ExpressionAttributeValues={":v": N(1)})
        self.error("ValidationException",
                   "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"= =\"",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="SET a = = :v",
                   ExpressionAttributeValues={":v": N(1)})
        self.error("ValidationException",
                   "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="ADD a :v",
                   ExpressionAttributeValues={":v": S("x")})
        self.error("ConditionalCheckFailedException", "The conditional request failed", self.ddb.update_item,
                   TableName="simple", Key={"id": S("u-new")}, UpdateExpression="SET a = :v",
                   ConditionExpression="attribute_exists(id)", ExpressionAttributeValues={":v": N(1)})
        # an update of a missing item creates it
        self.ddb.update_item(TableName="simple", Key={"id": S("u-new")}, UpdateExpression="SET a = :v",
                             ExpressionAttributeValues={":v": N(1)})
        self.assertEqual(self.ddb.get_item(TableName="simple", Key={"id": S("u-new")})["Item"],
                         {"id": S("u-new"), "a": N(1)})

    def test_number_arithmetic_is_exact(self):
        key = {"id": S("num")}
        self.ddb.put_item(TableName="simple", Item={"id": S("num"), "v": N("0.1")})
        self.ddb.update_item(TableName="simple", Key=key, UpdateExpression="SET v = v + :x",
                             ExpressionAttributeValues={":x": N("0.2")})
        self.assertEqual(self.ddb.get_item(TableName="simple", Key=key)["Item"]["v"], N("0.3"))
        self.ddb.update_item(TableName="simple", Key=key, UpdateExpression="SET v = :x - v",
                             ExpressionAttributeValues={":x": N("1234567890123456789012345678901234567")})
        self.assertEqual(self.ddb.get_item(TableName="simple", Key=key)["Item"]["v"],
                         N("1234567890123456789012345678901234566.7"))
        self.error("ValidationException", "Attempting to store more than 38 significant digits in a Number",
                   self.ddb.update_item, TableName="simple", Key=key, UpdateExpression="ADD v :x",
                   ExpressionAttributeValues={":x": N("0.01")})

    # ---- query and scan ----

    def fill(self, pk, sks):
        for sk in sks:
            self.ddb.put_item(TableName="items", Item={"pk": S(pk), "sk": N(sk), "even": {"BOOL": float(sk) % 2 == 0},
                                                        "data": S("row %s" % sk)})

    def keys(self, items):
        return [i["sk"]["N"] for i in items]

    def test_query(self):
        self.fill("q", [10, -5, 2, 1.5, 100, 0, -100])
        q = lambda **kw: self.ddb.query(TableName="items", ExpressionAttributeValues=dict(
            {":p": S("q")}, **kw.pop("values", {})), **kw)
        r = q(KeyConditionExpression="pk = :p")
        self.assertEqual(self.keys(r["Items"]), ["-100", "-5", "0", "1.5", "2", "10", "100"])
        self.assertEqual(r["Count"], 7)
        r = q(KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", values={":a": N(0), ":b": N(10)},
              ScanIndexForward=False)
        self.assertEqual(self.keys(r["Items"]), ["10", "2", "1.5", "0"])
        r = q(KeyConditionExpression="pk = :p AND sk > :a", values={":a": N(1.5)})
        self.assertEqual(self.keys(r["Items"]), ["2", "10", "100"])
        r = q(KeyConditionExpression="pk = :p AND sk <= :a", values={":a": N(0)})
        self.assertEqual(self.keys(r["Items"]), ["-100", "-5", "0"])
        r = q(KeyConditionExpression="pk = :p", FilterExpression="even = :t", values={":t": {"BOOL": True}},
              ProjectionExpression="sk")
        self.assertEqual(r["Items"], [{"sk": N(-100)}, {"sk": N(0)}, {"sk": N(2)}, {"sk": N(10)}, {"sk": N(100)}])
        self.assertEqual((r["Count"], r["ScannedCount"]), (5, 7))
        r = q(KeyConditionExpression="pk = :p", Select="COUNT")
        self.assertNotIn("Items", r)
        self.assertEqual(r["Count"], 7)
        # paging: Limit counts items read before the filter
        seen, kw, pages = [], {}, 0
        while True:
            r = q(KeyConditionExpression="pk = :p", FilterExpression="even = :t", values={":t": {"BOOL": True}},
                  Limit=3, **kw)
            pages += 1
            self.assertLessEqual(r["ScannedCount"], 3)
            seen += self.keys(r["Items"])
            if "LastEvaluatedKey" not in r:
                break
            self.assertEqual(set(r["LastEvaluatedKey"]), {"pk", "sk"})
            kw = {"ExclusiveStartKey": r["LastEvaluatedKey"]}
        self.assertEqual(seen, ["-100", "0", "2", "10", "100"])
        self.assertEqual(pages, 3)
        # backwards paging
        r = q(KeyConditionExpression="pk = :p", Limit=2, ScanIndexForward=False)
        r = q(KeyConditionExpression="pk = :p", Limit=2, ScanIndexForward=False, ExclusiveStartKey=r["LastEvaluatedKey"])
        self.assertEqual(self.keys(r["Items"]), ["2", "1.5"])

    def test_query_string_range_and_begins_with(self):
        self.ddb.create_table(TableName="strs", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "N"},
                                                    {"AttributeName": "r", "AttributeType": "S"}])
        for r in ["b", "ab", "abc", "a", "B", "\u00e9", "abd"]:
            self.ddb.put_item(TableName="strs", Item={"h": N(1), "r": S(r)})
        got = self.ddb.query(TableName="strs", KeyConditionExpression="h = :h",
                             ExpressionAttributeValues={":h": N("1.0")})["Items"]
        self.assertEqual([i["r"]["S"] for i in got], ["B", "a", "ab", "abc", "abd", "b", "\u00e9"])
        got = self.ddb.query(TableName="strs", KeyConditionExpression="h = :h AND begins_with(r, :p)",
                             ExpressionAttributeValues={":h": N(1), ":p": S("ab")})["Items"]
        self.assertEqual([i["r"]["S"] for i in got], ["ab", "abc", "abd"])
        got = self.ddb.query(TableName="strs", KeyConditions={
            "h": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]},
            "r": {"ComparisonOperator": "GT", "AttributeValueList": [S("abc")]}})["Items"]
        self.assertEqual([i["r"]["S"] for i in got], ["abd", "b", "\u00e9"])
        self.ddb.delete_table(TableName="strs")

    def test_query_errors(self):
        self.error("ValidationException", "Query condition missed key schema element: pk", self.ddb.query,
                   TableName="items", KeyConditionExpression="sk = :v", ExpressionAttributeValues={":v": N(1)})
        self.error("ValidationException", "Invalid operator used in KeyConditionExpression: OR", self.ddb.query,
                   TableName="items", KeyConditionExpression="pk = :p OR sk = :v",
                   ExpressionAttributeValues={":v": N(1), ":p": S("x")})
        self.error("ValidationException",
                   "One or more parameter values were invalid: Condition parameter type does not match schema type",
                   self.ddb.query, TableName="items", KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": N(1)})
        self.error("ValidationException",
                   "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
                   self.ddb.query, TableName="items")
        self.error("ValidationException", "The table does not have the specified index: byData", self.ddb.query,
                   TableName="items", IndexName="byData", KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": S("x")})
        self.error("ResourceNotFoundException", "Requested resource not found", self.ddb.query,
                   TableName="nonexistent", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("x")})

    def test_scan(self):
        self.ddb.create_table(TableName="scanned", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}])
        for i in range(25):
            self.ddb.put_item(TableName="scanned", Item={"id": N(i), "sq": N(i * i), "tag": {"SS": ["odd" if i % 2 else "even"]}})
        r = self.ddb.scan(TableName="scanned")
        self.assertEqual(r["Count"], 25)
        self.assertEqual(sorted(int(i["id"]["N"]) for i in r["Items"]), list(range(25)))
        r = self.ddb.scan(TableName="scanned", FilterExpression="contains(tag, :o) AND sq > :n",
                          ExpressionAttributeValues={":o": S("odd"), ":n": N(100)}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(sorted(int(i["id"]["N"]) for i in r["Items"]), [11, 13, 15, 17, 19, 21, 23])
        self.assertEqual(r["ScannedCount"], 25)
        self.assertIn("ConsumedCapacity", r)
        ids, kw = [], {}
        while True:
            r = self.ddb.scan(TableName="scanned", Limit=7, **kw)
            ids += [int(i["id"]["N"]) for i in r["Items"]]
            if "LastEvaluatedKey" not in r:
                break
            kw = {"ExclusiveStartKey": r["LastEvaluatedKey"]}
        self.assertEqual(sorted(ids), list(range(25)))
        seg = []
        for s in range(3):
            seg += [int(i["id"]["N"]) for i in self.ddb.scan(TableName="scanned", Segment=s, TotalSegments=3)["Items"]]
        self.assertEqual(sorted(seg), list(range(25)))
        self.assertEqual(self.ddb.scan(TableName="scanned", Select="COUNT")["Count"], 25)
        self.error("ValidationException",
                   "Invalid FilterExpression: The function is not allowed to be used this way in an expression; function: size",
                   self.ddb.scan, TableName="scanned", FilterExpression="size(tag)")
        self.ddb.delete_table(TableName="scanned")

    # ---- batches ----

    def test_batch_write_and_get(self):
        r = self.ddb.batch_write_item(RequestItems={
            "simple": [{"PutRequest": {"Item": {"id": S("b%d" % i), "v": N(i)}}} for i in range(20)],
            "items": [{"PutRequest": {"Item": {"pk": S("batch"), "sk": N(1)}}}]})
        self.assertEqual(r["UnprocessedItems"], {})
        r = self.ddb.batch_write_item(RequestItems={"simple": [{"DeleteRequest": {"Key": {"id": S("b0")}}}]})
        self.assertEqual(r["UnprocessedItems"], {})
        r = self.ddb.batch_get_item(RequestItems={
            "simple": {"Keys": [{"id": S("b%d" % i)} for i in range(5)], "ProjectionExpression": "#v",
                       "ExpressionAttributeNames": {"#v": "v"}},
            "items": {"Keys": [{"pk": S("batch"), "sk": N(1)}], "ConsistentRead": True}})
        self.assertEqual(sorted(i["v"]["N"] for i in r["Responses"]["simple"]), ["1", "2", "3", "4"])
        self.assertEqual(r["Responses"]["items"], [{"pk": S("batch"), "sk": N(1)}])
        self.assertEqual(r["UnprocessedKeys"], {})
        self.error("ValidationException", "Too many items requested for the BatchWriteItem call",
                   self.ddb.batch_write_item, RequestItems={
                       "simple": [{"PutRequest": {"Item": {"id": S("x%d" % i)}}} for i in range(26)]})
        self.error("ValidationException", "Provided list of item keys contains duplicates",
                   self.ddb.batch_write_item, RequestItems={
                       "simple": [{"PutRequest": {"Item": {"id": S("dup")}}}, {"DeleteRequest": {"Key": {"id": S("dup")}}}]})
        self.error("ValidationException", "Too many items requested for the BatchGetItem call",
                   self.ddb.batch_get_item, RequestItems={"simple": {"Keys": [{"id": S("k%d" % i)} for i in range(101)]}})
        self.error("ValidationException", "Provided list of item keys contains duplicates",
                   self.ddb.batch_get_item, RequestItems={"simple": {"Keys": [{"id": S("k")}, {"id": S("k")}]}})
        self.error("ResourceNotFoundException", "Requested resource not found", self.ddb.batch_get_item,
                   RequestItems={"nonexistent": {"Keys": [{"id": S("k")}]}})

    def test_binary_keys_sort_by_bytes(self):
        self.ddb.create_table(TableName="bins", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"},
                                                    {"AttributeName": "r", "AttributeType": "B"}])
        for b in [b"\xff", b"\x00", b"\x00\x00", b"\x7f", b"\x80\x01"]:
            self.ddb.put_item(TableName="bins", Item={"h": S("x"), "r": {"B": b}})
        got = self.ddb.query(TableName="bins", KeyConditionExpression="h = :h AND r >= :lo",
                             ExpressionAttributeValues={":h": S("x"), ":lo": {"B": b"\x00\x00"}})["Items"]
        self.assertEqual([i["r"]["B"] for i in got], [b"\x00\x00", b"\x7f", b"\x80\x01", b"\xff"])
        self.ddb.delete_table(TableName="bins")

    def test_cli_get_item(self):
        self.ddb.put_item(TableName="simple", Item={"id": S("jobId_0"), "Status": S("Started")})
        rc, out, err = self.aws("dynamodb", "get-item", "--table-name", "simple", "--key", '{"id": {"S": "jobId_0"}}')
        self.assertEqual(rc, 0, err)
        self.assertIn('"Started"', out)


if __name__ == "__main__":
    unittest.main()
