#!/usr/bin/env python3
"""Verifies hosted Open Badges 2.0 assertions with 1EdTech's own validator (PyPI `openbadges`).

    ob_verify.py [--email ADDRESS] URL|FILE [URL|FILE...]
    ob_verify.py --unbake FILE

Prints one JSON report per line ({"url", "valid", "errors", "warnings"}); exits 0 when every
assertion is valid, 1 otherwise. With --email, each assertion must also be issued to that
address (the validator compares it with the assertion's hashed recipient, as a backpack does).
A FILE is a baked badge image (PNG or SVG), verified as a backpack would take an upload;
--unbake prints the text baked into one, as 1EdTech's openbadges-bakery reads it. Tests run offline, so the Open Badges context
(https://w3id.org/openbadges/v2) is answered from the local copy in
tests/fixtures/openbadges/v2-context.json; every other address is fetched for real.
"""
import json
import os
import sys

import requests
import requests.adapters

HERE = os.path.dirname(os.path.abspath(__file__))
CONTEXTS = {
    "https://w3id.org/openbadges/v2": os.path.join(HERE, "..", "tests", "fixtures", "openbadges", "v2-context.json"),
    "https://openbadgespec.org/v2/context.json": os.path.join(HERE, "..", "tests", "fixtures", "openbadges", "v2-context.json"),
}

_send = requests.adapters.HTTPAdapter.send


def send(self, request, **kwargs):
    url = request.url.split("#")[0]
    if url in CONTEXTS:
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response.request = request
        response.headers["Content-Type"] = "application/ld+json"
        with open(CONTEXTS[url], "rb") as f:
            response._content = f.read()
        response.encoding = "utf-8"
        return response
    return _send(self, request, **kwargs)


requests.adapters.HTTPAdapter.send = send

import openbadges  # noqa: E402  (after the patch)


def main(args):
    if args[:1] == ["--unbake"]:
        import openbadges_bakery
        with open(args[1], "rb") as f:
            text = openbadges_bakery.unbake(f)
        if text is None:
            return 1
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        sys.stdout.write(text)
        return 0
    profile = None
    if args[:1] == ["--email"]:
        profile = {"email": args[1]}
        args = args[2:]
    ok = True
    for url in args:
        if os.path.isfile(url):
            with open(url, "rb") as f:
                report = openbadges.verify(f, recipient_profile=profile)
        else:
            report = openbadges.verify(url, recipient_profile=profile)
        messages = report.get("report", {}).get("messages", [])
        valid = bool(report.get("report", {}).get("valid"))
        ok = ok and valid
        print(json.dumps({
            "url": url,
            "valid": valid,
            "errors": [m.get("result") for m in messages if m.get("messageLevel") == "ERROR"],
            "warnings": [m.get("result") for m in messages if m.get("messageLevel") == "WARNING"],
        }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
