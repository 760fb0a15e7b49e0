"""Calls every operation of botocore's kinesisvideo model against kvs serve.

Usage: allops.py ENDPOINT_URL REGION
Credentials come from AWS_SHARED_CREDENTIALS_FILE.

The table EXAMPLES holds a valid input for each operation name. An operation
of the installed botocore model without an entry is a failure, so an
operation added by a newer botocore cannot go unnoticed; so is any call that
fails with a valid input (UnknownOperationException among them). Round trips
(update, then describe returns what was set) and invalid inputs of each
family of operations are checked after. Exits non-zero on the first failure;
prints one line per check.
"""
import sys

import boto3
import botocore.config
import botocore.exceptions
from botocore import xform_name

endpoint, region = sys.argv[1], sys.argv[2]
kv = boto3.client("kinesisvideo", endpoint_url=endpoint, region_name=region)
# For inputs that botocore itself refuses before sending (below a minimum,
# a missing required member): the endpoint must refuse them too.
raw = boto3.client("kinesisvideo", endpoint_url=endpoint, region_name=region,
                   config=botocore.config.Config(parameter_validation=False))
model = kv.meta.service_model


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        sys.exit(1)
    print("ok:", what, flush=True)


def call(client, op, **kw):
    return getattr(client, xform_name(op))(**kw)


def expect_error(code, op, field=None, client=kv, **kw):
    """Calls op and checks it fails with code; an InvalidArgumentException
    message must name the offending member."""
    try:
        call(client, op, **kw)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        msg = e.response["Error"].get("Message", "")
        check(got == code, f"{op} -> {code} (got {got}: {msg})")
        if field:
            check(field in msg, f"{op} error names {field}: {msg}")
        return e
    check(False, f"{op} with {kw} should fail with {code}")


STREAM = "ops-stream"
CHANNEL = "ops-chan"
ACCOUNT = "123456789012"
HUB = f"arn:aws:iot:{region}:{ACCOUNT}:thing/ops-hub"
SECRET = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:ops-camera-uri"

state = {}


def stream_arn():
    return kv.describe_stream(StreamName=STREAM)["StreamInfo"]["StreamARN"]


def stream_version(name=STREAM):
    return kv.describe_stream(StreamName=name)["StreamInfo"]["Version"]


def channel_arn(name=CHANNEL):
    return kv.describe_signaling_channel(ChannelName=name)["ChannelInfo"]["ChannelARN"]


def channel_version(name=CHANNEL):
    return kv.describe_signaling_channel(ChannelName=name)["ChannelInfo"]["Version"]


IMAGES = {
    "Status": "ENABLED", "ImageSelectorType": "PRODUCER_TIMESTAMP",
    "DestinationConfig": {"Uri": "s3://ops-bucket/images", "DestinationRegion": region},
    "SamplingInterval": 3000, "Format": "JPEG", "FormatConfig": {"JPEGQuality": "80"},
    "WidthPixels": 640, "HeightPixels": 480,
}
NOTIFY = {"Status": "ENABLED",
          "DestinationConfig": {"Uri": f"arn:aws:sns:{region}:{ACCOUNT}:ops-topic"}}
EDGE = {
    "HubDeviceArn": HUB,
    "RecorderConfig": {
        "MediaSourceConfig": {"MediaUriSecretArn": SECRET, "MediaUriType": "RTSP_URI"},
        "ScheduleConfig": {"ScheduleExpression": "0 0/5 * * * ?", "DurationInSeconds": 300},
    },
    "UploaderConfig": {"ScheduleConfig": {"ScheduleExpression": "0 0 * * * ?", "DurationInSeconds": 600}},
    "DeletionConfig": {"EdgeRetentionInHours": 48,
                       "LocalSizeConfig": {"MaxLocalMediaSizeInMB": 1024, "StrategyOnFullSize": "DELETE_OLDEST_MEDIA"},
                       "DeleteAfterUpload": True},
}

# A valid input for every operation, called in this order. Each value is a
# function returning the keyword arguments, evaluated just before the call.
EXAMPLES = [
    ("CreateStream", lambda: dict(StreamName=STREAM, DataRetentionInHours=24, MediaType="video/h264",
                                  DeviceName="ops-cam", KmsKeyId="alias/ops-key", Tags={"team": "ops"},
                                  StreamStorageConfiguration={"DefaultStorageTier": "HOT"})),
    ("DescribeStream", lambda: dict(StreamName=STREAM)),
    ("ListStreams", lambda: dict(MaxResults=10)),
    ("UpdateStream", lambda: dict(StreamName=STREAM, CurrentVersion=stream_version(), MediaType="video/h265")),
    ("UpdateDataRetention", lambda: dict(StreamName=STREAM, CurrentVersion=stream_version(),
                                         Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=1)),
    ("TagStream", lambda: dict(StreamName=STREAM, Tags={"site": "lab"})),
    ("UntagStream", lambda: dict(StreamName=STREAM, TagKeyList=["site"])),
    ("ListTagsForStream", lambda: dict(StreamName=STREAM)),
    ("GetDataEndpoint", lambda: dict(StreamName=STREAM, APIName="PUT_MEDIA")),
    ("DescribeStreamStorageConfiguration", lambda: dict(StreamName=STREAM)),
    ("UpdateStreamStorageConfiguration", lambda: dict(StreamName=STREAM, CurrentVersion=stream_version(),
                                                      StreamStorageConfiguration={"DefaultStorageTier": "WARM"})),
    ("UpdateImageGenerationConfiguration", lambda: dict(StreamName=STREAM, ImageGenerationConfiguration=IMAGES)),
    ("DescribeImageGenerationConfiguration", lambda: dict(StreamName=STREAM)),
    ("UpdateNotificationConfiguration", lambda: dict(StreamARN=stream_arn(), NotificationConfiguration=NOTIFY)),
    ("DescribeNotificationConfiguration", lambda: dict(StreamARN=stream_arn())),
    ("StartEdgeConfigurationUpdate", lambda: dict(StreamName=STREAM, EdgeConfig=EDGE)),
    ("DescribeEdgeConfiguration", lambda: dict(StreamName=STREAM)),
    ("ListEdgeAgentConfigurations", lambda: dict(HubDeviceArn=HUB, MaxResults=5)),
    ("DeleteEdgeConfiguration", lambda: dict(StreamName=STREAM)),
    ("CreateSignalingChannel", lambda: dict(ChannelName=CHANNEL, ChannelType="SINGLE_MASTER",
                                            SingleMasterConfiguration={"MessageTtlSeconds": 30},
                                            Tags=[{"Key": "team", "Value": "ops"}])),
    ("DescribeSignalingChannel", lambda: dict(ChannelName=CHANNEL)),
    ("ListSignalingChannels", lambda: dict(MaxResults=10)),
    ("UpdateSignalingChannel", lambda: dict(ChannelARN=channel_arn(), CurrentVersion=channel_version(),
                                            SingleMasterConfiguration={"MessageTtlSeconds": 60})),
    ("GetSignalingChannelEndpoint", lambda: dict(ChannelARN=channel_arn(), SingleMasterChannelEndpointConfiguration={
        "Protocols": ["WSS", "HTTPS"], "Role": "MASTER"})),
    ("TagResource", lambda: dict(ResourceARN=channel_arn(), Tags=[{"Key": "site", "Value": "lab"}])),
    ("UntagResource", lambda: dict(ResourceARN=channel_arn(), TagKeyList=["site"])),
    ("ListTagsForResource", lambda: dict(ResourceARN=channel_arn())),
    ("UpdateMediaStorageConfiguration", lambda: dict(ChannelARN=channel_arn(), MediaStorageConfiguration={
        "StreamARN": stream_arn(), "Status": "ENABLED"})),
    ("DescribeMediaStorageConfiguration", lambda: dict(ChannelName=CHANNEL)),
    ("DescribeMappedResourceConfiguration", lambda: dict(StreamName=STREAM, MaxResults=1)),
    ("DeleteSignalingChannel", lambda: dict(ChannelARN=channel_arn())),
    ("DeleteStream", lambda: dict(StreamARN=stream_arn(), CurrentVersion=stream_version())),
]

names = [op for op, _ in EXAMPLES]
check(len(names) == len(set(names)), "the table names each operation once")
missing = sorted(set(model.operation_names) - set(names))
check(not missing, f"every operation of the kinesisvideo model has an example input (missing: {missing})")
extra = sorted(set(names) - set(model.operation_names))
if extra:
    print("note: operations in the table but not in this botocore model:", extra, flush=True)

responses = {}
for op, args in EXAMPLES:
    if op not in model.operation_names:
        continue
    kw = args()
    try:
        out = call(kv, op, **kw)
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        check(False, f"{op}: {err.get('Code')}: {err.get('Message')}")
    out.pop("ResponseMetadata", None)
    responses[op] = (kw, out)
    check(True, f"{op} answers ({sorted(out)})")


# ---- round trips, from what the calls above answered ----

def strip(d):
    return {k: v for k, v in d.items() if k != "ResponseMetadata"}


check(responses["DescribeStreamStorageConfiguration"][1]["StreamStorageConfiguration"] == {"DefaultStorageTier": "HOT"},
      "CreateStream keeps StreamStorageConfiguration HOT")
check(responses["DescribeImageGenerationConfiguration"][1]["ImageGenerationConfiguration"] == IMAGES,
      "image generation configuration round trip")
check(responses["DescribeNotificationConfiguration"][1]["NotificationConfiguration"] == NOTIFY,
      "notification configuration round trip")
started = responses["StartEdgeConfigurationUpdate"][1]
described = responses["DescribeEdgeConfiguration"][1]
check(started["EdgeConfig"] == EDGE and described["EdgeConfig"] == EDGE, "edge configuration round trip")
check(described["SyncStatus"] == "SYNC_FAILED" and "Edge Agent" in described.get("FailedStatusDetails", ""),
      f"edge configuration cannot sync without an Edge Agent: {described['SyncStatus']} {described.get('FailedStatusDetails')}")
check(hasattr(described["CreationTime"], "year") and hasattr(described["LastUpdatedTime"], "year"),
      "edge configuration times parse as timestamps")
listed = responses["ListEdgeAgentConfigurations"][1]["EdgeConfigs"]
check([c["StreamName"] for c in listed] == [STREAM] and listed[0]["EdgeConfig"] == EDGE,
      "ListEdgeAgentConfigurations lists the stream of the hub device")
check(responses["DescribeMediaStorageConfiguration"][1]["MediaStorageConfiguration"] ==
      responses["UpdateMediaStorageConfiguration"][0]["MediaStorageConfiguration"], "media storage configuration round trip")
mapped = responses["DescribeMappedResourceConfiguration"][1]["MappedResourceConfigurationList"]
check(len(mapped) == 1 and mapped[0]["ARN"] == responses["UpdateMediaStorageConfiguration"][0]["ChannelARN"],
      f"DescribeMappedResourceConfiguration names the channel storing into the stream: {mapped}")

# The stream and channel were deleted last; work on fresh ones.
kv.create_stream(StreamName=STREAM, DataRetentionInHours=1)
kv.create_stream(StreamName="ops-nostore", DataRetentionInHours=0)
kv.create_signaling_channel(ChannelName=CHANNEL)
kv.create_signaling_channel(ChannelName="ops-chan-b")
arn = stream_arn()
nostore = kv.describe_stream(StreamName="ops-nostore")["StreamInfo"]["StreamARN"]

check(kv.describe_image_generation_configuration(StreamName=STREAM).get("ImageGenerationConfiguration") is None,
      "a new stream has no image generation configuration")
check(kv.describe_notification_configuration(StreamName=STREAM).get("NotificationConfiguration") is None,
      "a new stream has no notification configuration")
check(kv.describe_media_storage_configuration(ChannelName=CHANNEL)["MediaStorageConfiguration"] == {"Status": "DISABLED"},
      "a new channel's media storage is DISABLED")
check(kv.describe_mapped_resource_configuration(StreamName=STREAM)["MappedResourceConfigurationList"] == [],
      "a new stream is mapped to no channel")

# ---- stream storage ----
ver = stream_version()
kv.update_stream_storage_configuration(StreamName=STREAM, CurrentVersion=ver,
                                       StreamStorageConfiguration={"DefaultStorageTier": "WARM"})
got = kv.describe_stream_storage_configuration(StreamARN=arn)
check(got["StreamStorageConfiguration"] == {"DefaultStorageTier": "WARM"} and got["StreamName"] == STREAM
      and got["StreamARN"] == arn, "UpdateStreamStorageConfiguration then Describe returns WARM")
check(stream_version() != ver, "UpdateStreamStorageConfiguration changes the stream version")
expect_error("VersionMismatchException", "UpdateStreamStorageConfiguration", StreamName=STREAM, CurrentVersion=ver,
             StreamStorageConfiguration={"DefaultStorageTier": "HOT"})
expect_error("InvalidArgumentException", "UpdateStreamStorageConfiguration", "DefaultStorageTier", StreamName=STREAM,
             CurrentVersion=stream_version(), StreamStorageConfiguration={"DefaultStorageTier": "COLD"})
expect_error("ResourceNotFoundException", "DescribeStreamStorageConfiguration", StreamName="ops-none")
expect_error("InvalidArgumentException", "DescribeStreamStorageConfiguration", "StreamARN", StreamARN="arn:not-a-stream")
kv.create_stream(StreamName="ops-warm", StreamStorageConfiguration={"DefaultStorageTier": "WARM"})
check(kv.describe_stream_storage_configuration(StreamName="ops-warm")["StreamStorageConfiguration"]["DefaultStorageTier"]
      == "WARM", "CreateStream keeps StreamStorageConfiguration WARM")

# ---- image generation ----
bad_images = [
    ("Status", dict(IMAGES, Status="ON"), kv),
    ("ImageSelectorType", dict(IMAGES, ImageSelectorType="NOW"), kv),
    ("Format", dict(IMAGES, Format="GIF"), kv),
    ("DestinationRegion", dict(IMAGES, DestinationConfig={"Uri": "s3://b/p", "DestinationRegion": "eu-west-9"}), kv),
    ("Uri", dict(IMAGES, DestinationConfig={"Uri": "no-scheme", "DestinationRegion": region}), kv),
    ("SamplingInterval", dict(IMAGES, SamplingInterval=100), kv),
    ("WidthPixels", dict(IMAGES, WidthPixels=4000), kv),
    ("HeightPixels", dict(IMAGES, HeightPixels=0), raw),
    ("JPEGQuality", dict(IMAGES, FormatConfig={"JPEGQuality": "101"}), kv),
    ("FormatConfig", dict(IMAGES, FormatConfig={"Quality": "80"}), raw),
]
for field, cfg, client in bad_images:
    expect_error("InvalidArgumentException", "UpdateImageGenerationConfiguration", field, client=client,
                 StreamName=STREAM, ImageGenerationConfiguration=cfg)
no_sampling = {k: v for k, v in IMAGES.items() if k != "SamplingInterval"}
expect_error("InvalidArgumentException", "UpdateImageGenerationConfiguration", "SamplingInterval", client=raw,
             StreamName=STREAM, ImageGenerationConfiguration=no_sampling)
check(kv.describe_image_generation_configuration(StreamName=STREAM).get("ImageGenerationConfiguration") is None,
      "refused image generation configurations are not stored")
expect_error("NoDataRetentionException", "UpdateImageGenerationConfiguration", StreamName="ops-nostore",
             ImageGenerationConfiguration=IMAGES)
disabled = dict(IMAGES, Status="DISABLED")
kv.update_image_generation_configuration(StreamARN=nostore, ImageGenerationConfiguration=disabled)
check(kv.describe_image_generation_configuration(StreamARN=nostore)["ImageGenerationConfiguration"] == disabled,
      "a DISABLED image generation configuration is stored on a stream without retention")
kv.update_image_generation_configuration(StreamARN=nostore)
check(kv.describe_image_generation_configuration(StreamARN=nostore).get("ImageGenerationConfiguration") is None,
      "UpdateImageGenerationConfiguration without a configuration removes it")
expect_error("ResourceNotFoundException", "UpdateImageGenerationConfiguration", StreamName="ops-none",
             ImageGenerationConfiguration=IMAGES)
expect_error("ResourceNotFoundException", "DescribeImageGenerationConfiguration", StreamName="ops-none")

# ---- notifications ----
expect_error("InvalidArgumentException", "UpdateNotificationConfiguration", "Status", StreamName=STREAM,
             NotificationConfiguration=dict(NOTIFY, Status="YES"))
expect_error("InvalidArgumentException", "UpdateNotificationConfiguration", "Uri", StreamName=STREAM,
             NotificationConfiguration={"Status": "ENABLED", "DestinationConfig": {"Uri": "x" * 256}})
expect_error("InvalidArgumentException", "UpdateNotificationConfiguration", "DestinationConfig", client=raw,
             StreamName=STREAM, NotificationConfiguration={"Status": "ENABLED"})
expect_error("NoDataRetentionException", "UpdateNotificationConfiguration", StreamName="ops-nostore",
             NotificationConfiguration=NOTIFY)
expect_error("ResourceNotFoundException", "DescribeNotificationConfiguration", StreamName="ops-none")

# ---- media storage and mapping ----
carn, carn_b = channel_arn(), channel_arn("ops-chan-b")
expect_error("InvalidArgumentException", "UpdateMediaStorageConfiguration", "Status", ChannelARN=carn,
             MediaStorageConfiguration={"StreamARN": arn, "Status": "ON"})
expect_error("InvalidArgumentException", "UpdateMediaStorageConfiguration", "StreamARN", ChannelARN=carn,
             MediaStorageConfiguration={"Status": "ENABLED"})
expect_error("NoDataRetentionException", "UpdateMediaStorageConfiguration", ChannelARN=carn,
             MediaStorageConfiguration={"StreamARN": nostore, "Status": "ENABLED"})
expect_error("ResourceNotFoundException", "UpdateMediaStorageConfiguration", ChannelARN=carn,
             MediaStorageConfiguration={"StreamARN": arn.replace(STREAM, "ops-none"), "Status": "ENABLED"})
expect_error("ResourceNotFoundException", "UpdateMediaStorageConfiguration",
             ChannelARN=carn.replace(CHANNEL, "ops-none"), MediaStorageConfiguration={"Status": "DISABLED"})
kv.update_media_storage_configuration(ChannelARN=carn, MediaStorageConfiguration={"StreamARN": arn, "Status": "ENABLED"})
check(kv.describe_mapped_resource_configuration(StreamARN=arn)["MappedResourceConfigurationList"] ==
      [{"Type": "SIGNALING_CHANNEL", "ARN": carn}], "the stream is mapped to the channel")
expect_error("ResourceInUseException", "UpdateMediaStorageConfiguration", ChannelARN=carn_b,
             MediaStorageConfiguration={"StreamARN": arn, "Status": "ENABLED"})
kv.update_media_storage_configuration(ChannelARN=carn, MediaStorageConfiguration={"Status": "DISABLED"})
check(kv.describe_media_storage_configuration(ChannelARN=carn)["MediaStorageConfiguration"] == {"Status": "DISABLED"},
      "media storage DISABLED round trip")
check(kv.describe_mapped_resource_configuration(StreamName=STREAM)["MappedResourceConfigurationList"] == [],
      "a DISABLED media storage maps no stream")
kv.update_media_storage_configuration(ChannelARN=carn_b, MediaStorageConfiguration={"StreamARN": arn, "Status": "ENABLED"})
check(kv.describe_mapped_resource_configuration(StreamName=STREAM)["MappedResourceConfigurationList"][0]["ARN"] == carn_b,
      "the stream, freed, maps to another channel")
expect_error("InvalidArgumentException", "DescribeMappedResourceConfiguration", "MaxResults", StreamName=STREAM,
             MaxResults=2)
expect_error("ResourceNotFoundException", "DescribeMappedResourceConfiguration", StreamName="ops-none")
expect_error("ResourceNotFoundException", "DescribeMediaStorageConfiguration", ChannelName="ops-none")

# ---- edge configuration ----
expect_error("StreamEdgeConfigurationNotFoundException", "DescribeEdgeConfiguration", StreamName=STREAM)
expect_error("StreamEdgeConfigurationNotFoundException", "DeleteEdgeConfiguration", StreamName=STREAM)
bad_edge = [
    ("HubDeviceArn", dict(EDGE, HubDeviceArn="arn:aws:iot:us-east-1:1:device/x"), kv),
    ("MediaUriType", dict(EDGE, RecorderConfig={"MediaSourceConfig": {"MediaUriSecretArn": SECRET,
                                                                      "MediaUriType": "HTTP_URI"}}), kv),
    ("MediaUriSecretArn", dict(EDGE, RecorderConfig={"MediaSourceConfig": {
        "MediaUriSecretArn": "arn:aws:s3:::bucket/not-a-secret", "MediaUriType": "RTSP_URI"}}), kv),
    ("DurationInSeconds", dict(EDGE, UploaderConfig={"ScheduleConfig": {"ScheduleExpression": "0 0 * * * ?",
                                                                         "DurationInSeconds": 10}}), raw),
    ("ScheduleExpression", dict(EDGE, UploaderConfig={"ScheduleConfig": {"ScheduleExpression": "0 0 * * * ?\n0",
                                                                          "DurationInSeconds": 60}}), kv),
    ("EdgeRetentionInHours", dict(EDGE, DeletionConfig={"EdgeRetentionInHours": 721}), kv),
    ("StrategyOnFullSize", dict(EDGE, DeletionConfig={"LocalSizeConfig": {"StrategyOnFullSize": "KEEP"}}), kv),
    ("RecorderConfig", {"HubDeviceArn": HUB}, raw),
]
for field, cfg, client in bad_edge:
    expect_error("InvalidArgumentException", "StartEdgeConfigurationUpdate", field, client=client,
                 StreamName=STREAM, EdgeConfig=cfg)
expect_error("StreamEdgeConfigurationNotFoundException", "DescribeEdgeConfiguration", StreamName=STREAM)
expect_error("NoDataRetentionException", "StartEdgeConfigurationUpdate", StreamName="ops-nostore", EdgeConfig=EDGE)
expect_error("ResourceNotFoundException", "StartEdgeConfigurationUpdate", StreamName="ops-none", EdgeConfig=EDGE)
first = kv.start_edge_configuration_update(StreamARN=arn, EdgeConfig=EDGE)
second_cfg = dict(EDGE, DeletionConfig={"EdgeRetentionInHours": 24})
second = kv.start_edge_configuration_update(StreamARN=arn, EdgeConfig=second_cfg)
got = kv.describe_edge_configuration(StreamARN=arn)
check(got["EdgeConfig"] == second_cfg and got["CreationTime"] == first["CreationTime"]
      and got["StreamName"] == STREAM and got["StreamARN"] == arn, "a second update replaces the edge configuration")
expect_error("InvalidArgumentException", "StartEdgeConfigurationUpdate", "HubDeviceArn", StreamARN=arn,
             EdgeConfig=dict(EDGE, HubDeviceArn=HUB + "-other"))
check(kv.list_edge_agent_configurations(HubDeviceArn=HUB + "-other")["EdgeConfigs"] == [],
      "ListEdgeAgentConfigurations of another hub device is empty")
kv.create_stream(StreamName="ops-edge-2", DataRetentionInHours=1)
kv.start_edge_configuration_update(StreamName="ops-edge-2", EdgeConfig=EDGE)
page1 = kv.list_edge_agent_configurations(HubDeviceArn=HUB, MaxResults=1)
page2 = kv.list_edge_agent_configurations(HubDeviceArn=HUB, MaxResults=1, NextToken=page1["NextToken"])
check([c["StreamName"] for c in page1["EdgeConfigs"] + page2["EdgeConfigs"]] == ["ops-edge-2", STREAM]
      and "NextToken" not in page2, "ListEdgeAgentConfigurations pages")
expect_error("InvalidArgumentException", "ListEdgeAgentConfigurations", "MaxResults", HubDeviceArn=HUB, MaxResults=11)
expect_error("InvalidArgumentException", "ListEdgeAgentConfigurations", "HubDeviceArn", HubDeviceArn="arn:aws:iot:x")
kv.delete_edge_configuration(StreamName=STREAM)
expect_error("StreamEdgeConfigurationNotFoundException", "DescribeEdgeConfiguration", StreamName=STREAM)

# ---- CreateStream validates what it accepts ----
bad_creates = [
    ("MediaType", dict(MediaType="video"), kv),
    ("MediaType", dict(MediaType="video/" + "x" * 130), kv),
    ("KmsKeyId", dict(KmsKeyId="k" * 2049), kv),
    ("DeviceName", dict(DeviceName="bad device"), kv),
    ("DataRetentionInHours", dict(DataRetentionInHours=-1), raw),
    ("DataRetentionInHours", dict(DataRetentionInHours=87601), kv),
    ("Tags", dict(Tags={}), raw),
    ("DefaultStorageTier", dict(StreamStorageConfiguration={"DefaultStorageTier": "COLD"}), kv),
    ("DefaultStorageTier", dict(StreamStorageConfiguration={}), raw),
]
for field, kw, client in bad_creates:
    expect_error("InvalidArgumentException", "CreateStream", field, client=client, StreamName="ops-bad", **kw)
expect_error("ResourceNotFoundException", "DescribeStream", StreamName="ops-bad")
print("allops: all checks passed", flush=True)
