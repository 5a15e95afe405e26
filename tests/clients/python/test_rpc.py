"""Functions at /rpc/{name}: scalars, sets, GET calls, and filters on results."""

import pytest
from postgrest import APIError


def test_rpc_scalar_post_and_get(anon):
    assert anon.rpc("add_them", {"a": 2, "b": 3}).execute().data == 5
    assert anon.rpc("add_them", {"a": 40, "b": 2}, get=True).execute().data == 42


def test_rpc_numeric_with_and_without_default_argument(anon):
    assert anon.rpc("average_price", {"genre": "fantasy"}).execute().data == 8.99
    # An omitted argument takes its default (NULL: all books).
    assert anon.rpc("average_price", {}).execute().data == 10.06
    assert (
        anon.rpc("average_price", {"genre": "historical"}, get=True).execute().data == 7.99
    )


def test_rpc_setof_rows_with_select_filter_order(anon):
    res = (
        anon.rpc("gadgets_tagged", {"tag": "outdoor"})
        .select("id, name, makers(name)")
        .order("id", desc=True)
        .execute()
    )
    assert res.data == [
        {"id": 3, "name": "Portable Hole", "makers": {"name": "Globex"}},
        {"id": 1, "name": "Rocket Skates", "makers": {"name": "Acme"}},
    ]
    filtered = (
        anon.rpc("gadgets_tagged", {"tag": "outdoor"}).select("name").gt("price", 50).execute()
    )
    assert filtered.data == [{"name": "Rocket Skates"}]


def test_rpc_get_with_filters_on_the_result(anon):
    res = (
        anon.rpc("books_by_author", {"author": "Iain M. Banks"}, get=True)
        .select("title,price")
        .gt("price", 11)
        .order("title")
        .execute()
    )
    assert res.data == [{"title": "Consider Phlebas", "price": 11.25}]
    limited = (
        anon.rpc("books_by_author", {"author": "Ursula K. Le Guin"}, get=True)
        .select("id")
        .order("published_year", desc=True)
        .limit(2)
        .execute()
    )
    assert limited.data == [{"id": 3}, {"id": 2}]


def test_rpc_setof_scalar(anon):
    res = anon.rpc("gadget_names", {}).execute()
    assert res.data == ["Rocket Skates", "Giant Magnet", "Portable Hole", "Stapler", "Widget"]
    by_get = anon.rpc("gadget_names", {}, get=True).execute()
    assert by_get.data == res.data


def test_rpc_count_single_and_csv(anon):
    counted = anon.rpc("gadgets_tagged", {"tag": "outdoor"}, count="exact").select("id").execute()
    assert counted.count == 2
    assert sorted(r["id"] for r in counted.data) == [1, 3]

    one = anon.rpc("gadgets_tagged", {"tag": "metal"}).select("name,tags").single().execute()
    assert one.data == {"name": "Giant Magnet", "tags": ["metal"]}

    maybe = (
        anon.rpc("gadgets_tagged", {"tag": "nothing-has-this"}).select("name").maybe_single().execute()
    )
    assert maybe is None

    csv = anon.rpc("gadgets_tagged", {"tag": "outdoor"}).select("id,name").order("id").csv().execute()
    assert csv.data == 'id,name\n1,"Rocket Skates"\n3,"Portable Hole"'


def test_rpc_void_and_volatile(anon, uid):
    assert anon.rpc("noop", {}).execute().data == []
    key = f"bump-{uid}"
    assert anon.rpc("bump", {"k": key}).execute().data == 1
    assert anon.rpc("bump", {"k": key}).execute().data == 2
    assert anon.table("kv").select("key,hits").eq("key", key).execute().data == [
        {"key": key, "hits": 2}
    ]


def test_rpc_volatile_function_by_get_is_rejected(anon, uid):
    key = f"bumpget-{uid}"
    with pytest.raises(APIError) as err:
        anon.rpc("bump", {"k": key}, get=True).execute()
    # PostgREST: 405 with PostgreSQL's code 25006; this server: 405 method_not_allowed.
    assert err.value.code == "method_not_allowed"
    assert err.value.message == "cannot execute INSERT in a read-only transaction"
    assert anon.table("kv").select("key").eq("key", key).execute().data == []


def test_rpc_head_with_count(anon):
    res = anon.rpc("gadgets_tagged", {"tag": "outdoor"}, count="exact", head=True).execute()
    assert res.count == 2
    assert res.data == []


def test_rpc_unknown_function(anon):
    with pytest.raises(APIError) as err:
        anon.rpc("no_such_function", {"x": 1}).execute()
    assert err.value.code == "not_found"
    assert (
        err.value.message
        == "Could not find the function public.no_such_function(x) in the schema cache"
    )
    assert err.value.hint is None
    assert err.value.details == (
        "Searched for the function public.no_such_function with parameter x or with a "
        "single unnamed json/jsonb parameter, but no matches were found in the schema cache."
    )


def test_rpc_wrong_argument_names(anon):
    with pytest.raises(APIError) as err:
        anon.rpc("add_them", {"a": 1, "c": 2}).execute()
    assert err.value.code == "not_found"
    assert (
        err.value.message == "Could not find the function public.add_them(a, c) in the schema cache"
    )
    assert err.value.details == (
        "Searched for the function public.add_them with parameters a, c or with a "
        "single unnamed json/jsonb parameter, but no matches were found in the schema cache."
    )
    assert err.value.hint == "Perhaps you meant to call the function public.add_them(a, b)"


def test_rpc_missing_arguments(anon):
    with pytest.raises(APIError) as err:
        anon.rpc("add_them", {}, get=True).execute()
    assert err.value.code == "not_found"
    assert (
        err.value.message
        == "Could not find the function public.add_them without parameters in the schema cache"
    )
    assert err.value.details == (
        "Searched for the function public.add_them without parameters, "
        "but no matches were found in the schema cache."
    )
