"""Writes: insert, upsert, update, delete, and the errors of failed writes.

Every test writes rows keyed by its own unique suffix and reads back only those.
"""

import re

import pytest
from postgrest import APIError
from postgrest.types import ReturnMethod


def test_insert_single_returns_the_row_with_defaults(anon, uid):
    title = f"note {uid}"
    res = anon.table("notes").insert({"title": title}).execute()
    assert len(res.data) == 1
    row = res.data[0]
    assert set(row) == {"id", "title", "body", "created"}
    assert isinstance(row["id"], int)
    assert row["title"] == title
    assert row["body"] == "empty"
    back = anon.table("notes").select("id,title,body").eq("title", title).execute()
    assert back.data == [{"id": row["id"], "title": title, "body": "empty"}]


def test_insert_with_select_returns_chosen_columns(anon, uid):
    res = (
        anon.table("kv")
        .insert({"key": f"sel-{uid}", "value": "v"})
        .select("key, hits, upper:value")
        .execute()
    )
    # `upper:value` is only an alias.
    assert res.data == [{"key": f"sel-{uid}", "hits": 0, "upper": "v"}]


def test_bulk_insert_default_to_null(anon, uid):
    rows = [{"title": f"a {uid}", "body": "first"}, {"title": f"b {uid}"}]
    res = anon.table("notes").insert(rows, count="exact").select("title,body").execute()
    # `columns` lists every key; a key missing from a row is NULL.
    assert res.data == [
        {"title": f"a {uid}", "body": "first"},
        {"title": f"b {uid}", "body": None},
    ]
    assert res.count == 2


def test_bulk_insert_missing_default(anon, uid):
    rows = [{"title": f"c {uid}", "body": "first"}, {"title": f"d {uid}"}]
    res = (
        anon.table("notes")
        .insert(rows, default_to_null=False)
        .select("title,body")
        .execute()
    )
    # Prefer: missing=default takes the column default instead of NULL.
    assert res.data == [
        {"title": f"c {uid}", "body": "first"},
        {"title": f"d {uid}", "body": "empty"},
    ]


def test_insert_returning_minimal(anon, uid):
    res = (
        anon.table("kv")
        .insert({"key": f"min-{uid}", "value": "quiet"}, returning=ReturnMethod.minimal)
        .execute()
    )
    assert res.data == []
    back = anon.table("kv").select("*").eq("key", f"min-{uid}").execute()
    assert back.data == [{"key": f"min-{uid}", "value": "quiet", "hits": 0}]


def test_insert_special_characters_round_trip(anon, uid):
    title = f'odd, "quoted" (title) {uid} ünï'
    anon.table("notes").insert({"title": title, "body": "a\nb"}).execute()
    eq = anon.table("notes").select("title,body").eq("title", title).execute()
    assert eq.data == [{"title": title, "body": "a\nb"}]
    inn = anon.table("notes").select("title").in_("title", [title, "other"]).execute()
    assert inn.data == [{"title": title}]


def test_insert_duplicate_key_is_conflict(anon, uid):
    key = f"dup-{uid}"
    anon.table("kv").insert({"key": key}).execute()
    with pytest.raises(APIError) as err:
        anon.table("kv").insert({"key": key, "value": "again"}).execute()
    assert err.value.code == "conflict"
    assert err.value.message == 'duplicate key value violates unique constraint "kv_pkey"'
    assert err.value.details == f"Key (key)=({key}) already exists."
    assert err.value.hint is None
    # The failed insert left nothing behind.
    back = anon.table("kv").select("value").eq("key", key).execute()
    assert back.data == [{"value": None}]


def test_insert_not_null_and_foreign_key_violations(anon, service):
    with pytest.raises(APIError) as nn:
        anon.table("kv").insert({"key": None, "value": "v"}).execute()
    # PostgREST: 400 with PostgreSQL's code 23502; this server: 422 invalid_request.
    assert nn.value.code == "invalid_request"
    assert (
        nn.value.message
        == 'null value in column "key" of relation "kv" violates not-null constraint'
    )
    assert nn.value.details == "Failing row contains (null, v, 0)."

    with pytest.raises(APIError) as fk:
        service.table("parts").insert({"id": 9001, "gadget_id": 999, "name": "x"}).execute()
    assert fk.value.code == "conflict"
    assert (
        fk.value.message
        == 'insert or update on table "parts" violates foreign key constraint "parts_gadget_id_fkey"'
    )
    assert fk.value.details == 'Key (gadget_id)=(999) is not present in table "gadgets".'


def test_upsert_merges_on_primary_key(anon, uid):
    key = f"up-{uid}"
    first = anon.table("kv").upsert({"key": key, "value": "v1"}).execute()
    assert first.data == [{"key": key, "value": "v1", "hits": 0}]
    second = anon.table("kv").upsert({"key": key, "value": "v2", "hits": 7}).execute()
    assert second.data == [{"key": key, "value": "v2", "hits": 7}]
    assert anon.table("kv").select("*").eq("key", key).execute().data == [
        {"key": key, "value": "v2", "hits": 7}
    ]


def test_upsert_on_conflict_and_ignore_duplicates(anon, uid):
    k1, k2 = f"oc1-{uid}", f"oc2-{uid}"
    anon.table("kv").insert({"key": k1, "value": "orig"}).execute()
    ignored = (
        anon.table("kv")
        .upsert(
            [{"key": k1, "value": "changed"}, {"key": k2, "value": "new"}],
            on_conflict="key",
            ignore_duplicates=True,
        )
        .execute()
    )
    # Only the inserted row comes back; the duplicate is skipped.
    assert ignored.data == [{"key": k2, "value": "new", "hits": 0}]
    merged = (
        anon.table("kv")
        .upsert([{"key": k1, "value": "merged"}], on_conflict="key", count="exact")
        .execute()
    )
    assert merged.data == [{"key": k1, "value": "merged", "hits": 0}]
    assert merged.count == 1
    back = anon.table("kv").select("key,value").in_("key", [k1, k2]).order("key").execute()
    assert back.data == [{"key": k1, "value": "merged"}, {"key": k2, "value": "new"}]


def test_bulk_upsert_default_to_null_false(anon, uid):
    k1, k2 = f"dn1-{uid}", f"dn2-{uid}"
    res = (
        anon.table("kv")
        .upsert(
            [{"key": k1, "value": "x", "hits": 5}, {"key": k2}],
            default_to_null=False,
        )
        .execute()
    )
    assert res.data == [
        {"key": k1, "value": "x", "hits": 5},
        {"key": k2, "value": None, "hits": 0},
    ]
    # On a conflicting row the defaulted column is part of the update too:
    # missing=default fills it before ON CONFLICT DO UPDATE SET hits = EXCLUDED.hits.
    again = (
        anon.table("kv")
        .upsert([{"key": k1, "value": "y"}, {"key": k2, "hits": 2}], default_to_null=False)
        .execute()
    )
    assert sorted(again.data, key=lambda r: r["key"]) == [
        {"key": k1, "value": "y", "hits": 0},
        {"key": k2, "value": None, "hits": 2},
    ]


def test_bulk_upsert_default_to_null_violates_not_null(anon, uid):
    k1, k2 = f"nn1-{uid}", f"nn2-{uid}"
    with pytest.raises(APIError) as err:
        anon.table("kv").upsert([{"key": k1, "hits": 5}, {"key": k2}]).execute()
    assert err.value.code == "invalid_request"
    assert (
        err.value.message
        == 'null value in column "hits" of relation "kv" violates not-null constraint'
    )
    assert err.value.details == f"Failing row contains ({k2}, null, null)."
    assert anon.table("kv").select("key").in_("key", [k1, k2]).execute().data == []


def test_update_with_filters_and_count(anon, uid):
    keys = [f"upd{i}-{uid}" for i in range(3)]
    anon.table("kv").insert([{"key": k, "value": "old"} for k in keys]).execute()
    res = (
        anon.table("kv")
        .update({"value": "new", "hits": 3}, count="exact")
        .in_("key", keys[:2])
        .execute()
    )
    assert res.count == 2
    assert sorted(res.data, key=lambda r: r["key"]) == [
        {"key": keys[0], "value": "new", "hits": 3},
        {"key": keys[1], "value": "new", "hits": 3},
    ]
    none = anon.table("kv").update({"value": "x"}).eq("key", f"missing-{uid}").execute()
    assert none.data == []
    back = anon.table("kv").select("key,value").in_("key", keys).order("key").execute()
    assert back.data == [
        {"key": keys[0], "value": "new"},
        {"key": keys[1], "value": "new"},
        {"key": keys[2], "value": "old"},
    ]


def test_update_returning_minimal_and_select(anon, uid):
    key = f"updm-{uid}"
    anon.table("kv").insert({"key": key}).execute()
    minimal = (
        anon.table("kv")
        .update({"value": "m"}, returning=ReturnMethod.minimal)
        .eq("key", key)
        .execute()
    )
    assert minimal.data == []
    some = anon.table("kv").update({"hits": 1}).eq("key", key).select("value,hits").execute()
    assert some.data == [{"value": "m", "hits": 1}]


def test_delete_returns_deleted_rows(anon, uid):
    titles = [f"del{i} {uid}" for i in range(3)]
    anon.table("notes").insert([{"title": t} for t in titles]).execute()
    res = (
        anon.table("notes")
        .delete(count="exact")
        .in_("title", titles[:2])
        .select("title,body")
        .execute()
    )
    assert res.count == 2
    assert sorted(res.data, key=lambda r: r["title"]) == [
        {"title": titles[0], "body": "empty"},
        {"title": titles[1], "body": "empty"},
    ]
    minimal = (
        anon.table("notes")
        .delete(returning=ReturnMethod.minimal)
        .eq("title", titles[2])
        .execute()
    )
    assert minimal.data == []
    assert anon.table("notes").select("id").in_("title", titles).execute().data == []


def test_write_without_privilege_is_denied(anon):
    with pytest.raises(APIError) as err:
        anon.table("gadgets").insert({"id": 99, "name": "Nope"}).execute()
    assert err.value.code == "rls_denied"
    assert err.value.message == "permission denied for table gadgets"
    assert err.value.details is None
    assert err.value.hint is None


def test_insert_empty_list_and_unknown_column(anon, uid):
    assert anon.table("kv").insert([]).execute().data == []
    with pytest.raises(APIError) as err:
        anon.table("kv").insert({"key": f"unk-{uid}", "nope": 1}).execute()
    # PostgREST: 400 PGRST204; this server: 422 invalid_request.
    assert err.value.code == "invalid_request"
    assert err.value.message == "Could not find the 'nope' column of 'kv' in the schema cache"
    assert err.value.details is None
    assert err.value.hint is None
    with pytest.raises(APIError) as bulk:
        anon.table("kv").insert([{"key": f"unk2-{uid}", "nope": 1}]).execute()
    assert bulk.value.message == "Could not find the 'nope' column of 'kv' in the schema cache"
    keys = [f"unk-{uid}", f"unk2-{uid}"]
    assert anon.table("kv").select("key").in_("key", keys).execute().data == []


def test_insert_single_object_response(anon, uid):
    res = anon.table("kv").insert({"key": f"one-{uid}", "value": "v"}).single().execute()
    assert res.data == {"key": f"one-{uid}", "value": "v", "hits": 0}
    keys = [f"two-{uid}", f"three-{uid}"]
    with pytest.raises(APIError) as err:
        anon.table("kv").insert([{"key": k} for k in keys]).single().execute()
    assert err.value.code == "not_acceptable"
    assert err.value.message == "Cannot coerce the result to a single JSON object"
    assert err.value.details == "The result contains 2 rows"
    # ...and the insert was rolled back.
    assert anon.table("kv").select("key").in_("key", keys).execute().data == []


def test_insert_minimal_with_count_and_timestamps(anon, uid):
    titles = [f"cnt{i} {uid}" for i in range(3)]
    res = (
        anon.table("notes")
        .insert([{"title": t} for t in titles], count="exact", returning=ReturnMethod.minimal)
        .execute()
    )
    assert res.data == []
    assert res.count == 3
    rows = anon.table("notes").select("title,created").in_("title", titles).order("title").execute()
    assert [r["title"] for r in rows.data] == titles
    for r in rows.data:
        # timestamptz as PostgreSQL's to_json writes it (ISO 8601 with an offset).
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?", r["created"])


def test_max_affected_on_update_and_delete(anon, uid):
    keys = [f"max{i}-{uid}" for i in range(2)]
    anon.table("kv").insert([{"key": k, "value": "a"} for k in keys]).execute()
    with pytest.raises(APIError) as err:
        anon.table("kv").update({"value": "b"}).in_("key", keys).max_affected(1).execute()
    # PostgREST: 400 PGRST124; this server: 422 invalid_request.
    assert err.value.code == "invalid_request"
    assert err.value.message == "Query result exceeds max-affected preference constraint"
    assert err.value.details == "The query affects 2 rows"
    with pytest.raises(APIError) as derr:
        anon.table("kv").delete().in_("key", keys).max_affected(1).execute()
    assert derr.value.details == "The query affects 2 rows"
    back = anon.table("kv").select("key,value").in_("key", keys).order("key").execute()
    assert back.data == [{"key": k, "value": "a"} for k in keys]
    ok = anon.table("kv").update({"value": "c"}).eq("key", keys[0]).max_affected(1).execute()
    assert ok.data == [{"key": keys[0], "value": "c", "hits": 0}]


def test_update_empty_body_and_embedded_representation(anon, service, uid):
    key = f"empty-{uid}"
    anon.table("kv").insert({"key": key, "value": "keep"}).execute()
    # An empty PATCH body updates nothing.
    assert anon.table("kv").update({}).eq("key", key).execute().data == []
    assert anon.table("kv").select("value").eq("key", key).execute().data == [{"value": "keep"}]
    # A write's representation can embed, like a read (a no-op update here).
    res = (
        service.table("gadgets")
        .update({"name": "Portable Hole"})
        .eq("id", 3)
        .select("name, makers(name), parts(name)")
        .execute()
    )
    assert res.data == [
        {"name": "Portable Hole", "makers": {"name": "Globex"}, "parts": [{"name": "Fabric"}]}
    ]


def test_upsert_on_conflict_without_unique_constraint(anon, uid):
    with pytest.raises(APIError) as err:
        anon.table("kv").upsert({"key": f"nc-{uid}", "value": "v"}, on_conflict="value").execute()
    assert err.value.code == "invalid_request"
    assert (
        err.value.message
        == "there is no unique or exclusion constraint matching the ON CONFLICT specification"
    )


def test_singular_update_and_delete_roll_back(anon, uid):
    keys = [f"sing{i}-{uid}" for i in range(2)]
    anon.table("kv").insert([{"key": k, "value": "a"} for k in keys]).execute()
    one = anon.table("kv").update({"value": "b"}).eq("key", keys[0]).single().execute()
    assert one.data == {"key": keys[0], "value": "b", "hits": 0}
    with pytest.raises(APIError) as zero:
        anon.table("kv").update({"value": "z"}).eq("key", f"none-{uid}").single().execute()
    assert zero.value.code == "not_acceptable"
    assert zero.value.details == "The result contains 0 rows"
    with pytest.raises(APIError) as two:
        anon.table("kv").update({"value": "z"}).in_("key", keys).single().execute()
    assert two.value.details == "The result contains 2 rows"
    with pytest.raises(APIError) as two_deleted:
        anon.table("kv").delete().in_("key", keys).single().execute()
    assert two_deleted.value.message == "Cannot coerce the result to a single JSON object"
    assert two_deleted.value.details == "The result contains 2 rows"
    # Both refused writes were rolled back.
    back = anon.table("kv").select("key,value").in_("key", keys).order("key").execute()
    assert back.data == [{"key": keys[0], "value": "b"}, {"key": keys[1], "value": "a"}]
