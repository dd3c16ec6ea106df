"""EC2 over the EC2 Query protocol: boto3 (both versions) and the AWS CLI v2 against dss."""
import json
import os
import re
import unittest

import botocore.exceptions

from dsstest import Emulator, client, wait_until
from ec2util import InstancesTestCase, alive

AMI = "ami-0abcdef1234567890"


class EC2Test(InstancesTestCase):
    def setUp(self):
        self.ec2 = self.client("ec2")

    def error_code(self, fn, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kw)
        return cm.exception.response["Error"]["Code"], cm.exception.response["ResponseMetadata"]["HTTPStatusCode"]

    def test_lifecycle_with_waiters(self):
        r = self.ec2.run_instances(ImageId=AMI, InstanceType="t3.small", MinCount=2, MaxCount=2,
                                   TagSpecifications=[{"ResourceType": "instance",
                                                       "Tags": [{"Key": "Name", "Value": "life"}]}])
        ids = [i["InstanceId"] for i in r["Instances"]]
        for i in ids:
            self.assertRegex(i, r"^i-[0-9a-f]{17}$")
        self.assertEqual(r["Instances"][0]["State"], {"Code": 0, "Name": "pending"})
        self.assertEqual(r["Instances"][0]["Tags"], [{"Key": "Name", "Value": "life"}])
        self.ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.2})
        self.ec2.get_waiter("instance_status_ok").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.2})
        st = self.ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
        self.assertEqual({s["InstanceStatus"]["Status"] for s in st}, {"ok"})
        pids = [self.instances()[i]["pid"] for i in ids]
        self.assertTrue(all(alive(p) for p in pids))
        t = self.ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
        self.assertEqual(t[0]["PreviousState"]["Name"], "running")
        self.assertEqual(t[0]["CurrentState"]["Name"], "shutting-down")
        self.ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.2})
        self.assertTrue(wait_until(lambda: not any(alive(p) for p in pids), timeout=5), "workers survived")
        inst = self.ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["State"]["Name"], "terminated")  # still described, as on AWS
        self.assertEqual(inst["StateReason"]["Code"], "Client.UserInitiatedShutdown")

    def test_filters_and_pagination(self):
        r = self.ec2.run_instances(ImageId=AMI, InstanceType="c5.large", MinCount=3, MaxCount=3,
                                   TagSpecifications=[{"ResourceType": "instance",
                                                       "Tags": [{"Key": "team", "Value": "filters"}]}])
        ids = [i["InstanceId"] for i in r["Instances"]]
        self.addCleanup(self.terminate_quietly, ids)
        spot = self.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="c5.large",
                                      InstanceMarketOptions={"MarketType": "spot"},
                                      TagSpecifications=[{"ResourceType": "instance",
                                                          "Tags": [{"Key": "team", "Value": "filters"}]}])
        sid = spot["Instances"][0]["InstanceId"]
        self.addCleanup(self.terminate_quietly, [sid])
        self.assertEqual(spot["Instances"][0]["InstanceLifecycle"], "spot")
        self.assertRegex(spot["Instances"][0]["SpotInstanceRequestId"], r"^sir-[0-9a-f]{8}$")

        def found(filters):
            res = self.ec2.describe_instances(Filters=filters)["Reservations"]
            return sorted(i["InstanceId"] for r in res for i in r["Instances"])

        self.assertEqual(found([{"Name": "tag:team", "Values": ["filters"]}]), sorted(ids + [sid]))
        self.assertEqual(found([{"Name": "tag:team", "Values": ["filt*"]},
                                {"Name": "instance-lifecycle", "Values": ["spot"]}]), [sid])
        self.assertEqual(found([{"Name": "instance-id", "Values": [ids[0]]}]), [ids[0]])
        self.assertEqual(found([{"Name": "tag-key", "Values": ["team"]}, {"Name": "instance-type",
                                                                          "Values": ["c5.large"]}]), sorted(ids + [sid]))
        self.assertEqual(found([{"Name": "tag:team", "Values": ["nobody"]}]), [])
        self.assertEqual(found([{"Name": "instance-state-name", "Values": ["pending", "running"]},
                                {"Name": "tag:team", "Values": ["filters"]}]), sorted(ids + [sid]))
        code, status = self.error_code(self.ec2.describe_instances, Filters=[{"Name": "bogus", "Values": ["x"]}])
        self.assertEqual((code, status), ("InvalidParameterValue", 400))
        # Pagination: every instance exactly once.
        seen = []
        for page in self.ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "tag:team", "Values": ["filters"]}], PaginationConfig={"PageSize": 5}):
            seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
        self.assertEqual(sorted(seen), sorted(ids + [sid]))
        page = self.ec2.describe_instances(MaxResults=5)
        total = sum(len(r["Instances"]) for r in page["Reservations"])
        self.assertLessEqual(total, 5)
        # Spot cannot be stopped; on-demand can.
        code, _ = self.error_code(self.ec2.stop_instances, InstanceIds=[sid])
        self.assertEqual(code, "UnsupportedOperation")
        self.assertEqual(len(self.ec2.describe_spot_instance_requests()["SpotInstanceRequests"]) >= 1, True)

    def test_errors(self):
        code, status = self.error_code(self.ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])
        self.assertEqual((code, status), ("InvalidInstanceID.NotFound", 400))
        code, _ = self.error_code(self.ec2.describe_instances, InstanceIds=["bogus"])
        self.assertEqual(code, "InvalidInstanceID.Malformed")
        code, _ = self.error_code(self.ec2.terminate_instances, InstanceIds=["i-0123456789abcdef0"])
        self.assertEqual(code, "InvalidInstanceID.NotFound")
        code, _ = self.error_code(self.ec2.run_instances, ImageId="bogus", MinCount=1, MaxCount=1)
        self.assertEqual(code, "InvalidAMIID.Malformed")
        code, _ = self.error_code(self.ec2.run_instances, ImageId=AMI, MinCount=3, MaxCount=2)
        self.assertEqual(code, "InvalidParameterValue")
        code, _ = self.error_code(self.ec2.run_instances, ImageId=AMI, InstanceType="NotAType", MinCount=1,
                                  MaxCount=1)
        self.assertEqual(code, "InvalidParameterValue")
        code, _ = self.error_code(self.ec2.run_instances, MinCount=1, MaxCount=1)
        self.assertEqual(code, "MissingParameter")
        code, _ = self.error_code(self.ec2.create_tags, Resources=["i-0123456789abcdef0"],
                                  Tags=[{"Key": "a", "Value": "b"}])
        self.assertEqual(code, "InvalidInstanceID.NotFound")
        code, _ = self.error_code(self.ec2.describe_launch_templates, LaunchTemplateNames=["nope"])
        self.assertEqual(code, "InvalidLaunchTemplateName.NotFoundException")

    def test_launch_templates_and_tags(self):
        lt = self.ec2.create_launch_template(
            LaunchTemplateName="lt-test-1",
            LaunchTemplateData={"ImageId": AMI, "InstanceType": "m5.large",
                                "TagSpecifications": [{"ResourceType": "instance",
                                                       "Tags": [{"Key": "from", "Value": "template"}]}]})
        lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
        self.assertRegex(lt_id, r"^lt-[0-9a-f]{17}$")
        code, _ = self.error_code(self.ec2.create_launch_template, LaunchTemplateName="lt-test-1",
                                  LaunchTemplateData={"ImageId": AMI})
        self.assertEqual(code, "InvalidLaunchTemplateName.AlreadyExistsException")
        v2 = self.ec2.create_launch_template_version(LaunchTemplateId=lt_id, SourceVersion="1",
                                                     LaunchTemplateData={"InstanceType": "c5.xlarge"})
        self.assertEqual(v2["LaunchTemplateVersion"]["VersionNumber"], 2)
        self.assertEqual(v2["LaunchTemplateVersion"]["LaunchTemplateData"]["ImageId"], AMI)
        d = self.ec2.describe_launch_templates(LaunchTemplateNames=["lt-test-1"])["LaunchTemplates"][0]
        self.assertEqual((d["DefaultVersionNumber"], d["LatestVersionNumber"]), (1, 2))
        r = self.ec2.run_instances(MinCount=1, MaxCount=1,
                                   LaunchTemplate={"LaunchTemplateName": "lt-test-1", "Version": "$Latest"})
        inst = r["Instances"][0]
        self.addCleanup(self.terminate_quietly, [inst["InstanceId"]])
        self.assertEqual(inst["InstanceType"], "c5.xlarge")
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        self.assertEqual(tags["from"], "template")
        self.assertEqual(tags["aws:ec2launchtemplate:id"], lt_id)
        self.ec2.create_tags(Resources=[inst["InstanceId"]], Tags=[{"Key": "extra", "Value": "1"}])
        got = self.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [inst["InstanceId"]]}])["Tags"]
        self.assertIn({"Key": "extra", "ResourceId": inst["InstanceId"], "ResourceType": "instance", "Value": "1"}, got)
        self.ec2.delete_tags(Resources=[inst["InstanceId"]], Tags=[{"Key": "extra"}])
        got = self.ec2.describe_tags(Filters=[{"Name": "key", "Values": ["extra"]}])["Tags"]
        self.assertEqual(got, [])
        self.ec2.delete_launch_template(LaunchTemplateId=lt_id)
        code, _ = self.error_code(self.ec2.describe_launch_templates, LaunchTemplateIds=[lt_id])
        self.assertEqual(code, "InvalidLaunchTemplateId.NotFound")

    def test_stop_start_and_include_all(self):
        r = self.ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1)
        iid = r["Instances"][0]["InstanceId"]
        self.addCleanup(self.terminate_quietly, [iid])
        self.ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        self.assertTrue(wait_until(lambda: self.instances()[iid].get("pid"), timeout=10))
        pid = self.instances()[iid]["pid"]
        stop = self.ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
        self.assertEqual((stop["PreviousState"]["Name"], stop["CurrentState"]["Name"]), ("running", "stopping"))
        self.ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        self.assertTrue(wait_until(lambda: not alive(pid), timeout=5), "the stopped instance's worker survived")
        # Only running instances have a status, unless IncludeAllInstances.
        self.assertEqual(self.ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"], [])
        [st] = self.ec2.describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)["InstanceStatuses"]
        self.assertEqual((st["InstanceState"]["Name"], st["InstanceStatus"]["Status"], st["SystemStatus"]["Status"]),
                         ("stopped", "not-applicable", "not-applicable"))
        code, _ = self.error_code(self.ec2.stop_instances, InstanceIds=["i-0123456789abcdef0"])
        self.assertEqual(code, "InvalidInstanceID.NotFound")
        start = self.ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
        self.assertEqual((start["PreviousState"]["Name"], start["CurrentState"]["Name"]), ("stopped", "pending"))
        self.ec2.get_waiter("instance_status_ok").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2})
        self.assertTrue(alive(self.instances()[iid]["pid"]), "no worker after StartInstances")
        self.ec2.terminate_instances(InstanceIds=[iid])
        code, _ = self.error_code(self.ec2.start_instances, InstanceIds=[iid])
        self.assertEqual(code, "IncorrectInstanceState")

    def test_launch_template_by_id_and_imds(self):
        import urllib.request
        lt_id = self.ec2.create_launch_template(
            LaunchTemplateName="lt-by-id", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.small"})[
            "LaunchTemplate"]["LaunchTemplateId"]
        self.ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={"ImageId": AMI,
                                                                                            "InstanceType": "c5.large"})
        r = self.ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"},
                                   InstanceMarketOptions={"MarketType": "spot"})
        inst = r["Instances"][0]
        iid = inst["InstanceId"]
        self.addCleanup(self.terminate_quietly, [iid])
        self.assertEqual((inst["InstanceType"], inst["InstanceLifecycle"]), ("t3.small", "spot"))
        code, _ = self.error_code(self.ec2.run_instances, MinCount=1, MaxCount=1,
                                  LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "9"})
        self.assertEqual(code, "InvalidLaunchTemplateId.VersionNotFound")
        # The instance's metadata, IMDSv2: a token, then the documents.
        imds = self.endpoint + "/_dss/imds/%s/latest/" % iid
        tok = urllib.request.urlopen(urllib.request.Request(
            imds + "api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})).read().decode()

        def get(path):
            req = urllib.request.Request(imds + path, headers={"X-aws-ec2-metadata-token": tok})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, ""
        self.assertEqual(get("meta-data/instance-id"), (200, iid))
        self.assertEqual(get("meta-data/instance-type"), (200, "t3.small"))
        self.assertEqual(get("meta-data/instance-life-cycle"), (200, "spot"))
        self.assertEqual(get("meta-data/events/recommendations/rebalance")[0], 404)
        self.assertEqual(self.ctl("/_dss/faults/rebalance", "POST", instance_id=iid)[0], 200)
        status, body = get("meta-data/events/recommendations/rebalance")
        self.assertEqual(status, 200)
        self.assertRegex(json.loads(body)["noticeTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(get("meta-data/spot/instance-action")[0], 404)  # a rebalance is no interruption
        events = [e for e in self.ctl("/_dss/events")[1]["events"] if e["type"] == "ec2.rebalance-recommendation"]
        self.assertEqual(events[-1]["detail"]["detail"]["instance-id"], iid)

    def test_minimal_describes(self):
        self.assertEqual(len(self.ec2.describe_availability_zones()["AvailabilityZones"]), 3)
        self.assertTrue(self.ec2.describe_images(ImageIds=[AMI])["Images"][0]["ImageId"] == AMI)
        types = self.ec2.describe_instance_types(InstanceTypes=["t3.micro"])["InstanceTypes"]
        self.assertEqual(types[0]["VCpuInfo"]["DefaultVCpus"], 2)

    def test_cli_v2(self):
        rc, out, err = self.aws("ec2", "run-instances", "--image-id", AMI, "--count", "1",
                                "--instance-type", "t3.micro", "--tag-specifications",
                                "ResourceType=instance,Tags=[{Key=cli,Value=yes}]")
        self.assertEqual(rc, 0, err)
        iid = json.loads(out)["Instances"][0]["InstanceId"]
        self.addCleanup(self.terminate_quietly, [iid])
        rc, out, err = self.aws("ec2", "wait", "instance-running", "--instance-ids", iid)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.aws("ec2", "describe-instances", "--filters", "Name=tag:cli,Values=yes",
                                "--query", "Reservations[].Instances[].State.Name")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), ["running"])
        rc, out, err = self.aws("ec2", "describe-instances", "--instance-ids", "i-0000000000000000f")
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidInstanceID.NotFound", err)

    def test_bad_query_input_never_crashes(self):
        import urllib.request
        for body in ("Action=DescribeInstances&Version=2016-11-15&MaxResults=abc",
                     "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:x&Filter.1.Value.99999=y",
                     "Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=1&ImageId=%00",
                     "Action=NoSuchThing&Version=2016-11-15"):
            req = urllib.request.Request(self.endpoint + "/", data=body.encode(), method="POST", headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "AWS4-HMAC-SHA256 Credential=t/20240101/us-east-1/ec2/aws4_request"})
            try:
                urllib.request.urlopen(req, timeout=10)
            except urllib.error.HTTPError as e:
                text = e.read().decode()
                self.assertEqual(e.code, 400, text)
                self.assertTrue(re.search(r"<Response><Errors><Error><Code>[A-Za-z.]+</Code>", text), text)
        self.assertEqual(self.emulator.health()[0], 200)


class SeededIdsTest(unittest.TestCase):
    """Ids come from the seed (DSS_SEED): a replayed scenario on a fresh data directory gets the
    same instance and reservation ids; another seed gets others."""

    def run_ids(self, seed):
        old = os.environ.get("DSS_SEED")
        os.environ["DSS_SEED"] = seed
        try:
            emu = Emulator().start()
        finally:
            if old is None:
                del os.environ["DSS_SEED"]
            else:
                os.environ["DSS_SEED"] = old
        self.addCleanup(emu.stop)
        ec2 = client(emu.endpoint, "ec2")
        # The default boot delay (10 s at speed 1) keeps them pending: no worker is started.
        r = ec2.run_instances(ImageId=AMI, MinCount=3, MaxCount=3)
        ids = [r["ReservationId"]] + [i["InstanceId"] for i in r["Instances"]]
        ec2.terminate_instances(InstanceIds=ids[1:])
        rc, log = emu.stop()
        self.assertEqual(rc, 0, log)
        return ids

    def test_same_seed_same_ids(self):
        first = self.run_ids("replay-42")
        self.assertEqual(len(set(first)), 4)
        self.assertEqual(self.run_ids("replay-42"), first)
        self.assertNotEqual(self.run_ids("replay-43")[1:], first[1:])


if __name__ == "__main__":
    unittest.main()
