"""ListCommands pages: more commands than one page holds are all listed, newest first, each once,
through NextToken (boto3's paginator and the AWS CLI's auto-pagination both follow it). Before
the fix ListCommands returned the 50 newest and no NextToken, so older commands were invisible
(found by tests/crash/crash-loop, whose check lists every command it ever sent)."""
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
