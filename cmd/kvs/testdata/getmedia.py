"""Reads fragments back with boto3's own clients (kinesis-video-archived-media and
kinesis-video-media) and writes the MKV payloads to files.

Usage: getmedia.py ENDPOINT REGION STREAM OUT_DIR [--start-epoch S]
Writes OUT_DIR/list.mkv (GetMediaForFragmentList of every fragment ListFragments
returns, in producer-timestamp order), OUT_DIR/getmedia.mkv (GetMedia EARLIEST),
and prints the fragment list as JSON lines.
"""
import argparse
import datetime
import json
import os

import boto3

p = argparse.ArgumentParser()
p.add_argument("endpoint")
p.add_argument("region")
p.add_argument("stream")
p.add_argument("out")
args = p.parse_args()

s = boto3.Session(region_name=args.region)
kv = s.client("kinesisvideo", endpoint_url=args.endpoint)
ep = kv.get_data_endpoint(StreamName=args.stream, APIName="LIST_FRAGMENTS")["DataEndpoint"]
am = s.client("kinesis-video-archived-media", endpoint_url=ep)
frags = []
kw = {"StreamName": args.stream, "MaxResults": 3,
      "FragmentSelector": {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {
          "StartTimestamp": datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),
          "EndTimestamp": datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)}}}
while True:
    out = am.list_fragments(**kw)
    frags += out["Fragments"]
    if not out.get("NextToken"):
        break
    kw["NextToken"] = out["NextToken"]
frags.sort(key=lambda f: f["ProducerTimestamp"])
for f in frags:
    print(json.dumps({"FragmentNumber": f["FragmentNumber"], "Size": f["FragmentSizeInBytes"],
                      "Producer": f["ProducerTimestamp"].timestamp(), "Server": f["ServerTimestamp"].timestamp(),
                      "LengthMs": f["FragmentLengthInMilliseconds"]}), flush=True)
os.makedirs(args.out, exist_ok=True)
if frags:
    resp = am.get_media_for_fragment_list(StreamName=args.stream, Fragments=[f["FragmentNumber"] for f in frags])
    with open(os.path.join(args.out, "list.mkv"), "wb") as fh:
        fh.write(resp["Payload"].read())
ep = kv.get_data_endpoint(StreamName=args.stream, APIName="GET_MEDIA")["DataEndpoint"]
media = s.client("kinesis-video-media", endpoint_url=ep)
resp = media.get_media(StreamName=args.stream, StartSelector={"StartSelectorType": "EARLIEST"})
with open(os.path.join(args.out, "getmedia.mkv"), "wb") as fh:
    fh.write(resp["Payload"].read())
