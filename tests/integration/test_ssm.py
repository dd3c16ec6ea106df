"""SSM Run Command end to end: real worker processes run the commands."""
import os
import time
import unittest

import botocore.exceptions

import dsstest
from dsstest import wait_until
from ec2util import InstancesTestCase, alive


class SSMTest(InstancesTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids = None

    def setUp(self):
        self.ssm = self.client("ssm")
        if SSMTest.ids is None:
            SSMTest.ids = self.launch(2, cleanup=False)
        self.iid = SSMTest.ids[0]

    @classmethod
    def tearDownClass(cls):
        if cls.ids:
            from dsstest import client
            client(cls.endpoint, "ec2").terminate_instances(InstanceIds=cls.ids)
        super().tearDownClass()

    def send(self, commands, **kw):
        params = {"commands": commands}
        params.update(kw.pop("params", {}))
        return self.ssm.send_command(InstanceIds=kw.pop("ids", [self.iid]), DocumentName=kw.pop(
            "doc", "AWS-RunShellScript"), Parameters=params, **kw)["Command"]["CommandId"]

    def test_hello_world(self):
        cid = self.send(["echo Hello World"], Comment="hello")
        self.ssm.get_waiter("command_executed").wait(CommandId=cid, InstanceId=self.iid,
                                                     WaiterConfig={"Delay": 0.2})
        inv = self.ssm.get_command_invocation(CommandId=cid, InstanceId=self.iid)
        self.assertEqual(inv["Status"], "Success")
        self.assertEqual(inv["StandardOutputContent"], "Hello World\n")
        self.assertEqual(inv["ResponseCode"], 0)
        self.assertEqual(inv["Comment"], "hello")
        self.assertTrue(inv["ExecutionStartDateTime"] and inv["ExecutionEndDateTime"])
        cmd = self.ssm.list_commands(CommandId=cid)["Commands"][0]
        self.assertEqual((cmd["Status"], cmd["CompletedCount"], cmd["TargetCount"]), ("Success", 1, 1))
        invs = self.ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"]
        self.assertEqual(invs[0]["CommandPlugins"][0]["Output"], "Hello World\n")

    def test_one_script_cwd_env_and_isolation(self):
        cid = self.send(["cd /tmp", "X=kept", "pwd", "echo $X", "echo $HOME", "echo $DSS_INSTANCE_ID",
                         "echo $AWS_REGION", "command -v aws", "command -v sudo", "sudo -u root echo via-sudo"])
        inv = self.wait_command(cid, self.iid)
        self.assertEqual(inv["Status"], "Success", inv["StandardErrorContent"])
        lines = inv["StandardOutputContent"].splitlines()
        self.assertEqual(lines[0:2], ["/tmp", "kept"])
        self.assertTrue(lines[2].endswith("/instances/" + self.iid), lines[2])
        self.assertEqual(lines[3:5], [self.iid, "us-east-1"])
        self.assertTrue(lines[5].endswith("dss-worker-path/aws") and lines[6].endswith("dss-worker-path/sudo"), lines)
        self.assertEqual(lines[7], "via-sudo")
        # The default working directory is the instance's own.
        cid = self.send(["pwd", "env | sort | cut -d= -f1 | tr '\\n' ' '"])
        out = self.wait_command(cid, self.iid)["StandardOutputContent"].splitlines()
        self.assertTrue(out[0].endswith("/instances/" + self.iid))
        self.assertNotIn("DSS_SOURCE", out[1])  # nothing of the test's environment leaks in

    def test_failure_timeout_cancel(self):
        cid = self.send(["echo out", "echo err >&2", "exit 3"])
        inv = self.wait_command(cid, self.iid)
        self.assertEqual((inv["Status"], inv["StatusDetails"], inv["ResponseCode"]), ("Failed", "Failed", 3))
        self.assertEqual(inv["StandardOutputContent"], "out\n")
        self.assertTrue(inv["StandardErrorContent"].startswith("err\n"))
        cid = self.send(["sleep 30"], params={"executionTimeout": ["1"]})
        t0 = time.monotonic()
        inv = self.wait_command(cid, self.iid)
        self.assertEqual((inv["Status"], inv["StatusDetails"]), ("TimedOut", "Execution Timed Out"))
        self.assertLess(time.monotonic() - t0, 10)
        cid = self.send(["sleep 30"])
        self.assertTrue(wait_until(lambda: self.ssm.get_command_invocation(
            CommandId=cid, InstanceId=self.iid)["Status"] == "InProgress", timeout=10))
        self.ssm.cancel_command(CommandId=cid)
        inv = self.wait_command(cid, self.iid)
        self.assertEqual((inv["Status"], inv["StatusDetails"]), ("Cancelled", "Canceled"))
        # No sleep survives its cancelled command.
        self.assertTrue(wait_until(lambda: not any(
            b"sleep" in open("/proc/%d/cmdline" % p, "rb").read() for p in self.command_pids()), timeout=5))

    def command_pids(self):
        from ec2util import processes_of
        pids = []
        for p in processes_of(self.emulator.port):
            try:
                open("/proc/%d/cmdline" % p, "rb").read()
                pids.append(p)
            except OSError:
                pass
        return pids

    def test_working_directory_and_output_bucket(self):
        work = dsstest.temp_dir(self)  # removed when the test ends, with what the command made in it
        cid = self.send(["pwd", "touch here"], params={"workingDirectory": [work]}, OutputS3BucketName="out-bucket",
                        OutputS3KeyPrefix="runs/")
        inv = self.wait_command(cid, self.iid)
        self.assertEqual((inv["Status"], inv["StandardOutputContent"]), ("Success", work + "\n"))
        self.assertTrue(os.path.exists(os.path.join(work, "here")))
        cmd = self.ssm.list_commands(CommandId=cid)["Commands"][0]
        self.assertEqual((cmd["OutputS3BucketName"], cmd["OutputS3KeyPrefix"]), ("out-bucket", "runs/"))
        self.assertEqual(cmd["Parameters"]["workingDirectory"], [work])
        cid = self.send(["pwd"], params={"workingDirectory": ["/no/such/dir"]})
        inv = self.wait_command(cid, self.iid)
        self.assertEqual(inv["Status"], "Failed")
        self.assertIn("/no/such/dir", inv["StandardErrorContent"])

    def test_pending_past_timeout_seconds_is_delivery_timed_out(self):
        """One command at a time per instance: one queued behind a long one is never delivered
        within its TimeoutSeconds (30 s, the least: 1.5 s here) and ends TimedOut / Delivery
        Timed Out, counted as such by ListCommands."""
        iid = SSMTest.ids[1]
        busy = self.send(["sleep 60"], ids=[iid])
        self.addCleanup(self.ssm.cancel_command, CommandId=busy)
        self.assertTrue(wait_until(lambda: self.ssm.get_command_invocation(
            CommandId=busy, InstanceId=iid)["Status"] == "InProgress", timeout=10))
        queued = self.send(["echo never"], ids=[iid], TimeoutSeconds=30)
        inv = self.wait_command(queued, iid)
        self.assertEqual((inv["Status"], inv["StatusDetails"], inv["StandardOutputContent"]),
                         ("TimedOut", "Delivery Timed Out", ""))
        cmd = self.ssm.list_commands(CommandId=queued)["Commands"][0]
        self.assertEqual((cmd["Status"], cmd["StatusDetails"], cmd["DeliveryTimedOutCount"], cmd["ErrorCount"]),
                         ("TimedOut", "Delivery Timed Out", 1, 0))
        self.assertEqual(self.ssm.get_command_invocation(CommandId=busy, InstanceId=iid)["Status"], "InProgress")

    def test_output_to_s3_bucket(self):
        """OutputS3BucketName: the worker (the agent) uploads all of stdout, past the 24,000
        characters GetCommandInvocation shows, and stderr with the agent's own last line, under
        PREFIX/COMMAND/INSTANCE/awsrunShellScript/0.awsrunShellScript/; the invocation's URLs and
        the plugin's OutputS3KeyPrefix name them. No stderr, no stderr object; a missing bucket
        costs the output, not the command."""
        s3 = self.client("s3")
        s3.create_bucket(Bucket="ssm-output")
        cid = self.send(["head -c 30000 /dev/zero | tr '\\0' x", "echo oops >&2", "exit 3"],
                        OutputS3BucketName="ssm-output", OutputS3KeyPrefix="runs/a b")
        inv = self.wait_command(cid, self.iid)
        self.assertEqual((inv["Status"], len(inv["StandardOutputContent"])), ("Failed", 24000))
        base = "runs/a b/%s/%s/awsrunShellScript" % (cid, self.iid)
        body = lambda key: s3.get_object(Bucket="ssm-output", Key=key)["Body"].read()
        self.assertEqual(body(base + "/0.awsrunShellScript/stdout"), b"x" * 30000)
        self.assertEqual(body(base + "/0.awsrunShellScript/stderr"), b"oops\nfailed to run commands: exit status 3\n")
        self.assertTrue(inv["StandardOutputUrl"].endswith("/ssm-output/%s/0.awsrunShellScript/stdout" % base),
                        inv["StandardOutputUrl"])
        self.assertTrue(inv["StandardErrorUrl"].endswith("/0.awsrunShellScript/stderr"), inv["StandardErrorUrl"])
        listed = self.ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"][0]
        plugin = listed["CommandPlugins"][0]
        self.assertEqual((plugin["OutputS3BucketName"], plugin["OutputS3KeyPrefix"]), ("ssm-output", base))
        self.assertEqual(plugin["StandardOutputUrl"], inv["StandardOutputUrl"])

        quiet = self.send(["echo quiet"], OutputS3BucketName="ssm-output")
        self.assertEqual(self.wait_command(quiet, self.iid)["Status"], "Success")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="ssm-output", Prefix=quiet)["Contents"]]
        self.assertEqual(keys, ["%s/%s/awsrunShellScript/0.awsrunShellScript/stdout" % (quiet, self.iid)])
        self.assertEqual(body(keys[0]), b"quiet\n")

        lost = self.send(["echo lost"], OutputS3BucketName="no-such-output-bucket")
        inv = self.wait_command(lost, self.iid)
        self.assertEqual((inv["Status"], inv["StandardOutputContent"]), ("Success", "lost\n"))

        plain = self.send(["echo plain"])
        inv = self.wait_command(plain, self.iid)
        self.assertEqual((inv["StandardOutputUrl"], inv["StandardErrorUrl"]), ("", ""))

    def test_output_limit_and_targets(self):
        cid = self.send(["head -c 30000 /dev/zero | tr '\\0' x", "head -c 30000 /dev/zero | tr '\\0' y >&2"])
        inv = self.wait_command(cid, self.iid)
        # The model's limits: the first 24,000 characters of stdout, 8,000 of stderr.
        self.assertEqual(inv["StandardOutputContent"], "x" * 24000)
        self.assertEqual(inv["StandardErrorContent"], "y" * 8000)
        ec2 = self.client("ec2")
        ec2.create_tags(Resources=[SSMTest.ids[1]], Tags=[{"Key": "role", "Value": "target"}])
        cid = self.ssm.send_command(Targets=[{"Key": "tag:role", "Values": ["target"]}],
                                    DocumentName="AWS-RunShellScript",
                                    Parameters={"commands": ["echo tagged"]})["Command"]["CommandId"]
        inv = self.wait_command(cid, SSMTest.ids[1])
        self.assertEqual(inv["StandardOutputContent"], "tagged\n")
        invs = self.ssm.list_command_invocations(CommandId=cid)["CommandInvocations"]
        self.assertEqual([i["InstanceId"] for i in invs], [SSMTest.ids[1]])

    def test_errors(self):
        def code(**kw):
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                self.ssm.send_command(**kw)
            return cm.exception.response["Error"]["Code"]
        base = dict(DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]})
        self.assertEqual(code(InstanceIds=["i-0123456789abcdef0"], **base), "InvalidInstanceId")
        self.assertEqual(code(InstanceIds=[self.iid], Comment="c" * 101, **base), "ValidationException")
        self.assertEqual(code(InstanceIds=[self.iid], DocumentName="NoSuchDoc", Parameters={"commands": ["x"]}),
                         "InvalidDocument")
        self.assertEqual(code(InstanceIds=[self.iid], DocumentName="AWS-RunShellScript",
                              Parameters={"commands": ["x"], "executionTimeout": ["0"]}), "InvalidParameters")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.ssm.get_command_invocation(CommandId="00000000-0000-4000-a000-000000000000", InstanceId=self.iid)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvocationDoesNotExist")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.ssm.cancel_command(CommandId="00000000-0000-4000-a000-000000000000")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidCommandId")

    def test_powershell_without_pwsh(self):
        cid = self.send(["Write-Output hi"], doc="AWS-RunPowerShellScript")
        inv = self.wait_command(cid, self.iid)
        if inv["Status"] == "Success":
            self.skipTest("pwsh is installed")
        self.assertEqual(inv["Status"], "Failed")
        self.assertIn("pwsh is not installed", inv["StandardErrorContent"])

    def test_instance_information(self):
        info = self.ssm.describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": SSMTest.ids}])["InstanceInformationList"]
        self.assertEqual({i["PingStatus"] for i in info}, {"Online"})


class SpotInterruptionTest(InstancesTestCase):
    """A Spot interruption during `sleep 60`: the notice shows in IMDS, the worker and its
    command are killed when it expires, the instance is terminated, and the invocation ends as
    AWS documents for an agent that died: InProgress until TimeoutSeconds + executionTimeout,
    then TimedOut / Delivery Timed Out (emulator default)."""

    def test_spot_interruption_during_sleep(self):
        ec2, ssm = self.client("ec2"), self.client("ssm")
        [iid] = self.launch(1, InstanceMarketOptions={"MarketType": "spot"})
        worker = self.instances()[iid]["pid"]
        cid = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", TimeoutSeconds=30,
                               Parameters={"commands": ["sleep 60"], "executionTimeout": ["100"]}
                               )["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(
            CommandId=cid, InstanceId=iid)["Status"] == "InProgress", timeout=10))
        self.assertTrue(wait_until(lambda: self.instances()[iid].get("command_pgid"), timeout=5))
        pgid = self.instances()[iid]["command_pgid"]
        import urllib.request
        imds = self.endpoint + "/_dss/imds/%s/latest/" % iid
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(imds + "meta-data/spot/instance-action")
        status, body = self.ctl("/_dss/faults/spot-interrupt", "POST", instance_id=iid)
        self.assertEqual(status, 200, body)
        tok = urllib.request.urlopen(urllib.request.Request(
            imds + "api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})).read()
        action = urllib.request.urlopen(urllib.request.Request(
            imds + "meta-data/spot/instance-action", headers={"X-aws-ec2-metadata-token": tok.decode()})).read()
        self.assertIn(b'"action": "terminate"', action)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(urllib.request.Request(
                imds + "meta-data/instance-id", headers={"X-aws-ec2-metadata-token": "forged"}))
        self.assertEqual(cm.exception.code, 401)
        # The notice is 2 minutes of emulator time: 6 s here. The sleep would take 60.
        t0 = time.monotonic()
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.3})
        self.assertLess(time.monotonic() - t0, 30)
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["StateReason"]["Code"], "Server.SpotInstanceTermination")
        self.assertTrue(wait_until(lambda: not alive(worker), timeout=5), "worker survived")
        self.assertTrue(wait_until(lambda: not os.path.exists("/proc/%d" % pgid) or not alive(pgid), timeout=5))
        inv = self.wait_command(cid, iid, timeout=30)
        self.assertEqual((inv["Status"], inv["StatusDetails"]), ("TimedOut", "Delivery Timed Out"))
        events = [e["type"] for e in self.ctl("/_dss/events")[1]["events"]]
        self.assertIn("ec2.spot-interruption-warning", events)
        self.assertIn("ec2.spot-interruption", events)


if __name__ == "__main__":
    unittest.main()
