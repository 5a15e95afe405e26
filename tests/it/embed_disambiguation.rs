//! Which relationship an embed names: PostgREST's `EmbedDisambiguationSpec`
//! (test/spec/Feature/Query/EmbedDisambiguationSpec.hs) on a fixture of the
//! same shapes. Rows are compared with what PostgreSQL computes for the same
//! question; error bodies are PostgREST's, through its error dialect.

use serde_json::json;
use tower_postgrest::{PostgRest, RestService};

use crate::support::{get, rows, scratch_with, service};

const FIXTURE: &str = r#"
CREATE TABLE clients (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE projects (id int PRIMARY KEY, name text NOT NULL,
  client_id int CONSTRAINT client REFERENCES clients (id));
CREATE TABLE tasks (id int PRIMARY KEY, name text NOT NULL,
  project_id int CONSTRAINT project REFERENCES projects (id));
CREATE VIEW projects_view AS SELECT id, name, client_id FROM projects;
INSERT INTO clients VALUES (1, 'Microsoft'), (2, 'Apple');
INSERT INTO projects VALUES (1, 'Windows 7', 1), (2, 'Windows 10', 1), (3, 'IOS', 2), (4, 'OSX', 2),
  (5, 'Orphan', NULL);
INSERT INTO tasks VALUES (1, 'Design w7', 1), (2, 'Code w7', 1), (3, 'Design w10', 2),
  (4, 'Code w10', 2), (5, 'Design IOS', 3);

CREATE TABLE addresses (id int PRIMARY KEY, street text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, name text NOT NULL,
  billing_address_id int CONSTRAINT billing REFERENCES addresses (id),
  shipping_address_id int CONSTRAINT shipping REFERENCES addresses (id));
INSERT INTO addresses VALUES (1, '1 Main St'), (2, '2 Side St'), (3, '3 High St');
INSERT INTO orders VALUES (1, 'order 1', 1, 2), (2, 'order 2', 3, 3), (3, 'order 3', NULL, 1);

CREATE TABLE family_tree (id text PRIMARY KEY, name text NOT NULL, parent text);
ALTER TABLE family_tree ADD CONSTRAINT pptr FOREIGN KEY (parent) REFERENCES family_tree (id);
INSERT INTO family_tree VALUES ('1', 'Parental Unit', NULL), ('2', 'Kid One', '1'),
  ('3', 'Kid Two', '1'), ('4', 'Grandkid One', '2'), ('5', 'Grandkid Two', '3');

CREATE TABLE managers (id int PRIMARY KEY, name text);
CREATE TABLE organizations (id int PRIMARY KEY, name text,
  referee int REFERENCES organizations (id), auditor int REFERENCES organizations (id),
  manager_id int CONSTRAINT manager REFERENCES managers (id));
INSERT INTO managers VALUES (1, 'Referee Manager'), (2, 'Auditor Manager'), (3, 'Acme Manager'),
  (4, 'Umbrella Manager'), (5, 'Cyberdyne Manager'), (6, 'Oscorp Manager');
INSERT INTO organizations VALUES (1, 'Referee Org', NULL, NULL, 1), (2, 'Auditor Org', NULL, NULL, 2),
  (3, 'Acme', 1, 2, 3), (4, 'Umbrella', 1, 2, 4), (5, 'Cyberdyne', 3, 4, 5), (6, 'Oscorp', 3, 4, 6);

CREATE TABLE person (id int PRIMARY KEY, name varchar NOT NULL);
CREATE TABLE message (id int PRIMARY KEY, body text NOT NULL DEFAULT '',
  sender bigint NOT NULL REFERENCES person (id), recipient bigint NOT NULL REFERENCES person (id));
CREATE VIEW person_detail AS
  SELECT p.id, p.name, s.count AS sent, r.count AS received
  FROM person p
  JOIN LATERAL (SELECT m.sender, count(m.id) AS count FROM message m GROUP BY m.sender) s ON s.sender = p.id
  JOIN LATERAL (SELECT m.recipient, count(m.id) AS count FROM message m GROUP BY m.recipient) r ON r.recipient = p.id;
INSERT INTO person VALUES (1, 'John'), (2, 'Jane'), (3, 'Jake'), (4, 'Julie');
INSERT INTO message VALUES (1, 'Hello Jane', 1, 2), (2, 'Hi John', 2, 1), (3, 'How are you doing?', 1, 2),
  (4, 'Hi Jake', 4, 3), (5, 'What''s up Jake', 4, 3), (6, 'Hey Julie', 3, 4);

-- PostgREST's main_jobs is a view of jobs; views are not junctions here, so a
-- table with the same constraint names stands in for it.
CREATE TABLE big_projects (big_project_id int PRIMARY KEY, name text);
CREATE TABLE sites (site_id int PRIMARY KEY, name text,
  main_project_id int CONSTRAINT main_project REFERENCES big_projects (big_project_id));
CREATE TABLE jobs (job_id int, name text,
  site_id int NOT NULL REFERENCES sites (site_id),
  big_project_id int NOT NULL REFERENCES big_projects (big_project_id),
  PRIMARY KEY (job_id, site_id, big_project_id));
CREATE TABLE main_jobs (job_id int, name text,
  site_id int NOT NULL CONSTRAINT jobs_site_id_fkey REFERENCES sites (site_id),
  big_project_id int NOT NULL CONSTRAINT jobs_big_project_id_fkey REFERENCES big_projects (big_project_id),
  PRIMARY KEY (job_id, site_id, big_project_id));
INSERT INTO big_projects VALUES (1, 'big project 1'), (2, 'big project 2');
INSERT INTO sites VALUES (1, 'site 1', 1), (2, 'site 2', NULL), (3, 'site 3', 2), (4, 'site 4', NULL);
INSERT INTO jobs VALUES (1, 'job 1-1', 1, 1), (2, 'job 2-1', 2, 1), (3, 'job 2-2', 2, 2);
INSERT INTO main_jobs SELECT * FROM jobs
  WHERE site_id IN (SELECT site_id FROM sites WHERE main_project_id IS NOT NULL);

CREATE TABLE agents (id int PRIMARY KEY, name text, department_id int);
CREATE TABLE departments (id int PRIMARY KEY, name text, head_id int REFERENCES agents (id));
ALTER TABLE agents ADD CONSTRAINT agents_department_id_fkey
  FOREIGN KEY (department_id) REFERENCES departments (id);
INSERT INTO agents VALUES (1, 'agent 1', NULL), (2, 'agent 2', NULL), (3, 'agent 3', NULL), (4, 'agent 4', NULL);
INSERT INTO departments VALUES (1, 'dep 1', 1), (2, 'dep 3', 3);
UPDATE agents SET department_id = 1 WHERE id IN (1, 2);
UPDATE agents SET department_id = 2 WHERE id IN (3, 4);

CREATE TABLE second (id int PRIMARY KEY, name text);
CREATE TABLE first (id int PRIMARY KEY, name text,
  second_id_1 int REFERENCES second UNIQUE, second_id_2 int REFERENCES second UNIQUE);

CREATE TABLE whatev_projects (id int PRIMARY KEY, name text);
CREATE TABLE whatev_sites (id int PRIMARY KEY, name text);
CREATE TABLE whatev_jobs (job_id int, name text,
  site_id_1 int NOT NULL REFERENCES whatev_sites (id),
  project_id_1 int NOT NULL REFERENCES whatev_projects (id),
  site_id_2 int NOT NULL REFERENCES whatev_sites (id),
  project_id_2 int NOT NULL REFERENCES whatev_projects (id),
  PRIMARY KEY (job_id, site_id_1, project_id_1, site_id_2, project_id_2));
INSERT INTO whatev_projects VALUES (1, 'p1'), (2, 'p2'), (3, 'p3');
INSERT INTO whatev_sites VALUES (1, 's1'), (2, 's2'), (3, 's3');
INSERT INTO whatev_jobs VALUES (1, 'j1', 1, 1, 2, 2), (2, 'j2', 1, 3, 2, 1), (3, 'j3', 2, 2, 1, 3);

CREATE TABLE posters (id int PRIMARY KEY, name text);
CREATE TABLE subscriptions (subscriber int REFERENCES posters (id), subscribed int REFERENCES posters (id),
  PRIMARY KEY (subscriber, subscribed));
INSERT INTO posters VALUES (1, 'Mark'), (2, 'Elon'), (3, 'Bill'), (4, 'Jeff');
INSERT INTO subscriptions VALUES (3, 1), (4, 1), (1, 2);

CREATE TABLE schedules (id int PRIMARY KEY, name text);
CREATE TABLE activities (id int, schedule_id int CONSTRAINT schedule REFERENCES schedules (id),
  car_id text, camera_id text, PRIMARY KEY (id, schedule_id));
CREATE TABLE unit_workdays (unit_id int, day date,
  fst_shift_activity_id int, fst_shift_schedule_id int,
  snd_shift_activity_id int, snd_shift_schedule_id int,
  PRIMARY KEY (unit_id, day),
  CONSTRAINT fst_shift FOREIGN KEY (fst_shift_activity_id, fst_shift_schedule_id)
    REFERENCES activities (id, schedule_id),
  CONSTRAINT snd_shift FOREIGN KEY (snd_shift_activity_id, snd_shift_schedule_id)
    REFERENCES activities (id, schedule_id));
CREATE VIEW unit_workdays_fst_shift AS
  SELECT unit_id, day, fst_shift_activity_id, fst_shift_schedule_id FROM unit_workdays
  WHERE fst_shift_activity_id IS NOT NULL AND fst_shift_schedule_id IS NOT NULL;
INSERT INTO schedules VALUES (1, 'morning'), (2, 'afternoon'), (3, 'night');
INSERT INTO activities (id, schedule_id, car_id) VALUES (1, 1, 'CAR-349');
INSERT INTO activities (id, schedule_id, camera_id) VALUES (2, 3, 'CAM-123');
INSERT INTO unit_workdays VALUES (1, '2019-12-02', 1, 1, 2, 3);

CREATE TABLE "escapeTargets" ("so6meIdColumn" int PRIMARY KEY);
CREATE TABLE "ghostBusters" (id int PRIMARY KEY, "escapeId" int REFERENCES "escapeTargets");
INSERT INTO "escapeTargets" VALUES (1), (3), (5);
INSERT INTO "ghostBusters" VALUES (1, 1), (2, 3), (3, 5);

-- PostgREST's issue 1643: a column as the target never names a view.
CREATE TABLE test (id bigint PRIMARY KEY, parent_id bigint CONSTRAINT parent_test REFERENCES test (id));
CREATE VIEW view_test AS SELECT id FROM test;
INSERT INTO test VALUES (1, NULL), (2, 1);

-- PostgREST's issue 2238.
CREATE TABLE series (id bigint PRIMARY KEY, title text NOT NULL);
CREATE TABLE adaptation_notifications (id bigint PRIMARY KEY, series bigint REFERENCES series (id), status text);
CREATE VIEW series_popularity AS SELECT id, random() AS popularity_score FROM series;
INSERT INTO series VALUES (1, 'one'), (2, 'two');
INSERT INTO adaptation_notifications VALUES (1, 1, 'new'), (2, NULL, 'old'), (3, 2, 'new');

-- PostgREST's issue 2459: views showing one key column under two names.
CREATE TABLE i2459_simple_t1 (id int PRIMARY KEY);
CREATE TABLE i2459_simple_t2 (t1_id int REFERENCES i2459_simple_t1);
CREATE VIEW i2459_simple_v1 AS TABLE i2459_simple_t1;
CREATE VIEW i2459_simple_v2 AS SELECT t1_id AS t1_id1, t1_id AS t1_id2 FROM i2459_simple_t2;
CREATE TABLE i2459_composite_t1 (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE i2459_composite_t2 (t1_a int, t1_b int,
  CONSTRAINT i2459_composite_t2_t1_a_t1_b_fkey FOREIGN KEY (t1_a, t1_b) REFERENCES i2459_composite_t1);
CREATE VIEW i2459_composite_v1 AS TABLE i2459_composite_t1;
CREATE VIEW i2459_composite_v2 AS
  SELECT t1_a AS t1_a1, t1_b AS t1_b1, t1_a AS t1_a2, t1_b AS t1_b2 FROM i2459_composite_t2;
INSERT INTO i2459_simple_t1 VALUES (1), (2);
INSERT INTO i2459_simple_t2 VALUES (1), (1), (2);
"#;

/// The fixture, served with PostgREST's error dialect.
async fn fixture() -> (RestService, tokio_postgres::Client) {
    scratch_with(FIXTURE, |b| b.anon_role("anon").error_mapper(PostgRest)).await
}

/// `uri` answers 200 with the rows `sql` computes.
async fn same(svc: &RestService, db: &tokio_postgres::Client, uri: &str, sql: &str) {
    let reply = get(svc, uri).await;
    assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
    assert_eq!(reply.json(), rows(db, sql).await, "{uri}");
}

/// `uri` answers `status` with exactly `body`.
async fn refused(svc: &RestService, uri: &str, status: u16, body: serde_json::Value) {
    let reply = get(svc, uri).await;
    assert_eq!(reply.status, status, "{uri}: {}", reply.text);
    assert_eq!(reply.json(), body, "{uri}");
}

/// `{id, name}` of the client of the project row `p`, or null.
const CLIENT_OF_P: &str = "(SELECT json_build_object('id', c.id, 'name', c.name) FROM clients c WHERE c.id = p.client_id)";

#[tokio::test]
async fn ambiguous_embeds_list_their_candidates() {
    let (svc, _db) = fixture().await;
    refused(
        &svc,
        "/sites?select=*,big_projects(*)",
        300,
        json!({
            "code": "PGRST201",
            "details": [
                {
                    "cardinality": "many-to-one",
                    "relationship": "main_project using sites(main_project_id) and big_projects(big_project_id)",
                    "embedding": "sites with big_projects"
                },
                {
                    "cardinality": "many-to-many",
                    "relationship": "jobs using jobs_site_id_fkey(site_id) and jobs_big_project_id_fkey(big_project_id)",
                    "embedding": "sites with big_projects"
                },
                {
                    "cardinality": "many-to-many",
                    "relationship": "main_jobs using jobs_site_id_fkey(site_id) and jobs_big_project_id_fkey(big_project_id)",
                    "embedding": "sites with big_projects"
                }
            ],
            "hint": "Try changing 'big_projects' to one of the following: 'big_projects!main_project', 'big_projects!jobs', 'big_projects!main_jobs'. Find the desired relationship in the 'details' key.",
            "message": "Could not embed because more than one relationship was found for 'sites' and 'big_projects'"
        }),
    )
    .await;
    // A circular reference: one-to-many is listed before many-to-one.
    refused(
        &svc,
        "/agents?select=*,departments(*)",
        300,
        json!({
            "code": "PGRST201",
            "details": [
                {
                    "cardinality": "one-to-many",
                    "relationship": "departments_head_id_fkey using agents(id) and departments(head_id)",
                    "embedding": "agents with departments"
                },
                {
                    "cardinality": "many-to-one",
                    "relationship": "agents_department_id_fkey using agents(department_id) and departments(id)",
                    "embedding": "agents with departments"
                }
            ],
            "hint": "Try changing 'departments' to one of the following: 'departments!departments_head_id_fkey', 'departments!agents_department_id_fkey'. Find the desired relationship in the 'details' key.",
            "message": "Could not embed because more than one relationship was found for 'agents' and 'departments'"
        }),
    )
    .await;
    refused(
        &svc,
        "/first?select=second(*)",
        300,
        json!({
            "code": "PGRST201",
            "details": [
                {"cardinality": "one-to-one", "embedding": "first with second",
                 "relationship": "first_second_id_1_fkey using first(second_id_1) and second(id)"},
                {"cardinality": "one-to-one", "embedding": "first with second",
                 "relationship": "first_second_id_2_fkey using first(second_id_2) and second(id)"}
            ],
            "hint": "Try changing 'second' to one of the following: 'second!first_second_id_1_fkey', 'second!first_second_id_2_fkey'. Find the desired relationship in the 'details' key.",
            "message": "Could not embed because more than one relationship was found for 'first' and 'second'"
        }),
    )
    .await;
    // A view showing a composite key's columns twice: four ways to join.
    let composite = |a: &str, b: &str| {
        json!({
            "cardinality": "many-to-one",
            "embedding": "i2459_composite_v2 with i2459_composite_v1",
            "relationship": format!("i2459_composite_t2_t1_a_t1_b_fkey using i2459_composite_v2({a}, {b}) and i2459_composite_v1(a, b)"),
        })
    };
    refused(
        &svc,
        "/i2459_composite_v2?select=*,i2459_composite_v1(*)",
        300,
        json!({
            "code": "PGRST201",
            "details": [
                composite("t1_a1", "t1_b1"),
                composite("t1_a1", "t1_b2"),
                composite("t1_a2", "t1_b1"),
                composite("t1_a2", "t1_b2"),
            ],
            "hint": format!(
                "Try changing 'i2459_composite_v1' to one of the following: {}. Find the desired relationship in the 'details' key.",
                ["'i2459_composite_v1!i2459_composite_t2_t1_a_t1_b_fkey'"; 4].join(", ")
            ),
            "message": "Could not embed because more than one relationship was found for 'i2459_composite_v2' and 'i2459_composite_v1'"
        }),
    )
    .await;
    // Two foreign keys to one table, by the table's name.
    let reply = get(&svc, "/orders?select=id,addresses(street)").await;
    let body = reply.error(300, "PGRST201");
    assert_eq!(
        body["hint"],
        "Try changing 'addresses' to one of the following: 'addresses!billing', 'addresses!shipping'. Find the desired relationship in the 'details' key."
    );
}

#[tokio::test]
async fn a_junction_with_more_than_two_keys_is_disambiguated_with_spreads() {
    let (svc, db) = fixture().await;
    let m2m = |s: &str, p: &str| {
        json!({
            "cardinality": "many-to-many",
            "relationship": format!("whatev_jobs using whatev_jobs_{s}_fkey({s}) and whatev_jobs_{p}_fkey({p})"),
            "embedding": "whatev_sites with whatev_projects",
        })
    };
    refused(
        &svc,
        "/whatev_sites?select=*,whatev_projects(*)",
        300,
        json!({
            "code": "PGRST201",
            "details": [
                m2m("site_id_1", "project_id_1"),
                m2m("site_id_1", "project_id_2"),
                m2m("site_id_2", "project_id_1"),
                m2m("site_id_2", "project_id_2"),
            ],
            "hint": format!(
                "Try changing 'whatev_projects' to one of the following: {}. Find the desired relationship in the 'details' key.",
                ["'whatev_projects!whatev_jobs'"; 4].join(", ")
            ),
            "message": "Could not embed because more than one relationship was found for 'whatev_sites' and 'whatev_projects'"
        }),
    )
    .await;
    for (site, project) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
        same(
            &svc,
            &db,
            &format!(
                "/whatev_sites?select=*,whatev_jobs!site_id_{site}(...whatev_projects!project_id_{project}(*))&order=id&whatev_jobs.order=job_id"
            ),
            &format!(
                "SELECT s.id, s.name, coalesce((
                   SELECT json_agg(json_build_object('id', p.id, 'name', p.name) ORDER BY j.job_id)
                   FROM whatev_jobs j JOIN whatev_projects p ON p.id = j.project_id_{project}
                   WHERE j.site_id_{site} = s.id), '[]') AS whatev_jobs
                 FROM whatev_sites s ORDER BY s.id"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn a_recursive_many_to_many_is_disambiguated_with_spreads() {
    let (svc, db) = fixture().await;
    let through = |side: &str, other: &str| {
        format!(
            "SELECT p.id, p.name, coalesce((
               SELECT json_agg(json_build_object('id', q.id, 'name', q.name) ORDER BY q.id)
               FROM subscriptions s JOIN posters q ON q.id = s.{other}
               WHERE s.{side} = p.id), '[]') AS k
             FROM posters p ORDER BY p.id LIMIT 1"
        )
    };
    same(
        &svc,
        &db,
        "/posters?select=*,k:subscriptions!subscribed(...posters!subscriber(*))&limit=1&order=id&k.order=subscriber",
        &through("subscribed", "subscriber"),
    )
    .await;
    same(
        &svc,
        &db,
        "/posters?select=*,k:subscriptions!subscriber(...posters!subscribed(*))&limit=1&order=id&k.order=subscribed",
        &through("subscriber", "subscribed"),
    )
    .await;
    // Self-referencing many-to-many is not embedded directly (as PostgREST).
    refused(
        &svc,
        "/posters?select=*,posters(*)",
        400,
        json!({
            "code": "PGRST200",
            "details": format!(
                "Searched for a foreign key relationship between 'posters' and 'posters' in the schema '{}', but no matches were found.",
                schema_of(&svc)
            ),
            "hint": null,
            "message": "Could not find a relationship between 'posters' and 'posters' in the schema cache"
        }),
    )
    .await;
}

/// The scratch schema the service exposes.
fn schema_of(svc: &RestService) -> String {
    svc.schema_cache().snapshot().schemas[0].clone()
}

#[tokio::test]
async fn a_foreign_key_name_picks_the_relationship() {
    let (svc, db) = fixture().await;
    same(
        &svc,
        &db,
        "/projects?id=in.(1,3)&select=id,name,client(id,name)&order=id",
        &format!("SELECT p.id, p.name, {CLIENT_OF_P} AS client FROM projects p WHERE p.id IN (1, 3) ORDER BY p.id"),
    )
    .await;
    same(
        &svc,
        &db,
        "/projects?id=in.(1,3)&select=id,name,client_id,client(id,name)&order=id",
        &format!("SELECT p.id, p.name, p.client_id, {CLIENT_OF_P} AS client FROM projects p WHERE p.id IN (1, 3) ORDER BY p.id"),
    )
    .await;
    same(
        &svc,
        &db,
        "/tasks?id=eq.1&select=id,name,projects_view!project(id,name,client(id,name))",
        &format!(
            "SELECT t.id, t.name, (SELECT json_build_object('id', p.id, 'name', p.name, 'client', {CLIENT_OF_P})
                                   FROM projects_view p WHERE p.id = t.project_id) AS projects_view
             FROM tasks t WHERE t.id = 1"
        ),
    )
    .await;
    // Composite keys by name, nesting a grandparent.
    let shift = |n: &str, col: &str| {
        format!(
            "(SELECT json_build_object('{col}', a.{col}, 'schedule',
                (SELECT json_build_object('name', s.name) FROM schedules s WHERE s.id = a.schedule_id))
              FROM activities a WHERE a.id = u.{n}_shift_activity_id AND a.schedule_id = u.{n}_shift_schedule_id)"
        )
    };
    same(
        &svc,
        &db,
        "/unit_workdays?select=unit_id,day,fst_shift(car_id,schedule(name)),snd_shift(camera_id,schedule(name))",
        &format!(
            "SELECT u.unit_id, u.day, {} AS fst_shift, {} AS snd_shift FROM unit_workdays u",
            shift("fst", "car_id"),
            shift("snd", "camera_id")
        ),
    )
    .await;
    let address = |col: &str, field: &str| {
        format!(
            "(SELECT json_build_object('{field}', a.{field}) FROM addresses a WHERE a.id = o.{col})"
        )
    };
    same(
        &svc,
        &db,
        "/orders?id=eq.1&select=id,name,billing(street),shipping(street)",
        &format!(
            "SELECT o.id, o.name, {} AS billing, {} AS shipping FROM orders o WHERE o.id = 1",
            address("billing_address_id", "street"),
            address("shipping_address_id", "street")
        ),
    )
    .await;
    same(
        &svc,
        &db,
        "/orders?id=eq.1&select=id,name,billing_address_id(id),shipping(id)",
        &format!(
            "SELECT o.id, o.name, {} AS billing_address_id, {} AS shipping FROM orders o WHERE o.id = 1",
            address("billing_address_id", "id"),
            address("shipping_address_id", "id")
        ),
    )
    .await;
    let person = |col: &str, count: &str| {
        format!(
            "(SELECT json_build_object('name', d.name, '{count}', d.{count}) FROM person_detail d WHERE d.id = m.{col})"
        )
    };
    same(
        &svc,
        &db,
        "/message?select=id,body,sender:person_detail!message_sender_fkey(name,sent),recipient:person_detail!message_recipient_fkey(name,received)&id=lt.4&order=id",
        &format!(
            "SELECT m.id, m.body, {} AS sender, {} AS recipient FROM message m WHERE m.id < 4 ORDER BY m.id",
            person("sender", "sent"),
            person("recipient", "received")
        ),
    )
    .await;
    // table!fk from the referenced side: the children, two levels down.
    same(
        &svc,
        &db,
        "/clients?id=eq.1&select=id,projects:projects!client(id,tasks(id))&projects.order=id&projects.tasks.order=id",
        "SELECT c.id, coalesce((
           SELECT json_agg(json_build_object('id', p.id, 'tasks', coalesce((
             SELECT json_agg(json_build_object('id', t.id) ORDER BY t.id) FROM tasks t WHERE t.project_id = p.id), '[]'))
             ORDER BY p.id)
           FROM projects p WHERE p.client_id = c.id), '[]') AS projects
         FROM clients c WHERE c.id = 1",
    )
    .await;
    same(
        &svc,
        &db,
        "/sites?select=name,main_project(name)&site_id=eq.1",
        "SELECT s.name, (SELECT json_build_object('name', b.name) FROM big_projects b
                         WHERE b.big_project_id = s.main_project_id) AS main_project
         FROM sites s WHERE s.site_id = 1",
    )
    .await;
    // The from-side children by a composite key's name; the view is left out.
    same(
        &svc,
        &db,
        "/activities?select=fst_shift(*)&order=id",
        "SELECT coalesce((SELECT json_agg(u) FROM unit_workdays u
                          WHERE u.fst_shift_activity_id = a.id AND u.fst_shift_schedule_id = a.schedule_id), '[]') AS fst_shift
         FROM activities a ORDER BY a.id",
    )
    .await;
    refused(
        &svc,
        "/message?select=id,sender:person!space(name)&id=lt.4",
        400,
        json!({
            "hint": null,
            "message": "Could not find a relationship between 'message' and 'person' in the schema cache",
            "code": "PGRST200",
            "details": format!(
                "Searched for a foreign key relationship between 'message' and 'person' using the hint 'space' in the schema '{}', but no matches were found.",
                schema_of(&svc)
            )
        }),
    )
    .await;
}

#[tokio::test]
async fn a_key_column_picks_the_relationship() {
    let (svc, db) = fixture().await;
    same(
        &svc,
        &db,
        "/projects?id=in.(1,3)&select=id,name,client_id(id,name)&order=id",
        &format!("SELECT p.id, p.name, {CLIENT_OF_P} AS client_id FROM projects p WHERE p.id IN (1, 3) ORDER BY p.id"),
    )
    .await;
    same(
        &svc,
        &db,
        "/projects?id=in.(1,3,5)&select=id,name,client_id,client:client_id(id,name)&order=id",
        &format!("SELECT p.id, p.name, p.client_id, {CLIENT_OF_P} AS client FROM projects p WHERE p.id IN (1, 3, 5) ORDER BY p.id"),
    )
    .await;
    same(
        &svc,
        &db,
        "/tasks?id=eq.1&select=id,name,project:projects_view!project_id(id,name,client:client_id(id,name))",
        &format!(
            "SELECT t.id, t.name, (SELECT json_build_object('id', p.id, 'name', p.name, 'client', {CLIENT_OF_P})
                                   FROM projects_view p WHERE p.id = t.project_id) AS project
             FROM tasks t WHERE t.id = 1"
        ),
    )
    .await;
    let person = |col: &str| {
        format!("(SELECT json_build_object('name', p.name) FROM person p WHERE p.id = m.{col})")
    };
    same(
        &svc,
        &db,
        "/message?select=id,body,sender:person!sender(name),recipient:person!recipient(name)&id=lt.4&order=id",
        &format!(
            "SELECT m.id, m.body, {} AS sender, {} AS recipient FROM message m WHERE m.id < 4 ORDER BY m.id",
            person("sender"),
            person("recipient")
        ),
    )
    .await;
    same(
        &svc,
        &db,
        "/ghostBusters?select=escapeId(*)&order=id",
        r#"SELECT (SELECT row_to_json(e) FROM "escapeTargets" e WHERE e."so6meIdColumn" = g."escapeId") AS "escapeId"
           FROM "ghostBusters" g ORDER BY g.id"#,
    )
    .await;
    let address = |col: &str| {
        format!("(SELECT json_build_object('id', a.id) FROM addresses a WHERE a.id = o.{col})")
    };
    same(
        &svc,
        &db,
        "/orders?select=id,name,billing_address_id(id),shipping_address_id(id)&order=id",
        &format!(
            "SELECT o.id, o.name, {} AS billing_address_id, {} AS shipping_address_id FROM orders o ORDER BY o.id",
            address("billing_address_id"),
            address("shipping_address_id")
        ),
    )
    .await;
    // Issue 19's example: an alias over a key column; parameters name the embed by either.
    for param in [
        "billing.street=like.1*",
        "billing_address_id.street=like.1*",
    ] {
        same(
            &svc,
            &db,
            &format!("/orders?select=name,billing:billing_address_id(street)&order=id&{param}"),
            "SELECT o.name, (SELECT json_build_object('street', a.street) FROM addresses a
                             WHERE a.id = o.billing_address_id AND a.street LIKE '1%') AS billing
             FROM orders o ORDER BY o.id",
        )
        .await;
    }
    same(
        &svc,
        &db,
        "/sites?select=name,main_project_id(name)&site_id=eq.1",
        "SELECT s.name, (SELECT json_build_object('name', b.name) FROM big_projects b
                         WHERE b.big_project_id = s.main_project_id) AS main_project_id
         FROM sites s WHERE s.site_id = 1",
    )
    .await;
    // Each name a view gives one base column is a hint of its own.
    for (from, to, hint) in [
        ("i2459_simple_v1", "i2459_simple_v2", "t1_id1"),
        ("i2459_simple_v1", "i2459_simple_v2", "t1_id2"),
    ] {
        same(
            &svc,
            &db,
            &format!("/{from}?select=*,{to}!{hint}(*)&order=id"),
            &format!(
                "SELECT v1.id, coalesce((SELECT json_agg(v2) FROM {to} v2 WHERE v2.{hint} = v1.id), '[]') AS {to}
                 FROM {from} v1 ORDER BY v1.id"
            ),
        )
        .await;
    }
    for hint in ["t1_id1", "t1_id2"] {
        same(
            &svc,
            &db,
            &format!("/i2459_simple_v2?select=*,i2459_simple_v1!{hint}(*)&order=t1_id1"),
            &format!(
                "SELECT v2.t1_id1, v2.t1_id2, (SELECT row_to_json(v1) FROM i2459_simple_v1 v1 WHERE v1.id = v2.{hint}) AS i2459_simple_v1
                 FROM i2459_simple_v2 v2 ORDER BY v2.t1_id1"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn a_junction_name_picks_the_many_to_many() {
    let (svc, db) = fixture().await;
    for junction in ["jobs", "main_jobs"] {
        same(
            &svc,
            &db,
            &format!(
                "/sites?select=*,big_projects!{junction}(name)&site_id=in.(1,2)&order=site_id&big_projects.order=big_project_id"
            ),
            &format!(
                "SELECT s.site_id, s.name, s.main_project_id, coalesce((
                   SELECT json_agg(json_build_object('name', b.name) ORDER BY b.big_project_id)
                   FROM big_projects b
                   WHERE EXISTS (SELECT FROM {junction} j WHERE j.site_id = s.site_id AND j.big_project_id = b.big_project_id)
                 ), '[]') AS big_projects
                 FROM sites s WHERE s.site_id IN (1, 2) ORDER BY s.site_id"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn one_self_referencing_key() {
    let (svc, db) = fixture().await;
    // The key column's name is the parent, recursively.
    same(
        &svc,
        &db,
        "/family_tree?id=in.(3,4)&select=id,parent(id,name,parent(*))&order=id",
        "SELECT f.id, (SELECT json_build_object('id', p.id, 'name', p.name, 'parent',
                         (SELECT row_to_json(g) FROM family_tree g WHERE g.id = p.parent))
                       FROM family_tree p WHERE p.id = f.parent) AS parent
         FROM family_tree f WHERE f.id IN ('3', '4') ORDER BY f.id",
    )
    .await;
    // table!key_column is the children, recursively.
    same(
        &svc,
        &db,
        "/family_tree?id=eq.1&select=id,name,children:family_tree!parent(id,name,children:family_tree!parent(id,name))&children.order=id&children.children.order=id",
        "SELECT f.id, f.name, coalesce((
           SELECT json_agg(json_build_object('id', c.id, 'name', c.name, 'children', coalesce((
             SELECT json_agg(json_build_object('id', g.id, 'name', g.name) ORDER BY g.id)
             FROM family_tree g WHERE g.parent = c.id), '[]')) ORDER BY c.id)
           FROM family_tree c WHERE c.parent = f.id), '[]') AS children
         FROM family_tree f WHERE f.id = '1'",
    )
    .await;
    same(
        &svc,
        &db,
        "/family_tree?id=eq.2&select=id,name,parent(id,name,children:family_tree!parent(id,name))&parent.children.order=id",
        "SELECT f.id, f.name, (SELECT json_build_object('id', p.id, 'name', p.name, 'children', coalesce((
             SELECT json_agg(json_build_object('id', c.id, 'name', c.name) ORDER BY c.id)
             FROM family_tree c WHERE c.parent = p.id), '[]'))
           FROM family_tree p WHERE p.id = f.parent) AS parent
         FROM family_tree f WHERE f.id = '2'",
    )
    .await;
    // The table's own name is the children too.
    same(
        &svc,
        &db,
        "/family_tree?select=id,family_tree(id)&order=id&family_tree.order=id",
        "SELECT f.id, coalesce((SELECT json_agg(json_build_object('id', c.id) ORDER BY c.id)
                                FROM family_tree c WHERE c.parent = f.id), '[]') AS family_tree
         FROM family_tree f ORDER BY f.id",
    )
    .await;
    // No other hint names a self-reference: not the key's name, not the
    // referenced column.
    for select in ["family_tree!pptr(id)", "family_tree!id(id)"] {
        let hint = select.split(['!', '(']).nth(1).unwrap();
        refused(
            &svc,
            &format!("/family_tree?select=id,{select}"),
            400,
            json!({
                "code": "PGRST200",
                "details": format!(
                    "Searched for a foreign key relationship between 'family_tree' and 'family_tree' using the hint '{hint}' in the schema '{}', but no matches were found.",
                    schema_of(&svc)
                ),
                "hint": null,
                "message": "Could not find a relationship between 'family_tree' and 'family_tree' in the schema cache"
            }),
        )
        .await;
    }
    // Issue 1643: the key column names the parent even where a view shows
    // the referenced column; the table's name the children.
    same(
        &svc,
        &db,
        "/test?select=id,parent_id,parent:parent_id(id)&order=id",
        "SELECT t.id, t.parent_id, (SELECT json_build_object('id', p.id) FROM test p WHERE p.id = t.parent_id) AS parent
         FROM test t ORDER BY t.id",
    )
    .await;
    same(
        &svc,
        &db,
        "/test?select=id,parent_id,childs:test(id)&order=id",
        "SELECT t.id, t.parent_id, coalesce((SELECT json_agg(json_build_object('id', c.id) ORDER BY c.id)
                                             FROM test c WHERE c.parent_id = t.id), '[]') AS childs
         FROM test t ORDER BY t.id",
    )
    .await;
}

/// `{name, manager: {name}}` of the organization row `alias`, plus `extra`.
fn org(alias: &str, extra: &str) -> String {
    format!(
        "json_build_object('name', {alias}.name, 'manager',
           (SELECT json_build_object('name', m.name) FROM managers m WHERE m.id = {alias}.manager_id){extra})"
    )
}

#[tokio::test]
async fn two_self_referencing_keys() {
    let (svc, db) = fixture().await;
    let parent = |col: &str, alias: &str, from: &str| {
        format!(
            "(SELECT json_build_object('id', {alias}.id, 'name', {alias}.name) FROM organizations {alias} WHERE {alias}.id = {from}.{col})"
        )
    };
    same(
        &svc,
        &db,
        "/organizations?select=id,name,referee(id,name),auditor(id,name)&id=eq.3",
        &format!(
            "SELECT o.id, o.name, {} AS referee, {} AS auditor FROM organizations o WHERE o.id = 3",
            parent("referee", "r", "o"),
            parent("auditor", "a", "o")
        ),
    )
    .await;
    for (alias, col, id) in [("refereeds", "referee", 1), ("auditees", "auditor", 2)] {
        same(
            &svc,
            &db,
            &format!("/organizations?select=id,name,{alias}:organizations!{col}(id,name)&id=eq.{id}&{alias}.order=id"),
            &format!(
                "SELECT o.id, o.name, coalesce((SELECT json_agg(json_build_object('id', c.id, 'name', c.name) ORDER BY c.id)
                                               FROM organizations c WHERE c.{col} = o.id), '[]') AS {alias}
                 FROM organizations o WHERE o.id = {id}"
            ),
        )
        .await;
    }
    // Other relations (`manager`, a constraint's name) beside the self-references.
    let one = |col: &str, alias: &str, from: &str, extra: &str| {
        format!(
            "(SELECT {} FROM organizations {alias} WHERE {alias}.id = {from}.{col})",
            org(alias, extra)
        )
    };
    let referee = one(
        "referee",
        "r",
        "o",
        &format!(", 'auditor', {}", one("auditor", "ra", "r", "")),
    );
    let auditor = one(
        "auditor",
        "a",
        "o",
        &format!(", 'referee', {}", one("referee", "ar", "a", "")),
    );
    same(
        &svc,
        &db,
        "/organizations?select=name,manager(name),referee(name,manager(name),auditor(name,manager(name))),auditor(name,manager(name),referee(name,manager(name)))&id=eq.5",
        &format!(
            "SELECT o.name, (SELECT json_build_object('name', m.name) FROM managers m WHERE m.id = o.manager_id) AS manager,
                    {referee} AS referee, {auditor} AS auditor
             FROM organizations o WHERE o.id = 5"
        ),
    )
    .await;
    let refereeds = format!(
        ", 'refereeds', coalesce((SELECT json_agg({} ORDER BY r.id) FROM organizations r WHERE r.referee = a.id), '[]')",
        org("r", "")
    );
    same(
        &svc,
        &db,
        "/organizations?select=name,manager(name),auditees:organizations!auditor(name,manager(name),refereeds:organizations!referee(name,manager(name)))&id=eq.2&auditees.order=id&auditees.refereeds.order=id",
        &format!(
            "SELECT o.name, (SELECT json_build_object('name', m.name) FROM managers m WHERE m.id = o.manager_id) AS manager,
                    coalesce((SELECT json_agg({} ORDER BY a.id) FROM organizations a WHERE a.auditor = o.id), '[]') AS auditees
             FROM organizations o WHERE o.id = 2",
            org("a", &refereeds)
        ),
    )
    .await;
}

#[tokio::test]
async fn a_column_as_the_target_leaves_views_out() {
    let (svc, db) = fixture().await;
    same(
        &svc,
        &db,
        "/adaptation_notifications?select=id,status,series(*)&order=id",
        "SELECT n.id, n.status, (SELECT row_to_json(s) FROM series s WHERE s.id = n.series) AS series
         FROM adaptation_notifications n ORDER BY n.id",
    )
    .await;
    same(
        &svc,
        &db,
        "/adaptation_notifications?select=id,status,series_popularity(id)&order=id",
        "SELECT n.id, n.status, (SELECT json_build_object('id', s.id) FROM series_popularity s WHERE s.id = n.series) AS series_popularity
         FROM adaptation_notifications n ORDER BY n.id",
    )
    .await;
    same(
        &svc,
        &db,
        "/message?select=id,body,sender(id,name)&id=eq.5",
        "SELECT m.id, m.body, (SELECT json_build_object('id', p.id, 'name', p.name) FROM person p WHERE p.id = m.sender) AS sender
         FROM message m WHERE m.id = 5",
    )
    .await;
}

/// Issue 19, on the shared fixture's `categories` (id, name, parent_id).
#[tokio::test]
async fn categories_by_key_column_and_by_hint() {
    let svc = service().await;
    let db = crate::support::admin().await;
    same(
        &svc,
        &db,
        "/categories?select=name,parent_id(name)&order=id",
        "SELECT c.name, (SELECT json_build_object('name', p.name) FROM categories p WHERE p.id = c.parent_id) AS parent_id
         FROM categories c ORDER BY c.id",
    )
    .await;
    let children = "SELECT c.name, coalesce((SELECT json_agg(json_build_object('name', k.name) ORDER BY k.id)
                                             FROM categories k WHERE k.parent_id = c.id), '[]') AS children
                    FROM categories c ORDER BY c.id";
    same(
        &svc,
        &db,
        "/categories?select=name,children:categories!parent_id(name)&order=id&children.order=id",
        children,
    )
    .await;
    same(
        &svc,
        &db,
        "/categories?select=name,children:categories(name)&order=id&children.order=id",
        children,
    )
    .await;
    // Both at once, and an embedded filter on the parent by its key column's name.
    same(
        &svc,
        &db,
        "/categories?select=name,parent:parent_id(name),children:categories!parent_id(name)&parent_id.name=eq.food&order=id&children.order=id",
        "SELECT c.name,
                (SELECT json_build_object('name', p.name) FROM categories p WHERE p.id = c.parent_id AND p.name = 'food') AS parent,
                coalesce((SELECT json_agg(json_build_object('name', k.name) ORDER BY k.id)
                          FROM categories k WHERE k.parent_id = c.id), '[]') AS children
         FROM categories c ORDER BY c.id",
    )
    .await;
}
