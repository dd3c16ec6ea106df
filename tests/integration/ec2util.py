"""ec2util -- helpers for the EC2, Auto Scaling, SSM and worker tests.

InstancesTestCase is an EmulatorTestCase whose emulator runs its clock 20 times faster (boot
0.5 s, status checks 1 s, Spot notice 6 s of wall time). When the class ends it checks that no
process the emulator started (workers, their guards and commands: every one carries the
emulator's DSS_ENDPOINT in its environment) outlives it -- and kills any that did, failing.
"""
import json
import os
import signal
import time
import urllib.request

from dsstest import EmulatorTestCase, wait_until


def processes_of(port):
    """Pids of live (not zombie) processes whose environment names the emulator on port."""
    needle = ("DSS_ENDPOINT=http://127.0.0.1:%d\0" % port).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
            with open("/proc/%s/stat" % name) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state != "Z":
            found.append(int(name))
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class InstancesTestCase(EmulatorTestCase):
    emulator_args = ("--clock-speed", "20")

    @classmethod
    def tearDownClass(cls):
        port = cls.emulator.port
        try:
            super().tearDownClass()
        finally:
            # Workers die with the emulator (PR_SET_PDEATHSIG) and commands with their worker.
            wait_until(lambda: not processes_of(port), timeout=5)
            stray = processes_of(port)
            for pid in stray:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if stray:
                raise AssertionError("processes outlived the emulator: %s" % stray)

    def ctl(self, path, method="GET", **args):
        """Calls the control API; returns (status, decoded JSON)."""
        query = "&".join("%s=%s" % (k, urllib.request.quote(str(v))) for k, v in args.items())
        req = urllib.request.Request(self.endpoint + path + ("?" + query if query else ""), method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def instances(self):
        return {i["instance_id"]: i for i in self.ctl("/_dss/instances")[1]["instances"]}

    def launch(self, count=1, cleanup=True, **kw):
        """RunInstances and wait until status ok (SSM-ready); returns the ids (terminated when
        the test ends unless cleanup is false)."""
        ec2 = self.client("ec2")
        kw.setdefault("ImageId", "ami-0abcdef1234567890")
        kw.setdefault("InstanceType", "t3.micro")
        ids = [i["InstanceId"] for i in ec2.run_instances(MinCount=count, MaxCount=count, **kw)["Instances"]]
        if cleanup:
            self.addCleanup(self.terminate_quietly, ids)
        ec2.get_waiter("instance_status_ok").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        ssm = self.client("ssm")
        self.assertTrue(wait_until(lambda: len(ssm.describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": ids}])["InstanceInformationList"]) == len(ids), timeout=10))
        return ids

    def terminate_quietly(self, ids):
        try:
            self.client("ec2").terminate_instances(InstanceIds=ids)
        except Exception:
            pass

    def wait_command(self, command_id, instance_id, timeout=30):
        ssm = self.client("ssm")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
            if inv["Status"] not in ("Pending", "InProgress", "Delayed", "Cancelling"):
                return inv
            time.sleep(0.1)
        self.fail("command %s still %s" % (command_id, inv["Status"]))
