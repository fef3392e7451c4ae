#!/usr/bin/env python3
"""Verifies Open Badges 3.0 credentials signed as VC-JWTs, independently of the bot: the
signature with `jwcrypto` against the issuer's published JWKS (never the key the token carries),
the credential's shape, and its status at its own address (410 Gone: revoked).

    ob3_verify.py --jwks URL TOKEN [TOKEN...]

A TOKEN is a URL answering the VC-JWT, a file holding one, or a PNG with one baked in (an
iTXt chunk named `openbadgecredential`). Prints one JSON report per line ({"source", "valid",
"errors", "credential"}); exits 0 when every token is valid, 1 otherwise.
"""
import json
import struct
import sys

import requests
from jwcrypto import jwk, jws, jwt

CONTEXTS = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


def png_text(data, keyword):
    """The text of the iTXt chunk named `keyword` (uncompressed), or None."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    at = 8
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind = data[at + 4:at + 8]
        chunk = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind != b"iTXt":
            continue
        key, _, rest = chunk.partition(b"\x00")
        if key.decode("latin-1") != keyword or rest[:1] != b"\x00":
            continue
        rest = rest[2:]
        _language, _, rest = rest.partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        return text.decode("utf-8")
    return None


def token_of(source):
    if source.startswith("http://") or source.startswith("https://"):
        response = requests.get(source, timeout=10)
        response.raise_for_status()
        return response.text.strip()
    with open(source, "rb") as f:
        data = f.read()
    baked = png_text(data, "openbadgecredential")
    if baked is not None:
        return baked.strip()
    return data.decode("utf-8").strip()


def verify(source, keys):
    errors = []
    try:
        token = token_of(source)
    except Exception as e:  # noqa: BLE001
        return {"source": source, "valid": False, "errors": [f"no token: {e}"], "credential": None}
    try:
        checked = jwt.JWT(jwt=token, key=keys, algs=["EdDSA", "RS256", "ES256"], check_claims={"nbf": None})
        credential = json.loads(checked.claims)
    except (jws.InvalidJWSSignature, jws.InvalidJWSObject, jwt.JWTExpired, jwt.JWTNotYetValid,
            jwt.JWTMissingKey, ValueError, KeyError) as e:
        return {"source": source, "valid": False, "errors": [f"signature: {type(e).__name__}: {e}"], "credential": None}
    if credential.get("@context") != CONTEXTS:
        errors.append("@context is not the VC 2.0 and Open Badges 3.0 contexts")
    if "OpenBadgeCredential" not in credential.get("type", []):
        errors.append("not an OpenBadgeCredential")
    issuer = credential.get("issuer", {})
    if not isinstance(issuer, dict) or credential.get("iss") != issuer.get("id"):
        errors.append("iss is not the issuer's id")
    if credential.get("jti") != credential.get("id"):
        errors.append("jti is not the credential's id")
    subject = credential.get("credentialSubject", {})
    if "AchievementSubject" not in subject.get("type", []) or "achievement" not in subject:
        errors.append("the subject is not an AchievementSubject with its achievement")
    if not any(i.get("hashed") and str(i.get("identityHash", "")).startswith("sha256$") for i in subject.get("identifier", [])):
        errors.append("the recipient is not a salted hash")
    status = requests.get(credential.get("id", ""), timeout=10)
    if status.status_code == 410:
        errors.append("revoked: " + str(status.json().get("revocationReason")))
    elif status.status_code != 200:
        errors.append(f"its address answers {status.status_code}")
    return {"source": source, "valid": not errors, "errors": errors, "credential": credential}


def main(args):
    if args[:1] != ["--jwks"] or len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    keys = jwk.JWKSet.from_json(requests.get(args[1], timeout=10).text)
    ok = True
    for source in args[2:]:
        report = verify(source, keys)
        ok = ok and report["valid"]
        print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
