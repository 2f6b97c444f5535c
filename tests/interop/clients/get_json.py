"""GET a URL and print its JSON body (TLS unverified: lab certificates come from the
lab's own device CA). Run inside the test's network namespace.

    python3 get_json.py URL
"""

import ssl
import sys
import urllib.request

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10) as r:
    sys.stdout.write(r.read().decode())
