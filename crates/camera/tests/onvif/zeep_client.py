"""onvif-zeep-async against a camkey camera: what Home Assistant and NVR tools do.

Usage: zeep_client.py HOST PORT USER PASSWORD
Prints one line per step; exits non-zero on the first surprise.
"""

import asyncio
import sys

import zeep.exceptions
from onvif import ONVIFCamera
from onvif.util import is_auth_error


async def main(host: str, port: int, user: str, password: str) -> None:
    cam = ONVIFCamera(host, port, user, password, adjust_time=True)
    await cam.update_xaddrs()
    print("xaddrs", sorted(cam.xaddrs))
    dev = await cam.create_devicemgmt_service()
    t = await dev.GetSystemDateAndTime()
    print("time", t.DateTimeType, t.UTCDateTime.Date.Year)
    info = await dev.GetDeviceInformation()
    print("device", info.Manufacturer, info.Model, info.SerialNumber)
    nics = await dev.GetNetworkInterfaces()
    print("mac", nics[0].Info.HwAddress)
    users = await dev.GetUsers()
    print("users", [u.Username for u in users])
    caps = await dev.GetServiceCapabilities()
    print("max_users", caps.Security.MaxUsers, caps.Security.HttpDigest, caps.Security.UsernameToken)
    try:
        await dev.CreateUsers(
            {"User": [{"Username": "viewer", "Password": "amber-falcon-river-93", "UserLevel": "User"}]}
        )
        print("create_users", "accepted")
    except zeep.exceptions.Fault as f:
        print("create_users", "refused", f.message)
    media = await cam.create_media_service()
    profiles = await media.GetProfiles()
    enc = profiles[0].VideoEncoderConfiguration.Encoding
    print("profile", profiles[0].token, enc)
    assert enc == "H264"
    uri = await media.GetStreamUri(
        {
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
            "ProfileToken": profiles[0].token,
        }
    )
    print("stream", uri.Uri)
    snap = await media.GetSnapshotUri({"ProfileToken": profiles[0].token})
    print("snapshot_uri", snap.Uri)
    image = await cam.get_snapshot(profiles[0].token)
    print("snapshot", len(image or b""), (image or b"")[:2] == b"\xff\xd8")
    await cam.close()

    bad = ONVIFCamera(host, port, user, "wrong-password-1", adjust_time=True)
    try:
        await bad.update_xaddrs()
        d = await bad.create_devicemgmt_service()
        await d.GetDeviceInformation()
        print("wrong_password", "accepted")
    except zeep.exceptions.Fault as f:
        print("wrong_password", "refused", is_auth_error(f))
    except Exception as e:  # noqa: BLE001 - reported to the test
        print("wrong_password", "error", type(e).__name__, e)
    await bad.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
