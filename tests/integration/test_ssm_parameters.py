"""SSM Parameter Store (emulator/ssm/parameters.c) through boto3 and the AWS CLI: the settings
store dss-scheduler provision writes and dss-scheduler run reads (/dss/S/automation)."""
import base64
import json
import sys
import unittest

import botocore.exceptions

from dsstest import EmulatorTestCase


class ParameterStoreTest(EmulatorTestCase):
    def setUp(self):
        self.ssm = self.client("ssm")

    def tearDown(self):
        # Every test starts from an empty store.
        names = [p["Name"] for p in self.ssm.describe_parameters()["Parameters"]]
        for i in range(0, len(names), 10):
            self.ssm.delete_parameters(Names=names[i:i + 10])

    def error(self, fn, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kw)
        return cm.exception.response["Error"]["Code"], cm.exception.response["Error"].get("Message", "")

    def test_put_get_overwrite_versions(self):
        settings = json.dumps({"version": 1, "bucket": "b"}, separators=(",", ":"))
        r = self.ssm.put_parameter(Name="/dss/demo/automation", Type="String", Value=settings,
                                   Description="resource automation")
        self.assertEqual((r["Version"], r["Tier"]), (1, "Standard"))
        p = self.ssm.get_parameter(Name="/dss/demo/automation")["Parameter"]
        self.assertEqual((p["Name"], p["Type"], p["Value"], p["Version"], p["DataType"]),
                         ("/dss/demo/automation", "String", settings, 1, "text"))
        self.assertEqual(p["ARN"], "arn:aws:ssm:us-east-1:000000000000:parameter/dss/demo/automation")
        self.assertTrue(p["LastModifiedDate"].year >= 2024)
        code, msg = self.error(self.ssm.put_parameter, Name="/dss/demo/automation", Type="String", Value="x")
        self.assertEqual(code, "ParameterAlreadyExists")
        self.assertIn("set the overwrite option", msg)
        # Overwrite without Type keeps the type; the same value still makes a new version.
        self.assertEqual(self.ssm.put_parameter(Name="/dss/demo/automation", Value="v2", Overwrite=True)["Version"], 2)
        self.assertEqual(self.ssm.put_parameter(Name="/dss/demo/automation", Value="v2", Overwrite=True)["Version"], 3)
        p = self.ssm.get_parameter(Name="/dss/demo/automation")["Parameter"]
        self.assertEqual((p["Type"], p["Value"], p["Version"]), ("String", "v2", 3))
        meta = self.ssm.describe_parameters()["Parameters"][0]
        self.assertEqual((meta["Description"], meta["Version"], meta["Tier"]), ("resource automation", 3, "Standard"))

    def test_validation_errors(self):
        code, msg = self.error(self.ssm.put_parameter, Name="/x", Value="v")
        self.assertEqual((code, msg), ("ValidationException", "A parameter type is required when you create a parameter."))
        code, msg = self.error(self.ssm.put_parameter, Name="/x", Type="Number", Value="v")
        self.assertEqual(code, "ValidationException")
        self.assertIn("enum value set", msg)
        for bad in ("a/b", "/a//b", "/a/b/", "/aws/x", "ssm-thing", "/a b", "/a*"):
            code, msg = self.error(self.ssm.put_parameter, Name=bad, Type="String", Value="v")
            self.assertEqual(code, "ValidationException", bad)
        deep = "/" + "/".join("l%d" % i for i in range(16))
        self.assertEqual(self.error(self.ssm.put_parameter, Name=deep, Type="String", Value="v")[0],
                         "HierarchyLevelLimitExceededException")
        self.ssm.put_parameter(Name=deep.rsplit("/", 1)[0], Type="String", Value="v")  # 15 levels is fine
        code, msg = self.error(self.ssm.put_parameter, Name="/t", Type="String", Value="v", Overwrite=True,
                               Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(code, "ValidationException")
        self.assertIn("tags and overwrite can't be used together", msg)

    def test_value_size_per_tier(self):
        # 4096 characters (here 2-byte ones: the limit counts characters) fits Standard.
        self.assertEqual(self.ssm.put_parameter(Name="/big", Type="String", Value="é" * 4096)["Tier"], "Standard")
        code, msg = self.error(self.ssm.put_parameter, Name="/big2", Type="String", Value="a" * 4097)
        self.assertEqual(code, "ValidationException")
        self.assertTrue(msg.startswith("Standard tier parameters support a maximum parameter value of 4096 "
                                       "characters."), msg)
        self.assertEqual(self.ssm.put_parameter(Name="/big2", Type="String", Value="a" * 4097,
                                                Tier="Intelligent-Tiering")["Tier"], "Advanced")
        self.assertEqual(self.ssm.put_parameter(Name="/big3", Type="String", Value="a" * 8192,
                                                Tier="Advanced")["Tier"], "Advanced")
        self.assertEqual(self.error(self.ssm.put_parameter, Name="/big4", Type="String", Value="a" * 8193,
                                    Tier="Advanced")[0], "ValidationException")
        code, msg = self.error(self.ssm.put_parameter, Name="/big3", Value="small", Tier="Standard", Overwrite=True)
        self.assertIn("can't downgrade", msg)

    def test_get_parameters_and_secure_string(self):
        self.ssm.put_parameter(Name="/app/list", Type="StringList", Value="a,b,c")
        self.ssm.put_parameter(Name="/app/secret", Type="SecureString", Value="hunter2")
        r = self.ssm.get_parameters(Names=["/app/list", "/missing", "/app/secret", "/missing"], WithDecryption=True)
        self.assertEqual(sorted(p["Name"] for p in r["Parameters"]), ["/app/list", "/app/secret"])
        self.assertEqual(r["InvalidParameters"], ["/missing"])
        values = {p["Name"]: p["Value"] for p in r["Parameters"]}
        self.assertEqual(values, {"/app/list": "a,b,c", "/app/secret": "hunter2"})
        # Without decryption a SecureString is never answered in clear text.
        hidden = self.ssm.get_parameter(Name="/app/secret")["Parameter"]["Value"]
        self.assertNotEqual(hidden, "hunter2")
        self.assertEqual(base64.b64decode(hidden), b"hunter2")
        self.assertEqual(self.ssm.get_parameter(Name="/app/secret", WithDecryption=True)["Parameter"]["Value"],
                         "hunter2")
        self.assertEqual(self.error(self.ssm.get_parameters, Names=["/p%d" % i for i in range(11)])[0],
                         "ValidationException")
        self.assertEqual(self.error(self.ssm.get_parameter, Name="/missing")[0], "ParameterNotFound")

    def test_by_path_recursive_and_pages(self):
        for name in ("/dss/a/automation", "/dss/b/automation", "/dss/b/deep/x", "/dss/top", "/other/x", "plain"):
            self.ssm.put_parameter(Name=name, Type="String", Value=name, Tags=[{"Key": "stack", "Value": "s"}])
        one = self.ssm.get_parameters_by_path(Path="/dss")["Parameters"]
        self.assertEqual([p["Name"] for p in one], ["/dss/top"])
        one = self.ssm.get_parameters_by_path(Path="/dss/b/")["Parameters"]
        self.assertEqual([p["Name"] for p in one], ["/dss/b/automation"])
        names, token, pages = [], None, 0
        while True:
            kw = {"NextToken": token} if token else {}
            r = self.ssm.get_parameters_by_path(Path="/dss", Recursive=True, MaxResults=2, **kw)
            names += [p["Name"] for p in r["Parameters"]]
            pages += 1
            token = r.get("NextToken")
            if not token:
                break
        self.assertEqual(names, ["/dss/a/automation", "/dss/b/automation", "/dss/b/deep/x", "/dss/top"])
        self.assertEqual(pages, 2)
        # boto3's paginator walks the same pages.
        pag = self.ssm.get_paginator("get_parameters_by_path")
        got = [p["Name"] for page in pag.paginate(Path="/", Recursive=True, PaginationConfig={"PageSize": 1})
               for p in page["Parameters"]]
        self.assertEqual(len(got), 6)
        self.assertEqual(self.error(self.ssm.get_parameters_by_path, Path="dss")[0], "ValidationException")
        self.assertEqual(self.error(self.ssm.get_parameters_by_path, Path="/dss", MaxResults=11)[0],
                         "ValidationException")
        self.assertEqual(self.error(self.ssm.get_parameters_by_path, Path="/dss", NextToken="zz")[0],
                         "InvalidNextToken")
        self.assertEqual(self.error(self.ssm.get_parameters_by_path, Path="/dss",
                                    ParameterFilters=[{"Key": "Name", "Values": ["x"]}])[0], "InvalidFilterKey")
        typed = self.ssm.get_parameters_by_path(Path="/", Recursive=True, ParameterFilters=[
            {"Key": "Type", "Values": ["SecureString"]}])["Parameters"]
        self.assertEqual(typed, [])

    def test_describe_filters_and_delete(self):
        for name in ("/dss/a/automation", "/dss/b/automation", "/x/y"):
            self.ssm.put_parameter(Name=name, Type="String", Value="v")
        by_path = self.ssm.describe_parameters(ParameterFilters=[
            {"Key": "Path", "Option": "Recursive", "Values": ["/dss"]}])["Parameters"]
        self.assertEqual([p["Name"] for p in by_path], ["/dss/a/automation", "/dss/b/automation"])
        self.assertNotIn("Value", by_path[0])
        begins = self.ssm.describe_parameters(Filters=[{"Key": "Name", "Values": ["/x"]}])["Parameters"]
        self.assertEqual([p["Name"] for p in begins], ["/x/y"])
        self.assertEqual(self.error(self.ssm.describe_parameters, ParameterFilters=[
            {"Key": "Path", "Option": "Deep", "Values": ["/dss"]}])[0], "InvalidFilterOption")
        r = self.ssm.delete_parameters(Names=["/x/y", "/nope"])
        self.assertEqual((r["DeletedParameters"], r["InvalidParameters"]), (["/x/y"], ["/nope"]))
        self.ssm.delete_parameter(Name="/dss/a/automation")
        self.assertEqual(self.error(self.ssm.delete_parameter, Name="/dss/a/automation")[0], "ParameterNotFound")
        self.assertEqual([p["Name"] for p in self.ssm.describe_parameters()["Parameters"]], ["/dss/b/automation"])

    def test_aws_cli(self):
        if sys.executable != "/usr/bin/python3":
            self.skipTest("the AWS CLI is the same under both pythons: it runs under Debian's")
        value = '{"version":1,"bucket":"demo-bucket","retry":3}'
        rc, out, err = self.aws("ssm", "put-parameter", "--name", "/dss/cli/automation", "--type", "String",
                                "--value", value)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["Version"], 1)
        rc, out, err = self.aws("ssm", "put-parameter", "--name", "/dss/cli/automation", "--type", "String",
                                "--value", value)
        self.assertNotEqual(rc, 0)
        self.assertIn("ParameterAlreadyExists", err)
        rc, out, err = self.aws("ssm", "get-parameter", "--name", "/dss/cli/automation", "--query",
                                "Parameter.Value", "--output", "text")
        self.assertEqual((rc, out.strip()), (0, value), err)
        rc, out, err = self.aws("ssm", "get-parameters-by-path", "--path", "/dss", "--recursive")
        self.assertEqual(rc, 0, err)
        self.assertEqual([p["Name"] for p in json.loads(out)["Parameters"]], ["/dss/cli/automation"])
        rc, out, err = self.aws("ssm", "delete-parameter", "--name", "/dss/cli/automation")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.aws("ssm", "get-parameter", "--name", "/dss/cli/automation")
        self.assertNotEqual(rc, 0)
        self.assertIn("ParameterNotFound", err)


if __name__ == "__main__":
    unittest.main()
