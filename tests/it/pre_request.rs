//! `db-pre-request`: a function called after the request's context and
//! before its statement, whose exception is the response and whose
//! `response.headers`/`response.status` apply to it.

use crate::support::{rows, scratch_with, send, send_body};

const SETUP: &str = r#"
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes VALUES (1, 'one');
CREATE FUNCTION check_request() RETURNS void LANGUAGE plpgsql AS $$
DECLARE h json := current_setting('request.headers', true)::json;
BEGIN
  IF h->>'x-block' = 'yes' THEN
    RAISE SQLSTATE 'PGRST'
      USING message = '{"code":"P402","message":"Payment Required","details":"blocked","hint":"pay"}',
            detail = '{"status":402,"headers":{"X-Reason":"blocked"}}';
  END IF;
  IF h->>'x-status' IS NOT NULL THEN
    PERFORM set_config('response.status', h->>'x-status', true);
  END IF;
  PERFORM set_config('response.headers',
    json_build_array(json_build_object('X-Pre-Role', current_user))::text, true);
END $$;
CREATE FUNCTION hello() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('response.headers',
    (current_setting('response.headers', true)::jsonb || '[{"X-Hello": "yes"}]')::text, true);
  RETURN 'hi';
END $$;
"#;

#[tokio::test]
async fn the_pre_request_runs_as_the_role_and_its_answer_applies() {
    for stream in [None, Some(0)] {
        let (svc, db) = scratch_with(SETUP, |b| {
            b.anon_role("anon")
                .pre_request("check_request")
                .stream_reads_above(stream)
        })
        .await;
        let read = send(&svc, "GET", "/notes?select=id,body", &[]).await;
        assert_eq!(read.status, 200, "{}", read.text);
        assert_eq!(read.json(), serde_json::json!([{"id": 1, "body": "one"}]));
        assert_eq!(read.header("x-pre-role"), "anon", "stream: {stream:?}");

        let status = send(&svc, "GET", "/notes?select=id", &[("x-status", "203")]).await;
        assert_eq!(status.status, 203, "{}", status.text);

        let blocked = send(&svc, "GET", "/notes", &[("x-block", "yes")]).await;
        assert_eq!(blocked.status, 402, "{}", blocked.text);
        assert_eq!(blocked.json()["message"], "Payment Required");
        assert_eq!(blocked.json()["code"], "P402");
        assert_eq!(blocked.header("x-reason"), "blocked");

        // A blocked write changes nothing; an allowed one lands, with the header.
        let refused = send_body(
            &svc,
            "POST",
            "/notes",
            &[("x-block", "yes"), ("content-type", "application/json")],
            r#"{"id": 2, "body": "two"}"#,
        )
        .await;
        assert_eq!(refused.status, 402, "{}", refused.text);
        assert_eq!(
            rows(&db, "SELECT id FROM notes ORDER BY id").await,
            serde_json::json!([{"id": 1}])
        );
        let written = send_body(
            &svc,
            "POST",
            "/notes",
            &[("content-type", "application/json")],
            r#"{"id": 2, "body": "two"}"#,
        )
        .await;
        assert_eq!(written.status, 201, "{}", written.text);
        assert_eq!(written.header("x-pre-role"), "anon");
        assert_eq!(
            rows(&db, "SELECT id FROM notes ORDER BY id").await,
            serde_json::json!([{"id": 1}, {"id": 2}])
        );

        // A call answers what the pre-request and the function both set.
        let call = send(&svc, "POST", "/rpc/hello", &[]).await;
        assert_eq!(call.status, 200, "{}", call.text);
        assert_eq!(call.header("x-pre-role"), "anon");
        assert_eq!(call.header("x-hello"), "yes");
        let blocked = send(&svc, "POST", "/rpc/hello", &[("x-block", "yes")]).await;
        assert_eq!(blocked.status, 402, "{}", blocked.text);
    }
}
