"""Schemathesis hooks for `scripts/fuzz`: a signed-in caller for every authenticated operation.

The fuzzer calls logout, logout-all and the other operations that end sessions, so a token set
once would soon stop working and the authenticated operations would only ever answer 401. This
provider signs in to get a token, keeps it while it works, and signs in again whenever an answer
is 401 (schemathesis then replays the request with the new token).
"""

import json
import os
import time
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ["KEYCARD_FUZZ_URL"]
EMAIL = os.environ["KEYCARD_FUZZ_EMAIL"]
PASSWORD = os.environ["KEYCARD_FUZZ_PASSWORD"]
# A network of its own: the fuzzer's failed sign-ins from 127.0.0.1 must not throttle this one.
ADDRESS = "198.18.0.1"


@schemathesis.auth()
class SignedIn:
    def get(self, case, context):
        for attempt in range(5):
            request = urllib.request.Request(
                f"{BASE}/v1/auth/login",
                data=json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
                headers={"content-type": "application/json", "x-forwarded-for": ADDRESS},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.load(response)["access_token"]
            except urllib.error.HTTPError as e:
                # The fuzzer's own guesses at this account may have made it wait.
                if e.code != 429 or attempt == 4:
                    raise
                time.sleep(min(int(e.headers.get("retry-after", "1")), 5))
        raise RuntimeError("unreachable")

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
