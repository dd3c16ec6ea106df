"""Auto Scaling groups over the Query protocol: the reconciler launches real workers."""
import unittest

import botocore.exceptions

from dsstest import wait_until
from ec2util import InstancesTestCase, alive

AMI = "ami-0abcdef1234567890"


class AutoScalingTest(InstancesTestCase):
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


if __name__ == "__main__":
    unittest.main()
