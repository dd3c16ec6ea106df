"""ListCommands and ListCommandInvocations pages: more than one page holds are all listed, each
once, through NextToken (boto3's paginator and the AWS CLI's auto-pagination both follow it).
Before the fixes ListCommands returned the 50 newest and no NextToken, so older commands were
invisible (found by tests/crash/crash-loop, whose check lists every command it ever sent), and
ListCommandInvocations' token counted rows from the last one listed while the invocations'
sequence is shared by every instance, so with an InstanceId filter pages repeated invocations."""
import json

from ec2util import InstancesTestCase


class ListCommandsPagingTest(InstancesTestCase):
    def test_every_command_listed_once_across_pages(self):
        (iid,) = self.launch()
        ssm = self.client("ssm")
        sent = []
        for k in range(53):  # more than a full page of the default 50
            out = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", Comment="page-%d" % k,
                                   Parameters={"commands": ["true"]})
            sent.append(out["Command"]["CommandId"])
        first = ssm.list_commands()
        self.assertEqual(len(first["Commands"]), 50)
        self.assertTrue("NextToken" in first, "no NextToken after the first page of 53 commands")
        pages = list(ssm.get_paginator("list_commands").paginate(PaginationConfig={"PageSize": 20}))
        self.assertEqual([len(p["Commands"]) for p in pages], [20, 20, 13])
        self.assertNotIn("NextToken", pages[-1])
        listed = [c["CommandId"] for p in pages for c in p["Commands"]]
        self.assertEqual(listed, list(reversed(sent)))  # newest first, each once
        rc, out, err = self.aws("ssm", "list-commands", "--query", "length(Commands)")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "53")
        with self.assertRaises(ssm.exceptions.InvalidNextToken):
            ssm.list_commands(NextToken="bogus")


class ListCommandInvocationsPagingTest(InstancesTestCase):
    def test_instance_filter_pages_each_invocation_once(self):
        a, b = self.launch(2)
        ssm = self.client("ssm")
        sent = {a: [], b: []}
        for k in range(4):  # interleaved: b's invocations are every other one in the shared sequence
            for iid in (a, b):
                out = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                                       Parameters={"commands": ["true"]})
                sent[iid].append(out["Command"]["CommandId"])
        for iid in (a, b):
            pages = list(ssm.get_paginator("list_command_invocations").paginate(
                InstanceId=iid, PaginationConfig={"PageSize": 1}))
            listed = [i["CommandId"] for p in pages for i in p["CommandInvocations"]]
            self.assertEqual(sorted(listed), sorted(sent[iid]), "instance %s" % iid)
            self.assertEqual(len(pages), 4)
            self.assertEqual({i["InstanceId"] for p in pages for i in p["CommandInvocations"]}, {iid})
        rc, out, err = self.aws("ssm", "list-command-invocations", "--instance-id", b, "--page-size", "3",
                                "--query", "CommandInvocations[].CommandId")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(json.loads(out)), sorted(sent[b]))
        with self.assertRaises(ssm.exceptions.InvalidNextToken):
            ssm.list_command_invocations(NextToken="bogus")
