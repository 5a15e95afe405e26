"""Reads: columns, aliases, casts, JSON paths, embeds, order, paging, singular
responses, CSV and counts, as PostgREST answers them."""

import pytest
from postgrest import APIError


def test_columns_aliases_and_casts(anon):
    res = (
        anon.table("gadgets")
        .select("id", "label:name", "price::text", "released::text")
        .in_("id", [1, 5])
        .order("id")
        .execute()
    )
    assert res.data == [
        {"id": 1, "label": "Rocket Skates", "price": "99.50", "released": "2020-01-15"},
        {"id": 5, "label": "Widget", "price": None, "released": None},
    ]
    assert res.count is None


def test_value_types_render_like_postgresql_json(anon):
    res = (
        anon.table("gadgets")
        .select("id,price,tags,specs,available,released,fts")
        .eq("id", 3)
        .execute()
    )
    assert res.data == [
        {
            "id": 3,
            "price": 42.00,
            "tags": ["outdoor", "magic"],
            "specs": {"color": "black"},
            "available": "[20,30)",
            "released": "2021-03-10",
            "fts": "'anywher':7 'fold':1 'open':6 'pocket':4",
        }
    ]


def test_json_paths_in_select_and_filter(anon):
    res = (
        anon.table("gadgets")
        .select("id, color:specs->>color, specs->wheels, staples:specs->staples::int")
        .eq("specs->>color", "red")
        .order("id")
        .execute()
    )
    # `specs->wheels` is named after its last key; `->` keeps JSON, `->>` text.
    assert res.data == [
        {"id": 1, "color": "red", "wheels": 4, "staples": None},
        {"id": 4, "color": "red", "wheels": None, "staples": 50},
    ]
    # On a non-JSON column the path applies to to_jsonb(column).
    arr = anon.table("gadgets").select("id, first_tag:tags->>0, tags->1").eq("id", 1).execute()
    assert arr.data == [{"id": 1, "first_tag": "speed", "tags": "outdoor"}]


def test_embed_many_to_one(anon):
    res = (
        anon.table("gadgets")
        .select("name, makers(name, country)")
        .in_("id", [3, 4, 5])
        .order("id")
        .execute()
    )
    assert res.data == [
        {"name": "Portable Hole", "makers": {"name": "Globex", "country": "DE"}},
        {"name": "Stapler", "makers": {"name": "Initech", "country": None}},
        {"name": "Widget", "makers": None},
    ]


def test_embed_one_to_many_with_alias_order_and_limit(anon):
    res = (
        anon.table("makers")
        .select("name, products:gadgets(name, price)")
        .order("id")
        .order("price", desc=True, foreign_table="products")
        .execute()
    )
    assert res.data == [
        {
            "name": "Acme",
            "products": [
                {"name": "Rocket Skates", "price": 99.5},
                {"name": "Giant Magnet", "price": 15.0},
            ],
        },
        {"name": "Globex", "products": [{"name": "Portable Hole", "price": 42.0}]},
        {"name": "Initech", "products": [{"name": "Stapler", "price": 7.25}]},
    ]
    limited = (
        anon.table("gadgets")
        .select("name, parts(name)")
        .lte("id", 2)
        .order("id")
        .order("weight", desc=True, foreign_table="parts")
        .limit(1, foreign_table="parts")
        .execute()
    )
    assert limited.data == [
        {"name": "Rocket Skates", "parts": [{"name": "Rocket"}]},
        {"name": "Giant Magnet", "parts": [{"name": "Coil"}]},
    ]


def test_nested_embed_and_empty_to_many(anon):
    res = (
        anon.table("makers")
        .select("name, gadgets(name, parts(name))")
        .eq("id", 1)
        .order("id", foreign_table="gadgets")
        .order("id", foreign_table="gadgets.parts")
        .execute()
    )
    assert res.data == [
        {
            "name": "Acme",
            "gadgets": [
                {
                    "name": "Rocket Skates",
                    "parts": [{"name": "Wheel"}, {"name": "Rocket"}, {"name": "Strap"}],
                },
                {"name": "Giant Magnet", "parts": [{"name": "Coil"}]},
            ],
        }
    ]
    empty = anon.table("gadgets").select("name, parts(name)").eq("id", 5).execute()
    assert empty.data == [{"name": "Widget", "parts": []}]


def test_embedded_filter_without_and_with_inner(anon):
    # A filter on the embedded table only filters the embedded rows...
    loose = (
        anon.table("makers")
        .select("name, gadgets(name)")
        .lt("gadgets.price", 20)
        .order("id")
        .execute()
    )
    assert loose.data == [
        {"name": "Acme", "gadgets": [{"name": "Giant Magnet"}]},
        {"name": "Globex", "gadgets": []},
        {"name": "Initech", "gadgets": [{"name": "Stapler"}]},
    ]
    # ...and with !inner it filters the parents too.
    inner = (
        anon.table("gadgets")
        .select("name, parts!inner(name)")
        .gt("parts.weight", 200)
        .order("id")
        .execute()
    )
    assert inner.data == [
        {"name": "Rocket Skates", "parts": [{"name": "Rocket"}]},
        {"name": "Giant Magnet", "parts": [{"name": "Coil"}]},
    ]


def test_inner_embed_many_to_one_filter(anon):
    res = (
        anon.table("gadgets")
        .select("name, makers!inner(name)")
        .eq("makers.country", "US")
        .order("id")
        .execute()
    )
    assert res.data == [
        {"name": "Rocket Skates", "makers": {"name": "Acme"}},
        {"name": "Giant Magnet", "makers": {"name": "Acme"}},
    ]


def test_spread_and_or_on_referenced_table(anon):
    spread = (
        anon.table("gadgets")
        .select("name, ...makers(maker:name)")
        .eq("id", 3)
        .execute()
    )
    assert spread.data == [{"name": "Portable Hole", "maker": "Globex"}]
    ored = (
        anon.table("makers")
        .select("name, gadgets(name)")
        .or_("name.eq.Stapler,price.gt.50", reference_table="gadgets")
        .order("id")
        .execute()
    )
    assert ored.data == [
        {"name": "Acme", "gadgets": [{"name": "Rocket Skates"}]},
        {"name": "Globex", "gadgets": []},
        {"name": "Initech", "gadgets": [{"name": "Stapler"}]},
    ]


def test_bookstore_embed_with_unicode(anon):
    res = (
        anon.table("books")
        .select("title, author:authors(name, country)")
        .eq("id", 8)
        .execute()
    )
    assert res.data == [
        {"title": "Solaris", "author": {"name": "Stanisław Lem", "country": "PL"}}
    ]


def test_order_desc_nullsfirst_and_multiple_columns(anon):
    res = (
        anon.table("gadgets")
        .select("name,price")
        .order("price", desc=True, nullsfirst=True)
        .execute()
    )
    assert [r["name"] for r in res.data] == [
        "Widget",
        "Rocket Skates",
        "Portable Hole",
        "Giant Magnet",
        "Stapler",
    ]
    asc = anon.table("gadgets").select("name").order("price").execute()
    # Ascending puts NULLs last by default.
    assert [r["name"] for r in asc.data] == [
        "Stapler",
        "Giant Magnet",
        "Portable Hole",
        "Rocket Skates",
        "Widget",
    ]
    multi = (
        anon.table("books")
        .select("author_id,title")
        .lte("author_id", 2)
        .order("author_id", desc=True)
        .order("published_year")
        .execute()
    )
    assert multi.data == [
        {"author_id": 2, "title": "Consider Phlebas"},
        {"author_id": 2, "title": "The Player of Games"},
        {"author_id": 1, "title": "A Wizard of Earthsea"},
        {"author_id": 1, "title": "The Left Hand of Darkness"},
        {"author_id": 1, "title": "The Dispossessed"},
    ]


def test_limit_and_range(anon):
    limited = anon.table("gadgets").select("id").order("id").limit(2).execute()
    assert limited.data == [{"id": 1}, {"id": 2}]
    ranged = anon.table("gadgets").select("id").order("id").range(1, 3).execute()
    assert ranged.data == [{"id": 2}, {"id": 3}, {"id": 4}]
    past_end = anon.table("gadgets").select("id").order("id").range(10, 12).execute()
    assert past_end.data == []


def test_single_returns_an_object(anon):
    res = (
        anon.table("gadgets")
        .select("name, tags, makers(name)")
        .eq("id", 1)
        .single()
        .execute()
    )
    assert res.data == {
        "name": "Rocket Skates",
        "tags": ["speed", "outdoor"],
        "makers": {"name": "Acme"},
    }


def test_single_with_zero_or_many_rows_is_406(anon):
    with pytest.raises(APIError) as zero:
        anon.table("gadgets").select("id").eq("id", 999).single().execute()
    assert zero.value.code == "not_acceptable"
    assert zero.value.message == "Cannot coerce the result to a single JSON object"
    assert zero.value.details == "The result contains 0 rows"
    assert zero.value.hint is None

    with pytest.raises(APIError) as many:
        anon.table("gadgets").select("id").single().execute()
    assert many.value.code == "not_acceptable"
    assert many.value.message == "Cannot coerce the result to a single JSON object"
    assert many.value.details == "The result contains 5 rows"
    assert many.value.hint is None


def test_maybe_single_zero_and_one_row(anon):
    none = anon.table("gadgets").select("id").eq("id", 999).maybe_single().execute()
    assert none is None
    one = (
        anon.table("gadgets")
        .select("id, name")
        .eq("name", "Giant Magnet")
        .maybe_single()
        .execute()
    )
    assert one is not None
    assert one.data == {"id": 2, "name": "Giant Magnet"}
    # More than one row is refused (by the client, from the array it got).
    with pytest.raises(APIError) as many:
        anon.table("gadgets").select("id").eq("maker_id", 1).maybe_single().execute()
    assert many.value.details == "The result contains more than one row."


def test_csv(anon):
    res = anon.table("gadgets").select("id,name,price,tags").order("id").csv().execute()
    # PostgREST renders each row as PostgreSQL's record text without the
    # parentheses: values with spaces/commas/braces are double-quoted, NULL is empty.
    assert res.data == (
        "id,name,price,tags\n"
        '1,"Rocket Skates",99.50,"{speed,outdoor}"\n'
        '2,"Giant Magnet",15.00,{metal}\n'
        '3,"Portable Hole",42.00,"{outdoor,magic}"\n'
        "4,Stapler,7.25,{office}\n"
        "5,Widget,,{}"
    )


def test_count_exact_with_data_and_with_head(anon):
    res = (
        anon.table("gadgets")
        .select("id", count="exact")
        .eq("maker_id", 1)
        .order("id")
        .execute()
    )
    assert res.data == [{"id": 1}, {"id": 2}]
    assert res.count == 2

    paged = anon.table("gadgets").select("id", count="exact").order("id").range(0, 1).execute()
    assert paged.data == [{"id": 1}, {"id": 2}]
    assert paged.count == 5

    head = anon.table("gadgets").select("*", count="exact", head=True).execute()
    assert head.data == []
    assert head.count == 5

    # reviews has RLS: anon counts only the published ones.
    reviews = anon.table("reviews").select("*", count="exact", head=True).execute()
    assert reviews.count == 3


def test_unknown_column_error(anon):
    with pytest.raises(APIError) as err:
        anon.table("gadgets").select("id,zzzzzzzz").execute()
    # PostgREST: 400 with PostgreSQL's code 42703; this server: 422 invalid_request.
    assert err.value.code == "invalid_request"
    assert err.value.message == "column gadgets.zzzzzzzz does not exist"
    assert err.value.details is None
    assert err.value.hint is None


def test_unknown_table_error(anon):
    with pytest.raises(APIError) as err:
        anon.table("no_such_table").select("*").execute()
    assert err.value.code == "not_found"
    assert (
        err.value.message
        == "Could not find the table 'public.no_such_table' in the schema cache"
    )
    assert err.value.details is None
    assert err.value.hint is None
    with pytest.raises(APIError) as close:
        anon.table("gadgts").select("*").execute()
    assert close.value.code == "not_found"
    assert close.value.message == "Could not find the table 'public.gadgts' in the schema cache"
    assert close.value.hint == "Perhaps you meant the table 'public.gadgets'"


def test_unknown_relationship_error(anon):
    with pytest.raises(APIError) as err:
        anon.table("gadgets").select("name, authors(name)").execute()
    assert err.value.code == "invalid_request"
    assert (
        err.value.message
        == "Could not find a relationship between 'gadgets' and 'authors' in the schema cache"
    )
    assert err.value.details == (
        "Searched for a foreign key relationship between 'gadgets' and 'authors' "
        "in the schema 'public', but no matches were found."
    )


def test_invalid_input_syntax_error(anon):
    with pytest.raises(APIError) as err:
        anon.table("gadgets").select("id").eq("id", "abc").execute()
    # PostgREST: 400 with PostgreSQL's code 22P02; this server: 422 invalid_request.
    assert err.value.code == "invalid_request"
    assert err.value.message == 'invalid input syntax for type integer: "abc"'
    assert err.value.details is None
    assert err.value.hint is None
    # `in` elements are always quoted: None becomes the string "null", not NULL.
    with pytest.raises(APIError) as null_in:
        anon.table("gadgets").select("id").in_("maker_id", [None, 1]).execute()
    assert null_in.value.message == 'invalid input syntax for type integer: "null"'


def test_order_by_json_path_and_to_one_embed(anon):
    by_json = (
        anon.table("gadgets")
        .select("id, color:specs->>color")
        .order("specs->>color", desc=True)
        .order("id")
        .execute()
    )
    # DESC puts NULLs first unless told otherwise.
    assert by_json.data == [
        {"id": 5, "color": None},
        {"id": 1, "color": "red"},
        {"id": 4, "color": "red"},
        {"id": 2, "color": "grey"},
        {"id": 3, "color": "black"},
    ]
    by_embed = (
        anon.table("gadgets")
        .select("id, makers(name)")
        .order("makers(name)", desc=True, nullsfirst=False)
        .order("id")
        .execute()
    )
    assert [r["id"] for r in by_embed.data] == [4, 3, 1, 2, 5]


def test_relationship_hints_and_left_join(anon):
    for hint in ("maker_id", "gadgets_maker_id_fkey"):
        res = (
            anon.table("makers")
            .select(f"name, gadgets!{hint}(name)")
            .eq("id", 2)
            .execute()
        )
        assert res.data == [{"name": "Globex", "gadgets": [{"name": "Portable Hole"}]}]
    left = anon.table("gadgets").select("name, makers!left(name)").eq("id", 5).execute()
    assert left.data == [{"name": "Widget", "makers": None}]


def test_null_filters_on_embeds(anon):
    no_maker = anon.table("gadgets").select("name, makers()").is_("makers", None).execute()
    # An empty embed `makers()` only serves the filter and is not in the output.
    assert no_maker.data == [{"name": "Widget"}]
    no_parts = (
        anon.table("gadgets")
        .select("name, parts()")
        .is_("parts", None)
        .order("id")
        .execute()
    )
    assert no_parts.data == [{"name": "Stapler"}, {"name": "Widget"}]
    with_parts = (
        anon.table("gadgets")
        .select("name, parts(id)")
        .not_.is_("parts", None)
        .order("id")
        .limit(1, foreign_table="parts")
        .order("id", foreign_table="parts")
        .execute()
    )
    assert with_parts.data == [
        {"name": "Rocket Skates", "parts": [{"id": 1}]},
        {"name": "Giant Magnet", "parts": [{"id": 4}]},
        {"name": "Portable Hole", "parts": [{"id": 5}]},
    ]


def test_spread_to_many(anon):
    res = (
        anon.table("makers")
        .select("name, ...gadgets(gadget_names:name)")
        .order("id")
        .order("id", foreign_table="gadgets")
        .execute()
    )
    assert res.data == [
        {"name": "Acme", "gadget_names": ["Rocket Skates", "Giant Magnet"]},
        {"name": "Globex", "gadget_names": ["Portable Hole"]},
        {"name": "Initech", "gadget_names": ["Stapler"]},
    ]


def test_offset_limit_zero_and_embedded_range(anon):
    assert anon.table("gadgets").select("id").order("id").offset(3).execute().data == [
        {"id": 4},
        {"id": 5},
    ]
    assert anon.table("gadgets").select("id").limit(0).execute().data == []
    res = (
        anon.table("gadgets")
        .select("id, parts(name)")
        .eq("id", 1)
        .order("id", foreign_table="parts")
        .range(1, 2, foreign_table="parts")
        .execute()
    )
    assert res.data == [{"id": 1, "parts": [{"name": "Rocket"}, {"name": "Strap"}]}]


def test_csv_quoting_and_empty_result(anon):
    res = (
        anon.table("gadgets")
        .select("id,specs,available")
        .lte("id", 2)
        .order("id")
        .csv()
        .execute()
    )
    assert res.data == (
        "id,specs,available\n"
        '1,"{""color"": ""red"", ""wheels"": 4}","[1,10)"\n'
        '2,"{""color"": ""grey"", ""strength"": 9}","[5,20)"'
    )
    # No rows: an empty header line and an empty body.
    empty = anon.table("gadgets").select("id").gt("id", 100).csv().execute()
    assert empty.data == "\n"


def test_strip_nulls(anon):
    res = (
        anon.table("gadgets")
        .select("name, price, makers(name, country)")
        .in_("id", [4, 5])
        .order("id")
        .strip_nulls()
        .execute()
    )
    # json_strip_nulls over the whole result: null fields go at every depth.
    assert res.data == [
        {"name": "Stapler", "price": 7.25, "makers": {"name": "Initech"}},
        {"name": "Widget"},
    ]


def test_head_error_code_from_proxy_status(anon):
    with pytest.raises(APIError) as err:
        anon.table("no_such_table").select("*", count="exact", head=True).execute()
    # No body on HEAD: postgrest-py takes the code from Proxy-Status
    # (PostgREST: PGRST205; this server's code for it: not_found).
    assert err.value.code == "not_found"
    assert err.value.message == "Not Found"
    assert err.value.details is None


def test_inner_embed_count_and_single_strip_nulls(anon):
    res = (
        anon.table("gadgets")
        .select("name, parts!inner(name)", count="exact")
        .gt("parts.weight", 200)
        .order("id")
        .execute()
    )
    assert res.count == 2
    assert [r["name"] for r in res.data] == ["Rocket Skates", "Giant Magnet"]
    one = (
        anon.table("gadgets")
        .select("id, price, released, makers(name)")
        .eq("id", 5)
        .strip_nulls()
        .single()
        .execute()
    )
    assert one.data == {"id": 5}


def test_prefer_timezone_renders_timestamps_in_that_zone(anon, service):
    import os

    from postgrest import SyncPostgrestClient

    inserted = (
        service.from_("notes")
        .insert({"title": "tz", "created": "2024-07-01T12:00:00+00:00"})
        .execute()
    )
    note = inserted.data[0]["id"]
    headers = dict(anon.session.headers)
    headers["Prefer"] = "timezone=Asia/Kolkata"
    with SyncPostgrestClient(os.environ["POSTGREST_URL"], headers=headers) as kolkata:
        rows = kolkata.from_("notes").select("created").eq("id", note).execute()
    assert rows.data == [{"created": "2024-07-01T17:30:00+05:30"}]
    plain = anon.from_("notes").select("created").eq("id", note).execute()
    assert plain.data == [{"created": "2024-07-01T12:00:00+00:00"}]


def test_aggregates_group_by_the_other_selected_columns(anon):
    grouped = (
        anon.from_("gadgets")
        .select("maker_id, total:price.sum(), count()")
        .not_.is_("maker_id", "null")
        .order("maker_id")
        .execute()
    )
    assert grouped.data == [
        {"maker_id": 1, "total": 114.5, "count": 2},
        {"maker_id": 2, "total": 42, "count": 1},
        {"maker_id": 3, "total": 7.25, "count": 1},
    ]
    embedded = anon.from_("makers").select("name, gadgets(price.max())").order("id").execute()
    assert embedded.data == [
        {"name": "Acme", "gadgets": [{"max": 99.5}]},
        {"name": "Globex", "gadgets": [{"max": 42}]},
        {"name": "Initech", "gadgets": [{"max": 7.25}]},
    ]
