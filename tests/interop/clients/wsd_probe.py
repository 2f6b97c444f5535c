"""Probes with Python WSDiscovery (as Home Assistant does) and prints what it found as
JSON: [{"epr", "xaddrs", "scopes", "types"}]. Run inside the test's network namespace:
WSDiscovery probes on every interface it sees.

    python3 wsd_probe.py [--scope URI]... [--timeout S]
"""

import argparse
import json

from wsdiscovery import QName, Scope
from wsdiscovery.discovery import ThreadedWSDiscovery

NVT = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scope", action="append", default=[])
    p.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    wsd = ThreadedWSDiscovery()
    wsd.start()
    try:
        services = wsd.searchServices(
            types=[NVT], scopes=[Scope(s) for s in a.scope] or None, timeout=a.timeout
        )
        out = [
            {
                "epr": s.getEPR(),
                "xaddrs": list(s.getXAddrs()),
                "scopes": [sc.getValue() for sc in s.getScopes()],
                "types": [f"{t.getNamespace()} {t.getLocalname()}" for t in s.getTypes()],
            }
            for s in services
        ]
    finally:
        wsd.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
