"""POST a JSON body to a URL and print the JSON answer (TLS unverified: lab certificates
come from the lab's own device CA). Run inside the test's network namespace.

    python3 post_json.py URL JSON
"""

import json
import ssl
import sys
import urllib.error
import urllib.request

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
req = urllib.request.Request(
    sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"}
)
try:
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        print(json.dumps({"status": r.status, "body": json.loads(r.read() or b"null")}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": json.loads(e.read() or b"null")}))
