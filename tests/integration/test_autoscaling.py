"""Auto Scaling groups over the Query protocol: the reconciler launches real workers."""
import os
import shutil
import tempfile
import unittest

import botocore.exceptions

from dsstest import wait_until
from ec2util import InstancesTestCase, alive

AMI = "ami-0abcdef1234567890"


class GroupTestCase(InstancesTestCase):
    """Helpers for tests that make groups (no tests of its own)."""

    def setUp(self):
        self.ec2, self.asg = self.client("ec2"), self.client("autoscaling")

    def group(self, name):
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]

    def in_service(self, name):
        return sorted(i["InstanceId"] for i in self.group(name)["Instances"] if i["LifecycleState"] == "InService")

    def make_group(self, name, desired, **kw):
        lt = "lt-%s" % name
        self.ec2.create_launch_template(LaunchTemplateName=lt, LaunchTemplateData={"ImageId": AMI,
                                                                                   "InstanceType": "t3.micro"})
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": lt, "Version": "$Latest"},
            MinSize=0, MaxSize=5, DesiredCapacity=desired, AvailabilityZones=["us-east-1a", "us-east-1b"],
            Tags=[{"Key": "job", "Value": name, "PropagateAtLaunch": True},
                  {"Key": "quiet", "Value": "x", "PropagateAtLaunch": False}], **kw)
        self.addCleanup(self.delete_quietly, name)

    def delete_quietly(self, name):
        try:
            self.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        except Exception:
            pass


class AutoScalingTest(GroupTestCase):
    def test_desired_three_runs_three_tagged_workers(self):
        self.make_group("three", 3)
        self.assertTrue(wait_until(lambda: len(self.in_service("three")) == 3, timeout=20))
        ids = self.in_service("three")
        res = self.ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for inst in [i for r in res for i in r["Instances"]]:
            tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
            self.assertEqual(tags["job"], "three")
            self.assertEqual(tags["aws:autoscaling:groupName"], "three")
            self.assertNotIn("quiet", tags)
            self.assertEqual(inst["State"]["Name"], "running")
        workers = self.instances()
        self.assertTrue(all(alive(workers[i]["pid"]) for i in ids))
        self.assertEqual(len({self.group("three")["Instances"][k]["AvailabilityZone"] for k in range(3)}), 2)
        acts = self.asg.describe_scaling_activities(AutoScalingGroupName="three")["Activities"]
        self.assertGreaterEqual(len([a for a in acts if a["Description"].startswith("Launching")]), 3)
        # Above MaxSize: refused, never clamped.
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.set_desired_capacity(AutoScalingGroupName="three", DesiredCapacity=6)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        self.assertEqual(self.group("three")["DesiredCapacity"], 3)

    def test_protection_survives_scale_in_and_replacement(self):
        self.make_group("prot", 2)
        self.assertTrue(wait_until(lambda: len(self.in_service("prot")) == 2, timeout=20))
        keep, other = self.in_service("prot")
        self.asg.set_instance_protection(AutoScalingGroupName="prot", InstanceIds=[keep], ProtectedFromScaleIn=True)
        self.asg.set_desired_capacity(AutoScalingGroupName="prot", DesiredCapacity=0)
        self.ec2.get_waiter("instance_terminated").wait(InstanceIds=[other], WaiterConfig={"Delay": 0.2})
        self.assertEqual(self.in_service("prot"), [keep])
        # Replacement after a direct terminate (protection does not stop TerminateInstances).
        self.asg.set_desired_capacity(AutoScalingGroupName="prot", DesiredCapacity=1)
        self.ec2.terminate_instances(InstanceIds=[keep])
        # One DescribeAutoScalingGroups per check: two could see [keep] and then [] (keep gone, its
        # replacement still Pending) and pass with nothing in service.
        def replaced():
            now = self.in_service("prot")
            return len(now) == 1 and keep not in now
        self.assertTrue(wait_until(replaced, timeout=20))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.delete_auto_scaling_group(AutoScalingGroupName="prot")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceInUse")
        new = self.in_service("prot")[0]
        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=new, ShouldDecrementDesiredCapacity=True)
        self.assertEqual(self.group("prot")["DesiredCapacity"], 0)
        self.asg.delete_auto_scaling_group(AutoScalingGroupName="prot", ForceDelete=True)
        self.assertTrue(wait_until(lambda: not self.asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["prot"])["AutoScalingGroups"], timeout=20))

    def test_mixed_instances_spot(self):
        self.ec2.create_launch_template(LaunchTemplateName="lt-mixed", LaunchTemplateData={"ImageId": AMI})
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName="mixed", MinSize=0, MaxSize=4, DesiredCapacity=3, AvailabilityZones=["us-east-1a"],
            MixedInstancesPolicy={
                "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": "lt-mixed"},
                                   "Overrides": [{"InstanceType": "c5.large"}, {"InstanceType": "m5.large"}]},
                "InstancesDistribution": {"OnDemandBaseCapacity": 1, "OnDemandPercentageAboveBaseCapacity": 0}})
        self.addCleanup(self.delete_quietly, "mixed")
        self.assertTrue(wait_until(lambda: len(self.in_service("mixed")) == 3, timeout=20))
        res = self.ec2.describe_instances(InstanceIds=self.in_service("mixed"))["Reservations"]
        insts = [i for r in res for i in r["Instances"]]
        self.assertEqual(sum(1 for i in insts if i.get("InstanceLifecycle") == "spot"), 2)
        self.assertEqual({i["InstanceType"] for i in insts}, {"c5.large", "m5.large"})
        # A Spot interruption takes one; the group replaces it.
        spot = next(i["InstanceId"] for i in insts if i.get("InstanceLifecycle") == "spot")
        self.assertEqual(self.ctl("/_dss/faults/spot-interrupt", "POST", instance_id=spot, notice_seconds=1)[0], 200)
        def replaced():
            now = self.in_service("mixed")
            return spot not in now and len(now) == 3
        self.assertTrue(wait_until(replaced, timeout=20))

    def test_instances_update_cooldown_and_activity(self):
        self.make_group("upd", 1, DefaultCooldown=300)
        self.assertTrue(wait_until(lambda: len(self.in_service("upd")) == 1, timeout=20))
        [iid] = self.in_service("upd")
        [m] = self.asg.describe_auto_scaling_instances(InstanceIds=[iid])["AutoScalingInstances"]
        self.assertEqual((m["AutoScalingGroupName"], m["LifecycleState"], m["HealthStatus"], m["ProtectedFromScaleIn"]),
                         ("upd", "InService", "HEALTHY", False))
        self.assertEqual(m["LaunchTemplate"]["LaunchTemplateName"], "lt-upd")
        self.assertRegex(m["LaunchTemplate"]["LaunchTemplateId"], r"^lt-[0-9a-f]{17}$")
        self.assertEqual(self.asg.describe_auto_scaling_instances(InstanceIds=["i-0123456789abcdef0"])[
            "AutoScalingInstances"], [])
        # UpdateAutoScalingGroup: a new desired capacity is reconciled; a bound moves desired along.
        self.asg.update_auto_scaling_group(AutoScalingGroupName="upd", MaxSize=3, DesiredCapacity=2)
        self.assertTrue(wait_until(lambda: len(self.in_service("upd")) == 2, timeout=20))
        self.asg.update_auto_scaling_group(AutoScalingGroupName="upd", MaxSize=1)
        g = self.group("upd")
        self.assertEqual((g["MaxSize"], g["DesiredCapacity"]), (1, 1))
        self.assertTrue(wait_until(lambda: len(self.in_service("upd")) == 1, timeout=20))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.update_auto_scaling_group(AutoScalingGroupName="upd", MinSize=2)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        # HonorCooldown: refused within DefaultCooldown of the last change; without it, allowed.
        self.asg.update_auto_scaling_group(AutoScalingGroupName="upd", MaxSize=3)
        self.asg.set_desired_capacity(AutoScalingGroupName="upd", DesiredCapacity=1, HonorCooldown=True)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.set_desired_capacity(AutoScalingGroupName="upd", DesiredCapacity=2, HonorCooldown=True)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ScalingActivityInProgress")
        self.asg.set_desired_capacity(AutoScalingGroupName="upd", DesiredCapacity=1, HonorCooldown=False)
        # TerminateInstanceInAutoScalingGroup's activity: InProgress, then Successful once the
        # instance is terminated; the group replaces the instance.
        [iid] = self.in_service("upd")
        act = self.asg.terminate_instance_in_auto_scaling_group(InstanceId=iid,
                                                                ShouldDecrementDesiredCapacity=False)["Activity"]
        self.assertEqual(act["StatusCode"], "InProgress")
        self.assertNotIn("EndTime", act)
        def activity():
            return self.asg.describe_scaling_activities(ActivityIds=[act["ActivityId"]])["Activities"][0]
        self.assertTrue(wait_until(lambda: activity()["StatusCode"] == "Successful", timeout=20), activity())
        self.assertEqual(activity()["Progress"], 100)
        self.assertIn("EndTime", activity())
        self.assertTrue(wait_until(lambda: self.in_service("upd") not in ([], [iid]), timeout=20))

    def test_errors(self):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.create_auto_scaling_group(AutoScalingGroupName="bad", MinSize=2, MaxSize=1,
                                               LaunchTemplate={"LaunchTemplateName": "none"},
                                               AvailabilityZones=["us-east-1a"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.create_auto_scaling_group(AutoScalingGroupName="bad", MinSize=0, MaxSize=1,
                                               LaunchTemplate={"LaunchTemplateName": "none"},
                                               AvailabilityZones=["us-east-1a"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.set_desired_capacity(AutoScalingGroupName="nope", DesiredCapacity=1)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        self.make_group("dup", 0)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.make_group("dup", 0)
        self.assertIn(cm.exception.response["Error"]["Code"], ("AlreadyExists", "InvalidLaunchTemplateName.AlreadyExistsException"))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.create_auto_scaling_group(AutoScalingGroupName="dup", MinSize=0, MaxSize=1,
                                               LaunchTemplate={"LaunchTemplateName": "lt-dup"},
                                               AvailabilityZones=["us-east-1a"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "AlreadyExists")


class LeavingMemberTest(GroupTestCase):
    """SetInstanceProtection on a member the group is scaling in (lifecycle Terminating) is
    refused with AWS's ValidationError, as it is on AWS. It used to succeed: a seed execution
    whose WaitEC2 finished just before the scaler took its instance away then protected it,
    took a job from the queue and deleted it, and lost it to an instance that was already going.
    Instances here take 60 emulated seconds (3 s at clock speed 20) to shut down, so the
    Terminating window is wide enough to hit every time."""

    @classmethod
    def setUpClass(cls):
        os.environ["DSS_EC2_SHUTDOWN_MS"] = "60000"
        try:
            super().setUpClass()
        finally:
            del os.environ["DSS_EC2_SHUTDOWN_MS"]

    def test_protecting_a_terminating_member_is_refused(self):
        self.make_group("leaving", 2)
        self.assertTrue(wait_until(lambda: len(self.in_service("leaving")) == 2, timeout=20))
        keep, going = self.in_service("leaving")
        self.asg.set_instance_protection(AutoScalingGroupName="leaving", InstanceIds=[keep], ProtectedFromScaleIn=True)
        self.asg.set_desired_capacity(AutoScalingGroupName="leaving", DesiredCapacity=1)
        lifecycle = lambda: {i["InstanceId"]: i["LifecycleState"] for i in self.group("leaving")["Instances"]}
        self.assertTrue(wait_until(lambda: lifecycle().get(going) == "Terminating", timeout=10), lifecycle())
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.asg.set_instance_protection(AutoScalingGroupName="leaving", InstanceIds=[going],
                                             ProtectedFromScaleIn=True)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        self.assertEqual(cm.exception.response["Error"]["Message"],
                         "The instance %s is not in InService or EnteringStandby or Standby." % going)
        self.assertEqual(lifecycle().get(going), "Terminating")
        # The member in service is unaffected, and unprotecting it still works.
        self.asg.set_instance_protection(AutoScalingGroupName="leaving", InstanceIds=[keep], ProtectedFromScaleIn=False)
        self.assertEqual(lifecycle().get(keep), "InService")


class LargeGroupTest(InstancesTestCase):
    """A group of more than 256 instances (the seed's default maximum is 500): every member
    becomes InService and leaves when scaled in. The reconciler used to look at 256 members of a
    group only. The workers are stand-ins (a shell that sleeps): hundreds of real workers are the
    benchmark's business (tests/bench/instances.py), not CI's."""

    SIZE = 300

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dss-test-")
        stand_in = os.path.join(cls.tmp, "sleeping-worker")
        with open(stand_in, "w") as f:
            f.write("#!/bin/sh\nexec sleep 3600\n")
        os.chmod(stand_in, 0o755)
        os.environ["DSS_WORKER_BIN"] = stand_in
        try:
            super().setUpClass()
        except Exception:
            shutil.rmtree(cls.tmp, True)
            raise
        finally:
            del os.environ["DSS_WORKER_BIN"]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, True)

    def test_every_member_in_service_and_scaled_in(self):
        ec2, asg = self.client("ec2"), self.client("autoscaling")
        ec2.create_launch_template(LaunchTemplateName="lt-large", LaunchTemplateData={"ImageId": AMI})
        asg.create_auto_scaling_group(AutoScalingGroupName="large", LaunchTemplate={"LaunchTemplateName": "lt-large"},
                                      MinSize=0, MaxSize=self.SIZE, DesiredCapacity=self.SIZE,
                                      AvailabilityZones=["us-east-1a"])

        def states():
            g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["large"])["AutoScalingGroups"]
            return sorted(i["LifecycleState"] for i in g[0]["Instances"]) if g else None
        self.assertTrue(wait_until(lambda: states() == ["InService"] * self.SIZE, timeout=120),
                        "%s" % {s: (states() or []).count(s) for s in set(states() or [])})
        asg.set_desired_capacity(AutoScalingGroupName="large", DesiredCapacity=0)
        self.assertTrue(wait_until(lambda: states() == [], timeout=120), "%d members left" % len(states() or []))
        asg.delete_auto_scaling_group(AutoScalingGroupName="large")


if __name__ == "__main__":
    unittest.main()
