//! Resource embedding: to-one, to-many, many-to-many, hints, !inner, embedded
//! parameters, null filters, spreads, views and chains of views.

use serde_json::json;

use crate::support::{get, scratch, send_body};

const FILMS: &str = "
CREATE TABLE directors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE films (id int PRIMARY KEY, title text NOT NULL, year int, director_id int REFERENCES directors (id));
CREATE TABLE film_details (film_id int PRIMARY KEY REFERENCES films (id), budget int);
CREATE TABLE actors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE roles (
  film_id int REFERENCES films (id), actor_id int REFERENCES actors (id), character text,
  PRIMARY KEY (film_id, actor_id)
);
CREATE TABLE people (id int PRIMARY KEY, name text);
CREATE TABLE messages (
  id int PRIMARY KEY, body text,
  sender_id int CONSTRAINT message_sender REFERENCES people (id),
  receiver_id int CONSTRAINT message_receiver REFERENCES people (id)
);
CREATE TABLE employees (id int PRIMARY KEY, name text, manager_id int REFERENCES employees (id));
CREATE VIEW recent_films AS SELECT id, title, year, director_id FROM films WHERE year >= 2000;
CREATE VIEW recent_titles AS SELECT id AS film_id, title AS name, director_id AS by FROM recent_films;

INSERT INTO directors VALUES (1, 'Tarkovsky'), (2, 'Villeneuve'), (3, 'Nobody');
INSERT INTO films VALUES (1, 'Solaris', 1972, 1), (2, 'Stalker', 1979, 1), (3, 'Arrival', 2016, 2),
  (4, 'Dune', 2021, 2), (5, 'Orphan', 2000, NULL);
INSERT INTO film_details VALUES (1, 1000), (3, 47000);
INSERT INTO actors VALUES (1, 'Banionis'), (2, 'Adams'), (3, 'Renner'), (4, 'Chalamet');
INSERT INTO roles VALUES (1, 1, 'Kelvin'), (3, 2, 'Louise'), (3, 3, 'Ian'), (4, 4, 'Paul');
INSERT INTO people VALUES (1, 'Ann'), (2, 'Ben');
INSERT INTO messages VALUES (1, 'hi', 1, 2), (2, 'yo', 2, 1), (3, 'again', 1, 2);
INSERT INTO employees VALUES (1, 'Boss', NULL), (2, 'Mid', 1), (3, 'Low', 2), (4, 'Low2', 2);
CREATE FUNCTION old_films() RETURNS SETOF films LANGUAGE sql STABLE AS $$ SELECT * FROM films WHERE year < 1990 $$;
";

async fn check(svc: &tower_postgrest::RestService, uri: &str, expected: serde_json::Value) {
    let reply = get(svc, uri).await;
    assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
    assert_eq!(reply.json(), expected, "{uri}");
}

#[tokio::test]
async fn to_one_to_many_one_to_one_and_many_to_many() {
    let (svc, _) = scratch(FILMS).await;
    check(
        &svc,
        "/films?select=title,director:directors(name)&order=id&id=in.(1,5)",
        json!([{"title": "Solaris", "director": {"name": "Tarkovsky"}}, {"title": "Orphan", "director": null}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,films(title)&order=id&films.order=year.desc",
        json!([
            {"name": "Tarkovsky", "films": [{"title": "Stalker"}, {"title": "Solaris"}]},
            {"name": "Villeneuve", "films": [{"title": "Dune"}, {"title": "Arrival"}]},
            {"name": "Nobody", "films": []}
        ]),
    )
    .await;
    check(
        &svc,
        "/films?select=title,film_details(budget)&order=id&id=lt.3",
        json!([{"title": "Solaris", "film_details": {"budget": 1000}}, {"title": "Stalker", "film_details": null}]),
    )
    .await;
    check(
        &svc,
        "/film_details?select=budget,films(title)&order=film_id",
        json!([{"budget": 1000, "films": {"title": "Solaris"}}, {"budget": 47000, "films": {"title": "Arrival"}}]),
    )
    .await;
    check(
        &svc,
        "/films?select=title,actors(name)&id=in.(1,2,3)&order=id&actors.order=name",
        json!([
            {"title": "Solaris", "actors": [{"name": "Banionis"}]},
            {"title": "Stalker", "actors": []},
            {"title": "Arrival", "actors": [{"name": "Adams"}, {"name": "Renner"}]}
        ]),
    )
    .await;
    // Nested to any depth, with the junction's own columns.
    check(
        &svc,
        "/directors?select=name,films(title,roles(character,actors(name)))&id=eq.2&films.order=id&films.roles.order=character",
        json!([{"name": "Villeneuve", "films": [
            {"title": "Arrival", "roles": [
                {"character": "Ian", "actors": {"name": "Renner"}},
                {"character": "Louise", "actors": {"name": "Adams"}}
            ]},
            {"title": "Dune", "roles": [{"character": "Paul", "actors": {"name": "Chalamet"}}]}
        ]}]),
    )
    .await;
    // `*` with an embed.
    check(
        &svc,
        "/films?select=*,directors(*)&id=eq.3",
        json!([{"id": 3, "title": "Arrival", "year": 2016, "director_id": 2, "directors": {"id": 2, "name": "Villeneuve"}}]),
    )
    .await;
}

#[tokio::test]
async fn hints_ambiguity_and_self_references() {
    let (svc, _) = scratch(FILMS).await;
    let reply = get(&svc, "/messages?select=body,people(name)").await;
    let body = reply.error(300, "ambiguous");
    assert_eq!(
        body["message"],
        "Could not embed because more than one relationship was found for 'messages' and 'people'"
    );
    assert_eq!(body["details"].as_array().unwrap().len(), 2);
    assert_eq!(body["details"][0]["cardinality"], "many-to-one");
    assert_eq!(body["details"][0]["embedding"], "messages with people");
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("'people!message_receiver'"),
        "{body}"
    );

    check(
        &svc,
        "/messages?select=body,sender:people!sender_id(name),receiver:people!message_receiver(name)&order=id&limit=2",
        json!([
            {"body": "hi", "sender": {"name": "Ann"}, "receiver": {"name": "Ben"}},
            {"body": "yo", "sender": {"name": "Ben"}, "receiver": {"name": "Ann"}}
        ]),
    )
    .await;
    check(
        &svc,
        "/people?select=name,sent:messages!sender_id(body)&order=id&sent.order=id",
        json!([{"name": "Ann", "sent": [{"body": "hi"}, {"body": "again"}]}, {"name": "Ben", "sent": [{"body": "yo"}]}]),
    )
    .await;
    // Self-reference: the table's name, or `table!key_column`, is the
    // one-to-many side; the key column's name the many-to-one.
    check(
        &svc,
        "/employees?select=name,manager:manager_id(name),reports:employees(name),r:employees!manager_id(name)&id=eq.2&reports.order=id&r.order=id",
        json!([{"name": "Mid", "manager": {"name": "Boss"}, "reports": [{"name": "Low"}, {"name": "Low2"}],
                "r": [{"name": "Low"}, {"name": "Low2"}]}]),
    )
    .await;
    let body = get(&svc, "/films?select=title,producers(name)")
        .await
        .error(422, "invalid_request");
    assert_eq!(
        body["message"],
        "Could not find a relationship between 'films' and 'producers' in the schema cache"
    );
    let body = get(&svc, "/films?select=title,directors!nope(name)")
        .await
        .error(422, "invalid_request");
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .starts_with("Searched for a foreign key relationship"),
        "{body}"
    );
}

#[tokio::test]
async fn inner_joins_embedded_parameters_and_null_filters() {
    let (svc, _) = scratch(FILMS).await;
    check(
        &svc,
        "/films?select=title,directors!inner(name)&order=id&limit=10",
        json!([
            {"title": "Solaris", "directors": {"name": "Tarkovsky"}},
            {"title": "Stalker", "directors": {"name": "Tarkovsky"}},
            {"title": "Arrival", "directors": {"name": "Villeneuve"}},
            {"title": "Dune", "directors": {"name": "Villeneuve"}}
        ]),
    )
    .await;
    // Embedded filters narrow the embed; with !inner, the parents too.
    check(
        &svc,
        "/directors?select=name,films(title)&films.year=gt.2017&order=id",
        json!([{"name": "Tarkovsky", "films": []}, {"name": "Villeneuve", "films": [{"title": "Dune"}]}, {"name": "Nobody", "films": []}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,films!inner(title)&films.year=gt.2017",
        json!([{"name": "Villeneuve", "films": [{"title": "Dune"}]}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,films(title)&films.or=(year.lt.1975,year.gt.2020)&films.order=id&id=lt.3&order=id",
        json!([{"name": "Tarkovsky", "films": [{"title": "Solaris"}]}, {"name": "Villeneuve", "films": [{"title": "Dune"}]}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,films(title)&films.order=year.desc&films.limit=1&films.offset=1&id=lt.3&order=id",
        json!([{"name": "Tarkovsky", "films": [{"title": "Solaris"}]}, {"name": "Villeneuve", "films": [{"title": "Arrival"}]}]),
    )
    .await;
    // Null filters, with an empty embed used only to filter.
    check(
        &svc,
        "/directors?select=name,films()&films=is.null",
        json!([{"name": "Nobody"}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,films()&films=not.is.null&order=id",
        json!([{"name": "Tarkovsky"}, {"name": "Villeneuve"}]),
    )
    .await;
    // Order by a to-one embed's column.
    check(
        &svc,
        "/films?select=title,directors(name)&directors=not.is.null&order=directors(name).desc,id",
        json!([
            {"title": "Arrival", "directors": {"name": "Villeneuve"}},
            {"title": "Dune", "directors": {"name": "Villeneuve"}},
            {"title": "Solaris", "directors": {"name": "Tarkovsky"}},
            {"title": "Stalker", "directors": {"name": "Tarkovsky"}}
        ]),
    )
    .await;
    // Counting follows !inner.
    let reply = crate::support::send(
        &svc,
        "GET",
        "/films?select=id,directors!inner(id)&limit=1",
        &[("prefer", "count=exact")],
    )
    .await;
    assert_eq!(reply.header("content-range"), "0-0/4");

    get(&svc, "/films?select=title&directors.name=eq.x")
        .await
        .error(422, "invalid_request");
    get(
        &svc,
        "/directors?select=name,films(title)&order=films(title)",
    )
    .await
    .error(422, "invalid_request");
}

#[tokio::test]
async fn spreads() {
    let (svc, _) = scratch(FILMS).await;
    check(
        &svc,
        "/films?select=title,...directors(director:name)&id=in.(3,5)&order=id",
        json!([{"title": "Arrival", "director": "Villeneuve"}, {"title": "Orphan", "director": null}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,...films(titles:title,years:year)&id=lt.3&order=id&films.order=year",
        json!([
            {"name": "Tarkovsky", "titles": ["Solaris", "Stalker"], "years": [1972, 1979]},
            {"name": "Villeneuve", "titles": ["Arrival", "Dune"], "years": [2016, 2021]}
        ]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,...films(titles:title)&id=eq.3",
        json!([{"name": "Nobody", "titles": []}]),
    )
    .await;
    // A junction's data spread over many-to-many.
    check(
        &svc,
        "/films?select=title,roles(character,...actors(actor:name))&id=eq.3&roles.order=character",
        json!([{"title": "Arrival", "roles": [{"character": "Ian", "actor": "Renner"}, {"character": "Louise", "actor": "Adams"}]}]),
    )
    .await;
}

#[tokio::test]
async fn views_and_chains_of_views_inherit_relationships() {
    let (svc, _) = scratch(FILMS).await;
    check(
        &svc,
        "/recent_films?select=title,directors(name)&order=id",
        json!([
            {"title": "Arrival", "directors": {"name": "Villeneuve"}},
            {"title": "Dune", "directors": {"name": "Villeneuve"}},
            {"title": "Orphan", "directors": null}
        ]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,recent_films(title)&id=in.(1,2)&order=id&recent_films.order=id",
        json!([{"name": "Tarkovsky", "recent_films": []}, {"name": "Villeneuve", "recent_films": [{"title": "Arrival"}, {"title": "Dune"}]}]),
    )
    .await;
    // Two views deep, with renamed columns.
    check(
        &svc,
        "/recent_titles?select=name,directors(name)&order=film_id&limit=1",
        json!([{"name": "Arrival", "directors": {"name": "Villeneuve"}}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,recent_titles(name)&id=eq.2&recent_titles.order=film_id",
        json!([{"name": "Villeneuve", "recent_titles": [{"name": "Arrival"}, {"name": "Dune"}]}]),
    )
    .await;
}

#[tokio::test]
async fn embedding_on_writes_and_function_results() {
    let (svc, _) = scratch(FILMS).await;
    let reply = send_body(
        &svc,
        "POST",
        "/films?select=title,director:directors(name)",
        &[
            ("content-type", "application/json"),
            ("prefer", "return=representation"),
        ],
        r#"{"id": 9, "title": "Sicario", "year": 2015, "director_id": 2}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"title": "Sicario", "director": {"name": "Villeneuve"}}])
    );
    check(
        &svc,
        "/rpc/old_films?select=title,directors(name)&order=id",
        json!([{"title": "Solaris", "directors": {"name": "Tarkovsky"}}, {"title": "Stalker", "directors": {"name": "Tarkovsky"}}]),
    )
    .await;
}

#[tokio::test]
async fn computed_relationships() {
    let (svc, db) = scratch(FILMS).await;
    db.batch_execute(
        "CREATE FUNCTION classics(directors) RETURNS SETOF films LANGUAGE sql STABLE AS
           $$ SELECT * FROM films WHERE director_id = $1.id AND year < 1990 $$;
         CREATE FUNCTION maker(films) RETURNS directors LANGUAGE sql STABLE AS
           $$ SELECT * FROM directors WHERE id = $1.director_id $$;",
    )
    .await
    .unwrap();
    svc.schema_cache().reload().await.unwrap();
    check(
        &svc,
        "/directors?select=name,classics(title)&id=lt.3&order=id&classics.order=id",
        json!([{"name": "Tarkovsky", "classics": [{"title": "Solaris"}, {"title": "Stalker"}]}, {"name": "Villeneuve", "classics": []}]),
    )
    .await;
    check(
        &svc,
        "/films?select=title,maker(name)&id=in.(3,5)&order=id",
        json!([{"title": "Arrival", "maker": {"name": "Villeneuve"}}, {"title": "Orphan", "maker": null}]),
    )
    .await;
    check(
        &svc,
        "/directors?select=name,classics!inner(title)&classics.title=like.S*&order=id",
        json!([{"name": "Tarkovsky", "classics": [{"title": "Solaris"}, {"title": "Stalker"}]}]),
    )
    .await;
}

/// `rel.is.null` and `rel.not.is.null` inside `or=(…)` and `not.or=(…)`, at
/// the root and in an embed's own logic tree: whether the row has related rows
/// (after the embed's filters), as PostgREST reads them.
#[tokio::test]
async fn embed_null_tests_inside_logic_trees() {
    let (svc, db) = crate::support::scratch(
        "CREATE TABLE clients (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE projects (id int PRIMARY KEY, name text NOT NULL, client_id int REFERENCES clients);
         CREATE TABLE tasks (id int PRIMARY KEY, name text NOT NULL, project_id int REFERENCES projects);
         INSERT INTO clients VALUES (1, 'Microsoft'), (2, 'Apple'), (3, 'Nobody');
         INSERT INTO projects VALUES (1, 'Windows', 1), (2, 'Office', 1), (3, 'IOS', 2), (4, 'OSX', 2), (5, 'Orphan', NULL);
         INSERT INTO tasks VALUES (1, 'design', 1), (2, 'code', 1), (3, 'design', 2), (4, 'code', 3);",
    )
    .await;
    let ids = |reply: &crate::support::Reply| -> Vec<i64> {
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.ids()
    };
    let expected = |sql: &'static str| {
        let db = &db;
        async move {
            db.query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| i64::from(r.get::<_, i32>(0)))
                .collect::<Vec<i64>>()
        }
    };
    let cases: [(&str, &'static str); 5] = [
        (
            "/projects?select=id,clients(name)&or=(clients.is.null,name.eq.Windows)&order=id",
            "SELECT id FROM projects p WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = p.client_id) OR p.name = 'Windows' ORDER BY id",
        ),
        (
            "/projects?select=id,tasks(id)&or=(tasks.not.is.null,name.eq.Orphan)&order=id",
            "SELECT id FROM projects p WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id) OR p.name = 'Orphan' ORDER BY id",
        ),
        (
            "/projects?select=id,tasks(id)&tasks.name=eq.code&or=(tasks.is.null,id.eq.1)&order=id",
            "SELECT id FROM projects p WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id AND t.name = 'code') OR p.id = 1 ORDER BY id",
        ),
        (
            "/projects?select=id,clients(name)&not.or=(clients.is.null,id.gt.3)&order=id",
            "SELECT id FROM projects p WHERE NOT (NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = p.client_id) OR p.id > 3) ORDER BY id",
        ),
        (
            "/projects?select=id,tasks(id)&or=(and(tasks.not.is.null,name.like.O*),id.eq.4)&order=id",
            "SELECT id FROM projects p WHERE (EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id) AND p.name LIKE 'O%') OR p.id = 4 ORDER BY id",
        ),
    ];
    for (uri, sql) in cases {
        let reply = crate::support::get(&svc, uri).await;
        assert_eq!(ids(&reply), expected(sql).await, "{uri}");
    }
    // In an embed's own tree: each client's projects without tasks, or IOS.
    let reply = crate::support::get(
        &svc,
        "/clients?select=id,projects(id,tasks(id))&projects.or=(tasks.is.null,name.eq.IOS)&projects.order=id&order=id",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let got: Vec<(i64, Vec<i64>)> = reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let projects = c["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap())
                .collect();
            (c["id"].as_i64().unwrap(), projects)
        })
        .collect();
    let want: Vec<(i64, Vec<i64>)> = db
        .query(
            "SELECT c.id, coalesce(array_agg(p.id ORDER BY p.id) FILTER (WHERE p.id IS NOT NULL), '{}')
             FROM clients c LEFT JOIN projects p ON p.client_id = c.id
               AND (NOT EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id) OR p.name = 'IOS')
             GROUP BY c.id ORDER BY c.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let ps: Vec<i32> = r.get(1);
            (i64::from(r.get::<_, i32>(0)), ps.into_iter().map(i64::from).collect())
        })
        .collect();
    assert_eq!(got, want);
}
