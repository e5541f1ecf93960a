"""Prints botocore's SigV4 Authorization header for each request read from stdin.

stdin: a JSON list of {"method", "url", "params": [[k, v], ...], "headers": {..}, "body",
"region", "service", "amz_date", "key", "secret", "token"}. stdout: a JSON list of the
Authorization header values, signed by botocore.auth.SigV4Auth at the given time."""
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

out = []
for case in json.load(sys.stdin):
    when = datetime.datetime.strptime(case["amz_date"], "%Y%m%dT%H%M%SZ")
    creds = Credentials(case["key"], case["secret"], case.get("token"))
    req = AWSRequest(
        method=case["method"],
        url=case["url"],
        params=[tuple(p) for p in case["params"]] or None,
        headers=case["headers"],
        data=case["body"].encode(),
    )
    auth = botocore.auth.SigV4Auth(creds, case["service"], case["region"])
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        auth.add_auth(req)
    out.append(req.headers["Authorization"])
print(json.dumps(out))
