"""onvif-zeep-async against one lab camera, step by step, as Home Assistant and NVR
tools drive it. Run inside the test's network namespace; prints one JSON object.

    python3 onvif_steps.py STEP URL USER PASSWORD [ARGS...]

URL is the camera's device service (`http://…` or `https://…`; TLS is not verified,
as onvif-zeep-async never verifies it). Steps:
  read         time, device information, network interfaces, users, profiles,
               stream and snapshot URIs, the snapshot itself
  create       CreateUsers NAME NEWPASSWORD LEVEL
  set          SetUser NAME NEWPASSWORD LEVEL
  whoami       GetDeviceInformation and GetUsers, each "ok" or the fault it got
"""

import asyncio
import json
import sys
from urllib.parse import urlsplit

import zeep.exceptions
from onvif import ONVIFCamera
from onvif.util import is_auth_error


def camera(url: str, user: str, password: str) -> ONVIFCamera:
    u = urlsplit(url)
    return ONVIFCamera(f"{u.scheme}://{u.hostname}", u.port, user, password, adjust_time=True)


def fault(e: Exception) -> dict:
    if isinstance(e, zeep.exceptions.Fault):
        return {"fault": e.message, "auth_error": bool(is_auth_error(e))}
    return {"error": f"{type(e).__name__}: {e}"}


async def read(cam: ONVIFCamera) -> dict:
    out: dict = {}
    await cam.update_xaddrs()
    out["xaddrs"] = sorted(cam.xaddrs.values())
    dev = await cam.create_devicemgmt_service()
    t = await dev.GetSystemDateAndTime()
    out["time"] = {"type": t.DateTimeType, "year": t.UTCDateTime.Date.Year}
    info = await dev.GetDeviceInformation()
    out["device"] = {"model": info.Model, "serial": info.SerialNumber, "firmware": info.FirmwareVersion}
    nics = await dev.GetNetworkInterfaces()
    out["mac"] = nics[0].Info.HwAddress
    out["users"] = sorted((u.Username, u.UserLevel) for u in await dev.GetUsers())
    media = await cam.create_media_service()
    profiles = await media.GetProfiles()
    token = profiles[0].token
    out["profile"] = {"token": token, "encoding": profiles[0].VideoEncoderConfiguration.Encoding}
    uri = await media.GetStreamUri(
        {"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}, "ProfileToken": token}
    )
    out["stream"] = uri.Uri
    out["snapshot_uri"] = (await media.GetSnapshotUri({"ProfileToken": token})).Uri
    image = await cam.get_snapshot(token) or b""
    out["snapshot"] = {"bytes": len(image), "jpeg": image[:2] == b"\xff\xd8"}
    return out


async def main(step: str, url: str, user: str, password: str, *args: str) -> dict:
    cam = camera(url, user, password)
    try:
        if step == "read":
            return await read(cam)
        dev = await cam.create_devicemgmt_service()
        if step in ("create", "set"):
            name, new_password, level = args
            user_ = {"Username": name, "Password": new_password, "UserLevel": level}
            try:
                if step == "create":
                    await dev.CreateUsers({"User": [user_]})
                else:
                    await dev.SetUser({"User": [user_]})
                return {"ok": True}
            except Exception as e:  # noqa: BLE001 - reported to the test
                return fault(e)
        if step == "whoami":
            out = {}
            for name, call in (("device", dev.GetDeviceInformation), ("users", dev.GetUsers)):
                try:
                    await call()
                    out[name] = "ok"
                except Exception as e:  # noqa: BLE001 - reported to the test
                    out[name] = fault(e)
            return out
        raise SystemExit(f"unknown step {step}")
    finally:
        await cam.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:]))))
