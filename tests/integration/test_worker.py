"""Worker processes, the fault control API and its CLI, and the in-worker aws/sudo."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

from dsstest import BIN, Emulator, client, temp_dir, wait_until
from ec2util import InstancesTestCase, alive, processes_of


class FaultsTest(InstancesTestCase):
    def test_api_faults(self):
        sqs, ssm = self.client("sqs"), self.client("ssm")
        url = sqs.create_queue(QueueName="faulty")["QueueUrl"]
        st, body = self.ctl("/_dss/faults/api", "POST", service="sqs", operation="ReceiveMessage", nth=2)
        self.assertEqual(st, 200, body)
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        self.assertEqual(cm.exception.response["Error"]["Code"], "RequestThrottled")
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)  # count=1: only the 2nd call
        # 500 on SendCommand, via the CLI wrapper.
        ctl = os.path.join(BIN, "dss-emulator-ctl")
        p = subprocess.run([ctl, "--endpoint", self.endpoint, "fail", "ssm", "SendCommand", "1", "1",
                            "InternalServerError"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            ssm.send_command(InstanceIds=["i-0123456789abcdef0"], DocumentName="AWS-RunShellScript",
                             Parameters={"commands": ["true"]})
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InternalServerError")
        # Delay: answered later on the emulator clock (2000 ms at speed 20 = 0.1 s).
        self.ctl("/_dss/faults/api", "POST", service="sqs", operation="GetQueueUrl", action="delay", delay_ms=20000)
        t0 = time.monotonic()
        sqs.get_queue_url(QueueName="faulty")
        self.assertGreater(time.monotonic() - t0, 0.5)
        events = [e for e in self.ctl("/_dss/events")[1]["events"] if e["type"] == "fault.api"]
        self.assertEqual(len(events), 3)
        self.assertEqual(self.ctl("/_dss/faults", "DELETE")[0], 200)
        self.assertEqual(self.ctl("/_dss/faults")[1]["faults"], [])
        st, body = self.ctl("/_dss/faults/api", "POST", service="sqs", operation="X", error="NoSuchError")
        self.assertEqual(st, 400)

    def test_kill_pause_worker(self):
        ec2, ssm = self.client("ec2"), self.client("ssm")
        a, b = self.launch(2)
        pid = self.instances()[a]["pid"]
        self.assertEqual(self.ctl("/_dss/faults/kill-worker", "POST", instance_id=a)[0], 200)
        self.assertTrue(wait_until(lambda: not alive(pid), timeout=5))
        self.assertTrue(wait_until(lambda: ec2.describe_instance_status(InstanceIds=[a])["InstanceStatuses"][0][
            "InstanceStatus"]["Status"] == "impaired", timeout=5))
        self.assertEqual(ec2.describe_instances(InstanceIds=[a])["Reservations"][0]["Instances"][0]["State"]["Name"],
                         "running")  # on-demand: impaired, not terminated
        info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [a]}])
        self.assertEqual(info["InstanceInformationList"][0]["PingStatus"], "ConnectionLost")
        # Pause: the command does not progress until resumed.
        cid = ssm.send_command(InstanceIds=[b], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": ["sleep 1", "echo done"]})["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: self.instances()[b].get("command_pgid"), timeout=5))
        self.assertEqual(self.ctl("/_dss/faults/pause-worker", "POST", instance_id=b)[0], 200)
        time.sleep(2)
        self.assertEqual(ssm.get_command_invocation(CommandId=cid, InstanceId=b)["Status"], "InProgress")
        self.assertEqual(self.ctl("/_dss/faults/resume-worker", "POST", instance_id=b)[0], 200)
        inv = self.wait_command(cid, b)
        self.assertEqual((inv["Status"], inv["StandardOutputContent"]), ("Success", "done\n"))
        # Every injected fault is in the event log.
        events = [(e["type"], e["detail"].get("instance_id")) for e in self.ctl("/_dss/events")[1]["events"]]
        for event in (("fault.worker-killed", a), ("ec2.worker-died", a), ("fault.worker-paused", b),
                      ("fault.worker-resumed", b)):
            self.assertIn(event, events)

    def test_spot_worker_death_terminates(self):
        """An on-demand instance whose worker dies is impaired; a Spot one is gone for good."""
        ec2 = self.client("ec2")
        [iid] = self.launch(1, InstanceMarketOptions={"MarketType": "spot"})
        pid = self.instances()[iid]["pid"]
        os.kill(pid, signal.SIGKILL)  # dies on its own, as far as the emulator knows
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["StateReason"]["Code"], "Server.InternalError")
        [req] = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[inst["SpotInstanceRequestId"]])[
            "SpotInstanceRequests"]
        self.assertEqual(req["State"], "closed")

    def test_clock_and_settings(self):
        st, body = self.ctl("/_dss/clock")
        self.assertEqual(body["speed"], 20)
        st, body = self.ctl("/_dss/clock", "POST", speed=40)
        self.assertEqual((st, body["speed"]), (200, 40))
        self.addCleanup(self.ctl, "/_dss/clock", "POST", speed=20)
        self.assertEqual(self.ctl("/_dss/clock")[1]["speed"], 40)
        self.assertEqual(self.ctl("/_dss/clock", "POST", speed=0)[0], 400)
        self.assertEqual(self.ctl("/_dss/clock", "POST", speed="fast")[0], 400)
        speeds = [e["detail"]["speed"] for e in self.ctl("/_dss/events")[1]["events"] if e["type"] == "clock.speed"]
        self.assertEqual(speeds[-1], 40)
        self.ctl("/_dss/clock", "POST", speed=20)
        st, body = self.ctl("/_dss/settings", "POST", ssm_dead_agent="bogus")
        self.assertEqual(st, 400)
        st, body = self.ctl("/_dss/settings", "POST", boot_ms=10000)
        self.assertEqual(body["ssm_dead_agent"], "timeout")


class DeadAgentModesTest(InstancesTestCase):
    def test_terminated_and_missing(self):
        ssm, ec2 = self.client("ssm"), self.client("ec2")
        a, b = self.launch(2)
        self.ctl("/_dss/settings", "POST", ssm_dead_agent="terminated")
        cid = ssm.send_command(InstanceIds=[a], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": ["sleep 30"]})["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(CommandId=cid, InstanceId=a)["Status"] ==
                                   "InProgress", timeout=5))
        ec2.terminate_instances(InstanceIds=[a])
        inv = self.wait_command(cid, a)
        self.assertEqual((inv["Status"], inv["StatusDetails"]), ("Failed", "Terminated"))
        self.ctl("/_dss/settings", "POST", ssm_dead_agent="missing")
        cid = ssm.send_command(InstanceIds=[b], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": ["sleep 30"]})["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(CommandId=cid, InstanceId=b)["Status"] ==
                                   "InProgress", timeout=5))
        self.ctl("/_dss/faults/kill-worker", "POST", instance_id=b)

        def gone():
            try:
                ssm.get_command_invocation(CommandId=cid, InstanceId=b)
                return False
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"] == "InvocationDoesNotExist"
        self.assertTrue(wait_until(gone, timeout=5))
        self.ctl("/_dss/settings", "POST", ssm_dead_agent="timeout")


class EmulatorCrashTest(unittest.TestCase):
    """SIGKILL of the emulator takes every worker and command with it; a restart on the same
    data directory gives each running instance a fresh worker."""

    def test_sigkill_and_restart(self):
        data = temp_dir(self)
        emu = Emulator(data_dir=data, extra_args=("--clock-speed", "20")).start()
        self.addCleanup(emu.stop)
        ec2, ssm = client(emu.endpoint, "ec2"), client(emu.endpoint, "ssm")
        iid = ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.get_waiter("instance_status_ok").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        self.assertTrue(wait_until(lambda: ssm.describe_instance_information()["InstanceInformationList"], timeout=5))
        cid = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                               Parameters={"commands": ["sleep 60"]})["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: len(processes_of(emu.port)) >= 3, timeout=5))  # worker, guard, sh
        port = emu.port
        emu.kill()
        self.assertTrue(wait_until(lambda: not processes_of(port), timeout=10), processes_of(port))
        emu2 = Emulator(data_dir=data, port=port, extra_args=("--clock-speed", "20")).start()
        self.addCleanup(emu2.stop)
        ec2 = client(emu2.endpoint, "ec2")
        ssm = client(emu2.endpoint, "ssm")
        self.assertEqual(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"],
                         "running")
        self.assertTrue(wait_until(lambda: len(processes_of(port)) == 1, timeout=10), (processes_of(port), emu2.log()))
        self.assertEqual(ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["Status"], "InProgress")
        cid2 = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                                Parameters={"commands": ["echo again"]})["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(CommandId=cid2, InstanceId=iid)["Status"] ==
                                   "Success", timeout=10))
        rc, log = emu2.stop()
        self.assertEqual(rc, 0, log)
        self.assertTrue(wait_until(lambda: not processes_of(port), timeout=5))


def with_env(name, value, fn):
    """fn() with os.environ[name] = value (the emulators started meanwhile inherit it)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        return fn()
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def worker_pid(endpoint, iid):
    import urllib.request
    with urllib.request.urlopen(endpoint + "/_dss/instances", timeout=10) as r:
        return {i["instance_id"]: i for i in json.loads(r.read())["instances"]}.get(iid, {}).get("pid")


def agent_online(ssm, iid, timeout=20):
    """Waits until the instance's SSM agent is Online; False if it is not within timeout."""
    return wait_until(lambda: [i["PingStatus"] for i in ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [iid]}])["InstanceInformationList"]] == ["Online"], timeout=timeout)


class CleanRestartTest(unittest.TestCase):
    """A clean stop (SIGTERM) with a command in progress, then a restart on the same data
    directory: SSM settles the invocations as for a dead agent, per the setting (here
    `terminated`: Failed / Terminated, and Failed / Undeliverable for one never delivered), as
    after a crash -- the clean stop used to hide that the instance had had a worker."""

    def test_in_progress_settled_after_sigterm_restart(self):
        data = temp_dir(self)
        start = lambda: with_env("DSS_SSM_DEAD_AGENT", "terminated", lambda: Emulator(
            data_dir=data, extra_args=("--clock-speed", "20")).start())
        emu = start()
        self.addCleanup(emu.stop)
        ec2, ssm = client(emu.endpoint, "ec2"), client(emu.endpoint, "ssm")
        iid = ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.get_waiter("instance_status_ok").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        params = dict(InstanceIds=[iid], DocumentName="AWS-RunShellScript", TimeoutSeconds=3600)
        running = ssm.send_command(Parameters={"commands": ["sleep 60"]}, **params)["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(CommandId=running, InstanceId=iid)["Status"] ==
                                   "InProgress", timeout=10))
        queued = ssm.send_command(Parameters={"commands": ["echo queued"]}, **params)["Command"]["CommandId"]
        rc, log = emu.stop()
        self.assertEqual(rc, 0, log)
        emu = start()
        self.addCleanup(emu.stop)
        ssm = client(emu.endpoint, "ssm")

        def status(cid):
            inv = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)
            return inv["Status"], inv["StatusDetails"]
        self.assertTrue(wait_until(lambda: status(running) == ("Failed", "Terminated"), timeout=10), status(running))
        self.assertEqual(status(queued), ("Failed", "Undeliverable"))
        # The fresh worker's agent registers a moment after the restart; before it is Online a
        # SendCommand is InvalidInstanceId, as on AWS.
        self.assertTrue(agent_online(ssm, iid), emu.log())
        again = ssm.send_command(Parameters={"commands": ["echo again"]}, **params)["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: status(again) == ("Success", "Success"), timeout=20), status(again))
        rc, log = emu.stop()
        self.assertEqual(rc, 0, log)


class NamespacedEmulator(Emulator):
    """An emulator that is pid 1 of a pid namespace of its own (unshare --pid --fork), so its
    workers get the same small pids run after run; stopped with SIGKILL (unshare does not pass
    SIGTERM on), which takes the whole namespace down."""

    UNSHARE = ["unshare", "--pid", "--fork", "--kill-child"]

    def start(self):
        import dsstest
        saved = dsstest.WRAPPER
        dsstest.WRAPPER = self.UNSHARE + saved
        try:
            return super().start()
        finally:
            dsstest.WRAPPER = saved

    def stop(self):
        self.kill()
        return 0, self.log()


class PidReuseAfterRestartTest(unittest.TestCase):
    """An invocation is tied to the worker that took it by pid. After an emulator crash the
    fresh worker of the instance may get the pid of the dead one (here it does: the emulator is
    pid 1 of a pid namespace of its own, so its workers' pids repeat run after run); the dead
    worker's command in progress must not count as the fresh worker's, or it never times out and
    no later command is ever delivered to the instance."""

    def test_fresh_worker_with_the_dead_workers_pid_gets_commands(self):
        probe = subprocess.run(NamespacedEmulator.UNSHARE + ["true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("cannot make a pid namespace here: %s" % probe.stderr.decode().strip())
        data = temp_dir(self)
        emu = NamespacedEmulator(data_dir=data, extra_args=("--clock-speed", "20")).start()
        self.addCleanup(emu.stop)
        ec2, ssm = client(emu.endpoint, "ec2"), client(emu.endpoint, "ssm")
        iid = ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.get_waiter("instance_status_ok").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        first = worker_pid(emu.endpoint, iid)
        params = dict(InstanceIds=[iid], DocumentName="AWS-RunShellScript")
        cid = ssm.send_command(Parameters={"commands": ["sleep 60"]}, **params)["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["Status"] ==
                                   "InProgress", timeout=10))
        port = emu.port
        emu.kill()
        self.assertTrue(wait_until(lambda: not processes_of(port), timeout=10), processes_of(port))
        emu = NamespacedEmulator(data_dir=data, extra_args=("--clock-speed", "20")).start()
        self.addCleanup(emu.stop)
        ssm = client(emu.endpoint, "ssm")
        self.assertTrue(wait_until(lambda: worker_pid(emu.endpoint, iid), timeout=10), emu.log())
        if worker_pid(emu.endpoint, iid) != first:
            self.skipTest("the fresh worker got pid %s, the dead one had %s" % (worker_pid(emu.endpoint, iid), first))
        # Default dead-agent mode: the dead worker's command stays InProgress (until its
        # timeouts), and the fresh worker takes the next command once its agent is back online
        # (the pid is recorded when the worker is spawned, before its agent registers: a
        # SendCommand in between is InvalidInstanceId, as on AWS for an agent not connected).
        self.assertEqual(ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["Status"], "InProgress")
        self.assertTrue(agent_online(ssm, iid), emu.log())
        again = ssm.send_command(Parameters={"commands": ["echo again"]}, **params)["Command"]["CommandId"]
        self.assertTrue(wait_until(lambda: ssm.get_command_invocation(CommandId=again, InstanceId=iid)["Status"] ==
                                   "Success", timeout=20), emu.log())


class S3ShimTest(InstancesTestCase):
    """A job that syncs its input down, runs, and syncs its output back, with the in-worker aws."""

    def test_sync_down_run_sync_up(self):
        if "s3" not in json.loads(self.emulator.health()[1])["services"]:
            self.skipTest("S3 is not served by this emulator yet")
        s3, ssm = self.client("s3"), self.client("ssm")
        s3.create_bucket(Bucket="jobs")
        s3.put_object(Bucket="jobs", Key="in/a.txt", Body=b"alpha\n")
        s3.put_object(Bucket="jobs", Key="in/sub/b.txt", Body=b"beta\n")
        [iid] = self.launch(1)
        cid = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": [
            "mkdir -p job && cd job", "aws s3 sync s3://jobs/in input", "cat input/a.txt input/sub/b.txt > a.out",
            "aws s3 cp a.out s3://jobs/out/", "aws s3 ls s3://jobs/out/", "aws s3 rm s3://jobs/in/a.txt"]})[
            "Command"]["CommandId"]
        inv = self.wait_command(cid, iid)
        self.assertEqual(inv["Status"], "Success", inv["StandardErrorContent"])
        out = inv["StandardOutputContent"]
        self.assertIn("download: s3://jobs/in/a.txt to input/a.txt".replace("to input", "to ./input"), out)
        self.assertIn("upload: ./a.out to s3://jobs/out/a.out", out)
        self.assertIn("delete: s3://jobs/in/a.txt", out)
        self.assertEqual(s3.get_object(Bucket="jobs", Key="out/a.out")["Body"].read(), b"alpha\nbeta\n")
        cid = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": [
            "cd job", "aws s3 sync input s3://jobs/copy", "aws s3 sync input s3://jobs/copy",
            "aws s3 cp s3://jobs/missing x"]})["Command"]["CommandId"]
        inv = self.wait_command(cid, iid)
        self.assertEqual(inv["Status"], "Failed")
        self.assertEqual(inv["StandardOutputContent"].count("upload:"), 2)  # the second sync had nothing to do
        self.assertIn("download failed: s3://jobs/missing to ./x", inv["StandardErrorContent"])


class SignedWorkerTest(InstancesTestCase):
    """Under --auth verify a worker's own calls (SSM registration, command polls and replies) and
    the in-worker aws are signed with the key pair the emulator gives it: the first pair of the
    credentials file. The clock runs at speed 1 (signature dates are checked against it); boot
    and status checks are shortened through the control API instead."""

    emulator_args = ()
    KEY = ("AKIDWORKERTEST", "worker-test-secret")

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dss-test-")
        creds = os.path.join(cls.tmp, "credentials")
        with open(creds, "w") as f:
            f.write("[first]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other\n" % cls.KEY)
        cls.emulator_args = ("--auth", "verify", "--credentials", creds)
        try:
            super().setUpClass()
        except Exception:
            shutil.rmtree(cls.tmp, True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, True)

    def client(self, service, **config):
        cfg = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60, **config)
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.KEY[0], aws_secret_access_key=self.KEY[1], config=cfg)

    def test_job_copies_in_and_out_of_s3(self):
        # Verification is really on: the harness's default test/test pair is refused.
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            client(self.endpoint, "s3").list_buckets()
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidAccessKeyId")
        self.assertEqual(self.ctl("/_dss/settings", "POST", boot_ms=200, status_ms=200)[0], 200)
        s3, ssm = self.client("s3"), self.client("ssm")
        s3.create_bucket(Bucket="signed")
        s3.put_object(Bucket="signed", Key="in/data.txt", Body=b"hello signed world\n")
        [iid] = self.launch(1)  # waits for the worker's signed UpdateInstanceInformation
        self.assertEqual(self.instances()[iid]["state"], "running")
        cid = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": [
            "aws s3 cp s3://signed/in/data.txt data.txt", "tr a-z A-Z < data.txt > result.txt",
            "aws s3 cp result.txt 's3://signed/out/result ~1.txt'", "aws s3 ls s3://signed/out/"]})[
            "Command"]["CommandId"]
        inv = self.wait_command(cid, iid, timeout=60)
        self.assertEqual(inv["Status"], "Success", inv["StandardErrorContent"])
        self.assertIn("download: s3://signed/in/data.txt to ./data.txt", inv["StandardOutputContent"])
        self.assertIn("upload: ./result.txt to s3://signed/out/result ~1.txt", inv["StandardOutputContent"])
        self.assertEqual(s3.get_object(Bucket="signed", Key="out/result ~1.txt")["Body"].read(),
                         b"HELLO SIGNED WORLD\n")
        self.assertNotIn("SignatureDoesNotMatch", self.emulator.log())


if __name__ == "__main__":
    unittest.main()
