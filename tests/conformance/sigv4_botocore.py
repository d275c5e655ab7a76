#!/usr/bin/python3
"""sigv4_botocore.py -- every Bedrock request in a stand-in's request log
(tests/fakes/llm.py) must carry the Authorization that botocore's SigV4
signer computes for the same request: method, URL, Content-Type, raw body,
credentials, and the clock fixed at the request's X-Amz-Date.
Usage: sigv4_botocore.py REQUESTS.jsonl KEY SECRET TOKEN|- REGION LABEL"""
import datetime
import json
import os
import sys
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402  (only its checks and summary)
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

path, key, secret, token, region, label = sys.argv[1:7]
token = None if token == "-" else token
n = same = 0
first_bad = ""
paths = set()
for line in open(path):
    r = json.loads(line)
    if not r["path"].startswith("/model/"):
        continue
    h = r["headers"]
    req = AWSRequest(method="POST", url="http://" + h["Host"] + r["path"],
                     data=r["raw"].encode(), headers={"Content-Type": h["Content-Type"]})
    when = datetime.datetime.strptime(h["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = when
        dt.datetime.now.return_value = when
        SigV4Auth(Credentials(key, secret, token), "bedrock", region).add_auth(req)
    n += 1
    paths.add(r["path"].split("/")[2])
    if req.headers["Authorization"] == h.get("Authorization") and \
            (token is None or h.get("X-Amz-Security-Token") == token):
        same += 1
    elif not first_bad:
        first_bad = "ours %s\nbotocore %s" % (h.get("Authorization"), req.headers["Authorization"])
wsraw.check("%s: %d of %d Bedrock requests signed as botocore signs them (model ids %s)"
            % (label, same, n, ", ".join(sorted(paths))), n > 0 and same == n, first_bad)
sys.exit(wsraw.summary("sigv4"))
