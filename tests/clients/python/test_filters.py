"""Horizontal filtering: every operator the client builds, as PostgREST applies it."""


def names(res):
    return [r["name"] for r in res.data]


def test_comparison_operators(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").eq("price", 42).execute()) == ["Portable Hole"]
    assert names(
        t.select("name").neq("maker_id", 1).order("id").execute()
    ) == ["Portable Hole", "Stapler"]  # NULL maker_id is not "not equal"
    assert names(t.select("name").gt("price", 42).execute()) == ["Rocket Skates"]
    assert names(
        t.select("name").gte("price", 42).order("id").execute()
    ) == ["Rocket Skates", "Portable Hole"]
    assert names(t.select("name").lt("price", 15).execute()) == ["Stapler"]
    assert names(
        t.select("name").lte("price", 15).order("id").execute()
    ) == ["Giant Magnet", "Stapler"]
    assert names(
        t.select("name").gte("released", "2020-01-01").lt("released", "2021-12-31").order("id").execute()
    ) == ["Rocket Skates", "Portable Hole"]


def test_like_and_ilike(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").like("name", "%et%").order("id").execute()) == [
        "Rocket Skates",
        "Giant Magnet",
        "Widget",
    ]
    assert names(t.select("name").like("name", "p%").execute()) == []
    assert names(t.select("name").ilike("name", "p%").execute()) == ["Portable Hole"]
    # `*` is PostgREST's URL-friendly alias for `%`.
    assert names(t.select("name").ilike("name", "*MAGNET").execute()) == ["Giant Magnet"]


def test_is_null_true_false(anon, user):
    t = anon.table("gadgets")
    assert names(t.select("name").is_("price", None).execute()) == ["Widget"]
    assert names(t.select("name").is_("available", "null").execute()) == ["Stapler"]
    assert names(
        t.select("name").not_.is_("maker_id", None).order("id").execute()
    ) == ["Rocket Skates", "Giant Magnet", "Portable Hole", "Stapler"]
    done = (
        user.table("todos")
        .select("task")
        .in_("task", ["buy milk", "walk dog", "write code"])
        .is_("done", True)
        .execute()
    )
    assert done.data == [{"task": "walk dog"}]


def test_in_with_quoting(anon):
    res = (
        anon.table("gadgets")
        .select("id")
        .in_("name", ["Stapler", "Portable Hole", "a,b", 'x"y', "Nope"])
        .order("id")
        .execute()
    )
    assert res.data == [{"id": 3}, {"id": 4}]
    assert anon.table("gadgets").select("id").in_("id", []).execute().data == []
    res = anon.table("gadgets").select("id").not_.in_("id", [1, 2, 3]).order("id").execute()
    assert res.data == [{"id": 4}, {"id": 5}]


def test_array_contains_contained_by_overlaps(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").contains("tags", ["outdoor"]).order("id").execute()) == [
        "Rocket Skates",
        "Portable Hole",
    ]
    assert names(
        t.select("name").contained_by("tags", ["speed", "outdoor", "metal"]).order("id").execute()
    ) == ["Rocket Skates", "Giant Magnet", "Widget"]
    assert names(t.select("name").ov("tags", ["magic", "metal"]).order("id").execute()) == [
        "Giant Magnet",
        "Portable Hole",
    ]


def test_jsonb_contains_and_contained_by(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").contains("specs", {"color": "red"}).order("id").execute()) == [
        "Rocket Skates",
        "Stapler",
    ]
    assert names(
        t.select("name")
        .contained_by("specs", {"color": "red", "wheels": 4, "staples": 50})
        .order("id")
        .execute()
    ) == ["Rocket Skates", "Stapler", "Widget"]


def test_range_operators(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").contains("available", "[2,4]").order("id").execute()) == [
        "Rocket Skates"
    ]
    assert names(t.select("name").contained_by("available", "[0,25)").order("id").execute()) == [
        "Rocket Skates",
        "Giant Magnet",
        "Widget",
    ]
    assert names(t.select("name").ov("available", "[15,22)").order("id").execute()) == [
        "Giant Magnet",
        "Portable Hole",
    ]
    # sr/sl with the client's "(a,b)" literals: (5,15) is [6,15), (1,6) is [2,6).
    assert names(t.select("name").range_gt("available", (5, 15)).execute()) == ["Portable Hole"]
    assert names(t.select("name").range_lt("available", (1, 6)).execute()) == ["Widget"]
    # (9,20) is [10,20): adjacent to [1,10) and to [20,30).
    assert names(
        t.select("name").range_adjacent("available", (9, 20)).order("id").execute()
    ) == ["Rocket Skates", "Portable Hole"]


def test_full_text_search(anon):
    t = anon.table("gadgets")
    assert names(
        t.select("name").text_search("fts", "rockets", {"config": "english"}).execute()
    ) == ["Rocket Skates"]
    assert names(
        t.select("name")
        .text_search("fts", "magnet strong", {"type": "plain", "config": "english"})
        .execute()
    ) == ["Giant Magnet"]
    assert names(
        t.select("name")
        .text_search("fts", "red stapler", {"type": "phrase", "config": "english"})
        .execute()
    ) == ["Stapler"]
    assert names(
        t.select("name")
        .text_search("fts", "pocket or anvils", {"type": "web_search", "config": "english"})
        .order("id")
        .execute()
    ) == ["Giant Magnet", "Portable Hole"]
    # tsquery syntax with the default fts operator.
    assert names(t.select("name").fts("fts", "fold & pocket").execute()) == ["Portable Hole"]


def test_match_not_and_or(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").match({"maker_id": 1, "name": "Giant Magnet"}).execute()) == [
        "Giant Magnet"
    ]
    assert names(t.select("name").not_.eq("maker_id", 1).order("id").execute()) == [
        "Portable Hole",
        "Stapler",
    ]
    assert names(t.select("name").not_.like("name", "%e%").execute()) == []
    assert names(
        t.select("name").or_("price.lt.10,tags.cs.{magic}").order("id").execute()
    ) == ["Portable Hole", "Stapler"]
    assert names(
        t.select("name")
        .or_("and(maker_id.eq.1,price.gt.50),name.eq.Widget")
        .order("id")
        .execute()
    ) == ["Rocket Skates", "Widget"]
    assert names(
        t.select("name").not_.or_("maker_id.eq.1,price.is.null").order("id").execute()
    ) == ["Portable Hole", "Stapler"]


def test_generic_filter(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").filter("tags", "cs", "{speed}").execute()) == ["Rocket Skates"]
    assert names(
        t.select("name").filter("name", "in", '("Stapler","Widget")').order("id").execute()
    ) == ["Stapler", "Widget"]
    assert names(t.select("name").filter("price", "not.gt", "20").order("id").execute()) == [
        "Giant Magnet",
        "Stapler",
    ]
    assert names(t.select("name").filter("specs->>wheels", "eq", "4").execute()) == [
        "Rocket Skates"
    ]


def test_like_ilike_any_all_of(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").like_any_of("name", "%Hole,%Magnet").order("id").execute()) == [
        "Giant Magnet",
        "Portable Hole",
    ]
    assert names(t.select("name").like_all_of("name", "%o%,%e%").order("id").execute()) == [
        "Rocket Skates",
        "Portable Hole",
    ]
    assert names(t.select("name").ilike_any_of("name", "g%,w%").order("id").execute()) == [
        "Giant Magnet",
        "Widget",
    ]


def test_quantifiers_isdistinct_regex_and_not_null(anon):
    t = anon.table("gadgets")
    assert names(t.select("name").filter("id", "eq(any)", "{1,3}").order("id").execute()) == [
        "Rocket Skates",
        "Portable Hole",
    ]
    assert names(t.select("name").filter("price", "gt(all)", "{10,40}").order("id").execute()) == [
        "Rocket Skates",
        "Portable Hole",
    ]
    # isdistinct treats NULL as a value.
    assert names(t.select("name").filter("maker_id", "isdistinct", "1").order("id").execute()) == [
        "Portable Hole",
        "Stapler",
        "Widget",
    ]
    assert names(t.select("name").filter("name", "imatch", "^g").execute()) == ["Giant Magnet"]
    assert names(t.select("name").filter("name", "match", "e[rt]$").order("id").execute()) == [
        "Giant Magnet",
        "Stapler",
        "Widget",
    ]
    assert names(t.select("name").is_("released", "not_null").order("id").execute()) == [
        "Rocket Skates",
        "Giant Magnet",
        "Portable Hole",
        "Stapler",
    ]


def test_fts_on_a_text_column(anon):
    t = anon.table("gadgets")
    # On a text column PostgREST applies to_tsvector(config, column) itself.
    assert names(
        t.select("name").text_search("description", "anvils", {"config": "english"}).execute()
    ) == ["Giant Magnet"]
    assert names(t.select("name").filter("description", "plfts", "rockets").execute()) == [
        "Rocket Skates"
    ]


def test_array_equality_and_unicode_values(anon):
    assert names(anon.table("gadgets").select("name").eq("tags", "{office}").execute()) == [
        "Stapler"
    ]
    res = anon.table("authors").select("id, country").eq("name", "Stanisław Lem").execute()
    assert res.data == [{"id": 4, "country": "PL"}]
    res = anon.table("authors").select("id").like("name", "%ław %").execute()
    assert res.data == [{"id": 4}]
