"""Lists fragments in timestamp ranges with boto3's kinesis-video-archived-media
client, following NextToken pages.

Usage: listfragments.py ENDPOINT REGION STREAM RANGE...
Each RANGE is KIND:START:END with KIND SERVER_TIMESTAMP or PRODUCER_TIMESTAMP
and START, END epoch seconds. For each range it prints "RANGE i", then one
JSON line per fragment, in the order returned.
"""
import argparse
import datetime
import json

import boto3

p = argparse.ArgumentParser()
p.add_argument("endpoint")
p.add_argument("region")
p.add_argument("stream")
p.add_argument("ranges", nargs="+")
args = p.parse_args()

s = boto3.Session(region_name=args.region)
kv = s.client("kinesisvideo", endpoint_url=args.endpoint)
ep = kv.get_data_endpoint(StreamName=args.stream, APIName="LIST_FRAGMENTS")["DataEndpoint"]
am = s.client("kinesis-video-archived-media", endpoint_url=ep)


def ts(v):
    return datetime.datetime.fromtimestamp(float(v), tz=datetime.timezone.utc)


for i, r in enumerate(args.ranges):
    kind, start, end = r.split(":")
    print("RANGE", i, flush=True)
    kw = {"StreamName": args.stream, "MaxResults": 2,
          "FragmentSelector": {"FragmentSelectorType": kind,
                               "TimestampRange": {"StartTimestamp": ts(start), "EndTimestamp": ts(end)}}}
    while True:
        out = am.list_fragments(**kw)
        for f in out["Fragments"]:
            print(json.dumps({"FragmentNumber": f["FragmentNumber"],
                              "Producer": f["ProducerTimestamp"].timestamp(),
                              "Server": f["ServerTimestamp"].timestamp()}), flush=True)
        if not out.get("NextToken"):
            break
        kw["NextToken"] = out["NextToken"]
