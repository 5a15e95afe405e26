"""Roles from JWTs: anon key, a user's token and the service-role key against
the RLS-protected todos and reviews tables."""

import os
import time

import pytest
from postgrest import APIError

from conftest import USER_1, USER_2, make_client, mint_jwt, user_token

FIXTURE_TASKS = ["buy milk", "walk dog", "write code"]


def test_whoami_per_role(anon, user, service):
    assert anon.rpc("whoami", {}).execute().data == {"role": "anon", "sub": None}
    assert user.rpc("whoami", {}).execute().data == {"role": "authenticated", "sub": USER_1}
    assert service.rpc("whoami", {}, get=True).execute().data == {
        "role": "service_role",
        "sub": None,
    }


def test_authorization_header_wins_over_apikey():
    # supabase-py's own layout: apikey is the anon key, Authorization the user's token.
    client = make_client(user_token(USER_2), apikey=os.environ["ANON_KEY"])
    try:
        assert client.rpc("whoami", {}).execute().data == {
            "role": "authenticated",
            "sub": USER_2,
        }
    finally:
        client.aclose()


def test_todos_anon_is_denied(anon):
    with pytest.raises(APIError) as err:
        anon.table("todos").select("*").execute()
    assert err.value.code == "rls_denied"
    assert err.value.message == "permission denied for table todos"
    assert err.value.details is None
    assert err.value.hint is None


def test_todos_user_sees_own_rows_service_sees_all(user, user2, service):
    mine = (
        user.table("todos")
        .select("owner,task,done", count="exact")
        .in_("task", FIXTURE_TASKS)
        .order("id")
        .execute()
    )
    assert mine.data == [
        {"owner": USER_1, "task": "buy milk", "done": False},
        {"owner": USER_1, "task": "walk dog", "done": True},
    ]
    assert mine.count == 2
    theirs = user2.table("todos").select("task").in_("task", FIXTURE_TASKS).execute()
    assert theirs.data == [{"task": "write code"}]
    everything = (
        service.table("todos").select("task").in_("task", FIXTURE_TASKS).order("id").execute()
    )
    assert everything.data == [{"task": t} for t in FIXTURE_TASKS]


def test_todos_user_writes_own_rows(user, service, uid):
    task = f"task {uid}"
    inserted = user.table("todos").insert({"owner": USER_1, "task": task}).select("owner,task,done").execute()
    assert inserted.data == [{"owner": USER_1, "task": task, "done": False}]
    updated = user.table("todos").update({"done": True}).eq("task", task).select("task,done").execute()
    assert updated.data == [{"task": task, "done": True}]
    seen = service.table("todos").select("owner,done").eq("task", task).single().execute()
    assert seen.data == {"owner": USER_1, "done": True}
    deleted = user.table("todos").delete().eq("task", task).select("task").execute()
    assert deleted.data == [{"task": task}]
    assert service.table("todos").select("id").eq("task", task).execute().data == []


def test_todos_rls_blocks_other_users_rows(user, user2, service, uid):
    with pytest.raises(APIError) as err:
        user.table("todos").insert({"owner": USER_2, "task": f"forged {uid}"}).execute()
    assert err.value.code == "rls_denied"
    assert err.value.message == 'new row violates row-level security policy for table "todos"'
    assert err.value.details is None
    assert err.value.hint is None

    # Rows the policy hides are simply not matched by updates and deletes.
    assert user.table("todos").update({"done": True}).eq("task", "write code").execute().data == []
    assert user.table("todos").delete().eq("task", "write code").execute().data == []
    still = service.table("todos").select("owner,done").eq("task", "write code").execute()
    assert still.data == [{"owner": USER_2, "done": False}]


def test_reviews_rls_drafts_visible_to_author_only(anon, user, user2):
    q = lambda c: c.table("reviews").select("book_id,rating,published").order("book_id")  # noqa: E731
    published = [
        {"book_id": 1, "rating": 5, "published": True},
        {"book_id": 4, "rating": 4, "published": True},
        {"book_id": 8, "rating": 5, "published": True},
    ]
    assert q(anon).lte("book_id", 8).execute().data == published
    assert q(user).lte("book_id", 8).execute().data == published
    assert q(user2).lte("book_id", 8).execute().data == [
        {"book_id": 1, "rating": 5, "published": True},
        {"book_id": 2, "rating": 3, "published": False},
        {"book_id": 4, "rating": 4, "published": True},
        {"book_id": 8, "rating": 5, "published": True},
    ]


def test_expired_and_malformed_tokens_are_rejected():
    expired = make_client(user_token(USER_1, exp_in=-3600))
    try:
        with pytest.raises(APIError) as err:
            expired.table("gadgets").select("id").execute()
        assert err.value.code == "unauthorized"
        assert err.value.message == "JWT expired"
        assert err.value.details is None
    finally:
        expired.aclose()
    for token, message in [
        ("not-a-token", "Expected 3 parts in JWT; got 1"),
        ("a.b", "Expected 3 parts in JWT; got 2"),
    ]:
        client = make_client(token)
        try:
            with pytest.raises(APIError) as err:
                client.table("gadgets").select("id").execute()
            assert err.value.code == "unauthorized"
            assert err.value.message == message
        finally:
            client.aclose()


def test_token_signed_with_wrong_secret():
    forged = mint_jwt(
        {"role": "service_role", "exp": 2**31 - 1},
        secret="not-the-server-secret-but-32-characters-long",
    )
    client = make_client(forged)
    try:
        with pytest.raises(APIError) as err:
            client.table("gadgets").select("id").execute()
        assert err.value.code == "unauthorized"
        assert err.value.message == "No suitable key or wrong key type"
        assert err.value.details == "None of the keys was able to decode the JWT"
    finally:
        client.aclose()


def test_no_key_without_anon_role_is_unauthorized():
    client = make_client(None)
    try:
        with pytest.raises(APIError) as err:
            client.table("gadgets").select("id").execute()
        assert err.value.code == "unauthorized"
        assert err.value.message == "Anonymous access is disabled"
    finally:
        client.aclose()


def test_upsert_cannot_take_over_another_users_row(user, service, uid):
    other = service.table("todos").select("id").eq("task", "write code").single().execute()
    with pytest.raises(APIError) as err:
        user.table("todos").upsert(
            {"id": other.data["id"], "owner": USER_1, "task": f"hijack {uid}"}
        ).execute()
    assert err.value.code == "rls_denied"
    assert err.value.message == (
        'new row violates row-level security policy (USING expression) for table "todos"'
    )
    still = service.table("todos").select("owner,task").eq("id", other.data["id"]).execute()
    assert still.data == [{"owner": USER_2, "task": "write code"}]


def test_jwt_time_claims_are_validated():
    now = int(time.time())
    cases = [
        ({"role": "authenticated", "nbf": now + 3600}, "JWT not yet valid"),
        ({"role": "authenticated", "iat": now + 3600}, "JWT issued at future"),
        ({"role": "authenticated", "exp": "tomorrow"}, "The JWT 'exp' claim must be a number"),
        ({"role": "authenticated", "exp": now - 60}, "JWT expired"),
    ]
    for claims, message in cases:
        client = make_client(mint_jwt(claims))
        try:
            with pytest.raises(APIError) as err:
                client.rpc("whoami", {}).execute()
            assert (err.value.code, err.value.message) == ("unauthorized", message)
        finally:
            client.aclose()
    # 30 seconds of clock skew are allowed.
    client = make_client(mint_jwt({"role": "authenticated", "exp": now - 10, "sub": USER_2}))
    try:
        assert client.rpc("whoami", {}).execute().data == {"role": "authenticated", "sub": USER_2}
    finally:
        client.aclose()


def test_jwt_aud_claim_of_wrong_type_is_rejected():
    client = make_client(mint_jwt({"role": "authenticated", "aud": 5}))
    try:
        with pytest.raises(APIError) as err:
            client.rpc("whoami", {}).execute()
        assert err.value.code == "unauthorized"
        assert (
            err.value.message == "The JWT 'aud' claim must be a string or an array of strings"
        )
    finally:
        client.aclose()


def test_token_without_role_and_no_anon_role():
    client = make_client(mint_jwt({"sub": USER_1, "exp": int(time.time()) + 3600}))
    try:
        with pytest.raises(APIError) as err:
            client.rpc("whoami", {}).execute()
        assert err.value.code == "unauthorized"
        assert err.value.message == "Anonymous access is disabled"
        assert err.value.details is None
        assert err.value.hint is None
    finally:
        client.aclose()
