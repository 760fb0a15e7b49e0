"""Drives every control-plane operation of a kvs serve endpoint with boto3.

Usage: controlplane.py ENDPOINT_URL REGION
Credentials come from AWS_SHARED_CREDENTIALS_FILE. Exits non-zero on the first
mismatch; prints one line per checked operation.
"""
import sys

import boto3
import botocore.exceptions

endpoint, region = sys.argv[1], sys.argv[2]
kv = boto3.client("kinesisvideo", endpoint_url=endpoint, region_name=region)


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        sys.exit(1)
    print("ok:", what, flush=True)


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{fn.__name__} -> {code} (got {got}: {e.response['Error'].get('Message')})")
        return e
    check(False, f"{fn.__name__} should fail with {code}")


# Streams.
arn = kv.create_stream(StreamName="cp-one", DataRetentionInHours=2, MediaType="video/h264",
                       DeviceName="cam-1", Tags={"team": "video", "site": "lab"})["StreamARN"]
check(arn.startswith(f"arn:aws:kinesisvideo:{region}:") and ":stream/cp-one/" in arn, "create_stream ARN " + arn)
info = kv.describe_stream(StreamName="cp-one")["StreamInfo"]
check(info["StreamARN"] == arn and info["Status"] == "ACTIVE" and info["DataRetentionInHours"] == 2
      and info["MediaType"] == "video/h264" and info["DeviceName"] == "cam-1", "describe_stream by name")
check(hasattr(info["CreationTime"], "year"), "CreationTime parses as a timestamp")
check(kv.describe_stream(StreamARN=arn)["StreamInfo"]["StreamName"] == "cp-one", "describe_stream by ARN")
expect_error("ResourceInUseException", kv.create_stream, StreamName="cp-one")
expect_error("ResourceNotFoundException", kv.describe_stream, StreamName="no-such-stream")
expect_error("InvalidArgumentException", kv.describe_stream, StreamName="cp-one", StreamARN=arn)

for i in range(5):
    kv.create_stream(StreamName=f"page-{i:02d}")
names = []
token = None
while True:
    kw = {"MaxResults": 2, "StreamNameCondition": {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "page-"}}
    if token:
        kw["NextToken"] = token
    out = kv.list_streams(**kw)
    names += [s["StreamName"] for s in out["StreamInfoList"]]
    token = out.get("NextToken")
    if not token:
        break
check(names == [f"page-{i:02d}" for i in range(5)], f"list_streams pagination with name condition: {names}")
pager = kv.get_paginator("list_streams")
all_names = [s["StreamName"] for p in pager.paginate(PaginationConfig={"PageSize": 3}) for s in p["StreamInfoList"]]
check(sorted(all_names) == sorted(["cp-one"] + [f"page-{i:02d}" for i in range(5)]), "list_streams paginator")

ver = info["Version"]
kv.update_stream(StreamName="cp-one", CurrentVersion=ver, MediaType="video/h265")
info2 = kv.describe_stream(StreamName="cp-one")["StreamInfo"]
check(info2["MediaType"] == "video/h265" and info2["Version"] != ver, "update_stream changes media type and version")
expect_error("VersionMismatchException", kv.update_stream, StreamName="cp-one", CurrentVersion=ver, MediaType="video/h264")

kv.update_data_retention(StreamName="cp-one", CurrentVersion=info2["Version"],
                         Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=10)
info3 = kv.describe_stream(StreamName="cp-one")["StreamInfo"]
check(info3["DataRetentionInHours"] == 12, "update_data_retention increase")
expect_error("InvalidArgumentException", kv.update_data_retention, StreamName="cp-one",
             CurrentVersion=info3["Version"], Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=100)

kv.tag_stream(StreamARN=arn, Tags={"env": "test"})
check(kv.list_tags_for_stream(StreamName="cp-one")["Tags"] == {"team": "video", "site": "lab", "env": "test"},
      "tag_stream + list_tags_for_stream")
kv.untag_stream(StreamName="cp-one", TagKeyList=["site"])
check(kv.list_tags_for_stream(StreamARN=arn)["Tags"] == {"team": "video", "env": "test"}, "untag_stream")
kv.tag_resource(ResourceARN=arn, Tags=[{"Key": "via", "Value": "resource"}])
check(kv.list_tags_for_resource(ResourceARN=arn)["Tags"]["via"] == "resource", "tag_resource on a stream")

apis = ["PUT_MEDIA", "GET_MEDIA", "LIST_FRAGMENTS", "GET_MEDIA_FOR_FRAGMENT_LIST", "GET_HLS_STREAMING_SESSION_URL",
        "GET_DASH_STREAMING_SESSION_URL", "GET_CLIP", "GET_IMAGES"]
for api in apis:
    ep = kv.get_data_endpoint(StreamName="cp-one", APIName=api)["DataEndpoint"]
    check(ep.rstrip("/") == endpoint.rstrip("/"), f"get_data_endpoint {api} -> {ep}")
expect_error("ResourceNotFoundException", kv.get_data_endpoint, StreamName="nope", APIName="PUT_MEDIA")

expect_error("VersionMismatchException", kv.delete_stream, StreamARN=arn, CurrentVersion="stale")
kv.delete_stream(StreamARN=arn)
expect_error("ResourceNotFoundException", kv.describe_stream, StreamName="cp-one")
expect_error("ResourceNotFoundException", kv.delete_stream, StreamARN=arn)
expect_error("InvalidArgumentException", kv.create_stream, StreamName="bad name!")

# Signaling channels.
carn = kv.create_signaling_channel(ChannelName="cp-chan", ChannelType="SINGLE_MASTER",
                                   SingleMasterConfiguration={"MessageTtlSeconds": 30},
                                   Tags=[{"Key": "k1", "Value": "v1"}])["ChannelARN"]
check(":channel/cp-chan/" in carn, "create_signaling_channel ARN " + carn)
cinfo = kv.describe_signaling_channel(ChannelName="cp-chan")["ChannelInfo"]
check(cinfo["ChannelARN"] == carn and cinfo["ChannelStatus"] == "ACTIVE"
      and cinfo["SingleMasterConfiguration"]["MessageTtlSeconds"] == 30, "describe_signaling_channel")
check(kv.describe_signaling_channel(ChannelARN=carn)["ChannelInfo"]["ChannelName"] == "cp-chan", "describe by ARN")
expect_error("ResourceInUseException", kv.create_signaling_channel, ChannelName="cp-chan")
expect_error("ResourceNotFoundException", kv.describe_signaling_channel, ChannelName="nope")
kv.create_signaling_channel(ChannelName="cp-chan-2")
chans = kv.list_signaling_channels(ChannelNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cp-"})
check([c["ChannelName"] for c in chans["ChannelInfoList"]] == ["cp-chan", "cp-chan-2"], "list_signaling_channels")
first = kv.list_signaling_channels(MaxResults=1)
check(len(first["ChannelInfoList"]) == 1 and "NextToken" in first, "list_signaling_channels page 1")
second = kv.list_signaling_channels(MaxResults=1, NextToken=first["NextToken"])
check(second["ChannelInfoList"][0]["ChannelName"] == "cp-chan-2", "list_signaling_channels page 2")
kv.update_signaling_channel(ChannelARN=carn, CurrentVersion=cinfo["Version"],
                            SingleMasterConfiguration={"MessageTtlSeconds": 90})
cinfo2 = kv.describe_signaling_channel(ChannelARN=carn)["ChannelInfo"]
check(cinfo2["SingleMasterConfiguration"]["MessageTtlSeconds"] == 90, "update_signaling_channel")
expect_error("VersionMismatchException", kv.update_signaling_channel, ChannelARN=carn,
             CurrentVersion=cinfo["Version"], SingleMasterConfiguration={"MessageTtlSeconds": 10})
expect_error("InvalidArgumentException", kv.update_signaling_channel, ChannelARN=carn,
             CurrentVersion=cinfo2["Version"], SingleMasterConfiguration={"MessageTtlSeconds": 500})
kv.tag_resource(ResourceARN=carn, Tags=[{"Key": "k2", "Value": "v2"}])
check(kv.list_tags_for_resource(ResourceARN=carn)["Tags"] == {"k1": "v1", "k2": "v2"}, "tag_resource on a channel")
kv.untag_resource(ResourceARN=carn, TagKeyList=["k1"])
check(kv.list_tags_for_resource(ResourceARN=carn)["Tags"] == {"k2": "v2"}, "untag_resource")
eps = kv.get_signaling_channel_endpoint(ChannelARN=carn, SingleMasterChannelEndpointConfiguration={
    "Protocols": ["WSS", "HTTPS"], "Role": "MASTER"})["ResourceEndpointList"]
check({e["Protocol"] for e in eps} == {"WSS", "HTTPS"}, "get_signaling_channel_endpoint")
kv.delete_signaling_channel(ChannelARN=carn)
expect_error("ResourceNotFoundException", kv.describe_signaling_channel, ChannelARN=carn)
expect_error("ResourceNotFoundException", kv.list_tags_for_resource, ResourceARN=carn)
print("controlplane: all checks passed", flush=True)
