"""Shared fixtures for the postgrest-py compatibility suite.

tests/clients/run.sh starts the demo server with tests/clients/fixture.sql and
exports POSTGREST_URL, ANON_KEY, SERVICE_KEY and JWT_SECRET.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import pytest
from postgrest import SyncPostgrestClient

USER_1 = "00000000-0000-0000-0000-000000000001"
USER_2 = "00000000-0000-0000-0000-000000000002"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def mint_jwt(claims: dict, secret: str | None = None) -> str:
    """An HS256 JWT signed with the server's secret (standard library only)."""
    secret = secret if secret is not None else os.environ["JWT_SECRET"]
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(sig)}"


def user_token(sub: str = USER_1, exp_in: int = 3600) -> str:
    return mint_jwt(
        {
            "role": "authenticated",
            "sub": sub,
            "aud": "authenticated",
            "exp": int(time.time()) + exp_in,
        }
    )


def make_client(key: str | None, apikey: str | None = None) -> SyncPostgrestClient:
    headers = {}
    if apikey is not None or key is not None:
        headers["apikey"] = apikey if apikey is not None else key
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return SyncPostgrestClient(os.environ["POSTGREST_URL"], headers=headers)


@pytest.fixture(scope="session")
def anon():
    client = make_client(os.environ["ANON_KEY"])
    yield client
    client.aclose()


@pytest.fixture(scope="session")
def service():
    client = make_client(os.environ["SERVICE_KEY"])
    yield client
    client.aclose()


@pytest.fixture(scope="session")
def user():
    client = make_client(user_token(USER_1))
    yield client
    client.aclose()


@pytest.fixture(scope="session")
def user2():
    client = make_client(user_token(USER_2))
    yield client
    client.aclose()


@pytest.fixture
def uid():
    """A unique suffix for keys/titles written by one test."""
    return uuid.uuid4().hex[:12]
