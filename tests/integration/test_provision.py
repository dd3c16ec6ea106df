"""`dss-scheduler provision` and `teardown` against a real dss-emulator, checked with boto3.

The dry run is compared byte for byte with fixtures/provision/*.txt (regenerate a fixture by
running the command in the test with DSS_UPDATE_FIXTURES=1 and reviewing the diff). Provision
twice: the second run prints "exists" for everything and changes nothing (versions and creation
times are compared). Teardown refuses a stack with a message queued, an object in the bucket and
an instance in the group -- showing AWS's BucketNotEmpty and ResourceInUse -- and deletes
nothing; --force then deletes everything, the instance's worker process included.
"""
import json
import os
import subprocess
import unittest

import botocore.exceptions

import dsstest
import ec2util
from test_scheduler import SCHED, sched_env

FIXTURES = os.path.join(dsstest.SOURCE, "fixtures", "provision")
STACK, BUCKET = "prov", "prov-jobs"
NAMES = ["prov-job-queue", "prov-job-queue-finished", "prov-job-queue-failed", "prov-s3-events"]


def run(endpoint, *args, **env):
    p = subprocess.run([SCHED] + list(args), env=sched_env(endpoint, **env), capture_output=True, text=True,
                       timeout=600)
    return p.returncode, p.stdout, p.stderr


class ProvisionDryRun(dsstest.EmulatorTestCase):
    def check_fixture(self, name, *args, region="us-east-1"):
        # No credentials at all: a dry run must not need them, since it sends nothing.
        env = {"AWS_REGION": region, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
        rc, out, err = run(self.endpoint, "provision", "--dry-run", *args, **env)
        self.assertEqual(rc, 0, err)
        path = os.path.join(FIXTURES, name)
        if os.environ.get("DSS_UPDATE_FIXTURES"):
            with open(path, "w") as f:
                f.write(out)
        with open(path) as f:
            self.assertEqual(out, f.read())
        return out

    def test_dry_run_fixtures_and_no_requests(self):
        out = self.check_fixture("dry-run-demo.txt", "--stack", "demo", "--resource-automation", "--bucket",
                                 "demo-jobs", "--max-instances", "20", "--image-id", "ami-0123456789abcdef0",
                                 "--allocation", "capacity-optimized")
        calls = [line.split(" ", 2) for line in out.splitlines() if not line.startswith("#")]
        self.assertEqual([c[1] for c in calls], ["CreateQueue"] * 3 + [
            "CreateTable", "CreateBucket", "CreateQueue", "PutBucketNotificationConfiguration",
            "CreateLaunchTemplate", "CreateAutoScalingGroup", "PutParameter"])
        for c in calls:
            json.loads(c[2])  # every parameter set is JSON
        self.check_fixture("dry-run-plain.txt", "--stack", "plain", region="eu-west-1")
        # Nothing reached the emulator.
        self.assertEqual(self.client("sqs").list_queues().get("QueueUrls", []), [])
        self.assertEqual(self.client("s3").list_buckets()["Buckets"], [])

    def test_usage_errors(self):
        for args in (["provision"], ["provision", "--stack", "a b"], ["provision", "--stack", "s",
                     "--resource-automation"], ["provision", "--stack", "s", "--resource-automation", "--bucket",
                     "Bad_Bucket"], ["provision", "--stack", "s", "--allocation", "cheapest"],
                     ["teardown", "--stack", "s", "--dry-run"], ["provision", "--stack", "s", "--force"]):
            rc, out, err = run(self.endpoint, *args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn("usage:", err)


class ProvisionTeardown(ec2util.InstancesTestCase):
    def client(self, service, **config):
        """One client per service and test (not one per call: each holds a connection pool)."""
        cache = self.__dict__.setdefault("_clients", {})
        if service not in cache:
            cache[service] = super().client(service, **config)
        return cache[service]

    def provision(self, *extra):
        return run(self.endpoint, "provision", "--stack", STACK, "--resource-automation", "--bucket", BUCKET,
                   "--max-instances", "3", "--trigger-suffix", ".sh", *extra)

    def url(self, name):
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]

    def snapshot(self):
        """What a mutating call would change: versions and creation times."""
        sqs, asg, ec2, ssm = (self.client(s) for s in ("sqs", "autoscaling", "ec2", "ssm"))
        queues = {n: sqs.get_queue_attributes(QueueUrl=self.url(n), AttributeNames=["All"])["Attributes"]
                  for n in NAMES}
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[STACK + "-autoscaling-group"])
        lt = ec2.describe_launch_templates(LaunchTemplateNames=[STACK + "-launch-template"])["LaunchTemplates"][0]
        param = ssm.get_parameter(Name="/dss/%s/automation" % STACK)["Parameter"]
        notif = self.client("s3").get_bucket_notification_configuration(Bucket=BUCKET)
        notif.pop("ResponseMetadata")
        return (queues, group["AutoScalingGroups"], lt["LatestVersionNumber"], lt["CreateTime"],
                param["Version"], notif)

    def check_resources(self):
        sqs, ddb, s3 = self.client("sqs"), self.client("dynamodb"), self.client("s3")
        for name in NAMES:
            self.url(name)
        table = ddb.describe_table(TableName=STACK + "-job-monitoring")["Table"]
        self.assertEqual(table["KeySchema"], [{"AttributeName": "job_id", "KeyType": "HASH"}])
        self.assertEqual(table["TableStatus"], "ACTIVE")
        s3.head_bucket(Bucket=BUCKET)
        arn = sqs.get_queue_attributes(QueueUrl=self.url(STACK + "-s3-events"),
                                       AttributeNames=["QueueArn", "Policy"])["Attributes"]
        policy = json.loads(arn["Policy"])["Statement"][0]
        self.assertEqual((policy["Principal"], policy["Action"], policy["Resource"]),
                         ({"Service": "s3.amazonaws.com"}, "sqs:SendMessage", arn["QueueArn"]))
        self.assertEqual(policy["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:aws:s3:::" + BUCKET)
        conf = s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
        self.assertEqual(len(conf), 1)
        self.assertEqual((conf[0]["QueueArn"], conf[0]["Events"], conf[0]["Filter"]["Key"]["FilterRules"]),
                         (arn["QueueArn"], ["s3:ObjectCreated:*"], [{"Name": "suffix", "Value": ".sh"}]))
        data = self.client("ec2").describe_launch_template_versions(
            LaunchTemplateName=STACK + "-launch-template")["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        self.assertEqual(data["ImageId"], "ami-0d55e0000000000a1")  # from AWS's public AMI parameter
        self.assertEqual(data["TagSpecifications"], [{"ResourceType": "instance", "Tags": [
            {"Key": STACK, "Value": STACK + "-job-queue"}]}])
        g = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[STACK + "-autoscaling-group"])["AutoScalingGroups"][0]
        self.assertEqual((g["MinSize"], g["MaxSize"], g["DesiredCapacity"]), (0, 3, 0))
        mixed = g["MixedInstancesPolicy"]
        self.assertEqual([o["InstanceType"] for o in mixed["LaunchTemplate"]["Overrides"]], ["t3.large", "t3.medium"])
        self.assertEqual(mixed["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateName"],
                         STACK + "-launch-template")
        dist = mixed["InstancesDistribution"]
        self.assertEqual((dist["OnDemandPercentageAboveBaseCapacity"], dist["SpotAllocationStrategy"]),
                         (0, "lowest-price"))
        value = self.client("ssm").get_parameter(Name="/dss/%s/automation" % STACK)["Parameter"]["Value"]
        self.assertEqual(value, '{"version":1,"bucket":"prov-jobs","events_queue":"prov-s3-events",'
                                '"trigger_suffix":".sh","retry":3,"success_string":"upload:",'
                                '"working_dir":"$HOME/dss-work","command_flavour":"shell",'
                                '"group":"prov-autoscaling-group","max_instances":3}')

    def check_gone(self):
        for name in NAMES:
            with self.assertRaises(botocore.exceptions.ClientError):
                self.url(name)
        with self.assertRaises(botocore.exceptions.ClientError):
            self.client("dynamodb").describe_table(TableName=STACK + "-job-monitoring")
        with self.assertRaises(botocore.exceptions.ClientError):
            self.client("s3").head_bucket(Bucket=BUCKET)
        self.assertEqual(self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[STACK + "-autoscaling-group"])["AutoScalingGroups"], [])
        with self.assertRaises(botocore.exceptions.ClientError):
            self.client("ec2").describe_launch_templates(LaunchTemplateNames=[STACK + "-launch-template"])
        with self.assertRaises(botocore.exceptions.ClientError):
            self.client("ssm").get_parameter(Name="/dss/%s/automation" % STACK)

    def test_provision_twice_refuse_then_force(self):
        self.addCleanup(run, self.endpoint, "teardown", "--stack", STACK, "--bucket", BUCKET, "--force")
        rc, out, err = self.provision()
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 11, out)
        self.assertTrue(all(line.endswith(" created") for line in lines[:10]), out)
        self.assertEqual(lines[10], "provision: stack prov: 10 created, 0 updated, 0 already existed")
        self.check_resources()
        before = self.snapshot()

        rc, out, err = self.provision()
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertTrue(all(line.endswith(" exists") for line in lines[:10]), out)
        self.assertEqual(lines[10], "provision: stack prov: 0 created, 0 updated, 10 already existed")
        self.assertEqual(self.snapshot(), before)

        # New settings: only the parameter changes, as a new version.
        rc, out, err = self.provision("--retry", "5")
        self.assertEqual(rc, 0, err)
        self.assertIn("parameter          /dss/prov/automation", out)
        self.assertIn("0 created, 1 updated, 9 already existed", out)
        param = self.client("ssm").get_parameter(Name="/dss/prov/automation")["Parameter"]
        self.assertEqual((param["Version"], json.loads(param["Value"])["retry"]), (2, 5))

        # Not empty: a message, an object and an instance. Refused, nothing deleted.
        self.client("sqs").send_message(QueueUrl=self.url(STACK + "-job-queue-failed"), MessageBody="{}")
        self.client("s3").put_object(Bucket=BUCKET, Key="jobs/a/input.txt", Body=b"x")
        self.client("autoscaling").set_desired_capacity(AutoScalingGroupName=STACK + "-autoscaling-group",
                                                        DesiredCapacity=1)
        asg = self.client("autoscaling")
        self.assertTrue(dsstest.wait_until(lambda: asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[STACK + "-autoscaling-group"])["AutoScalingGroups"][0]["Instances"], timeout=60))
        rc, out, err = run(self.endpoint, "teardown", "--stack", STACK)
        self.assertEqual(rc, 1, out)
        self.assertIn("queue prov-job-queue-failed holds 1 message", err)
        self.assertIn("bucket prov-jobs: BucketNotEmpty", err)
        self.assertIn("auto scaling group prov-autoscaling-group: ResourceInUse", err)
        self.assertIn("nothing was deleted", err)
        self.assertEqual(out, "")
        self.check_resources_after_refusal()

        # --force: everything goes, the bucket named by the settings parameter.
        rc, out, err = run(self.endpoint, "teardown", "--stack", STACK, "--force")
        self.assertEqual(rc, 0, err)
        self.assertIn("bucket             prov-jobs                                    deleted (1 object)", out)
        self.assertIn("teardown: stack prov: 10 deleted, 0 absent", out)
        self.check_gone()
        port = self.emulator.port
        self.assertTrue(dsstest.wait_until(lambda: not ec2util.processes_of(port), timeout=60, interval=0.5),
                        "worker processes left: %s" % ec2util.processes_of(port))
        rc, out, err = run(self.endpoint, "teardown", "--stack", STACK, "--bucket", BUCKET)
        self.assertEqual(rc, 0, err)
        self.assertIn("teardown: stack prov: 0 deleted, 10 absent", out)

    def check_resources_after_refusal(self):
        for name in NAMES:
            self.url(name)
        self.client("s3").head_bucket(Bucket=BUCKET)
        self.client("ssm").get_parameter(Name="/dss/%s/automation" % STACK)
        self.client("dynamodb").describe_table(TableName=STACK + "-job-monitoring")


if __name__ == "__main__":
    unittest.main()
