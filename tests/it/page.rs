//! The API page in a real browser: the demo server (its bookstore and
//! `tests/browser/fixture.sql`) and Debian's headless chromium, driven by
//! `tests/browser/page.mjs` over the DevTools protocol. Screenshots go to
//! `target/page/`.

use std::path::Path;
use std::process::Command;

use crate::demo::{start_throwaway_with, stop};

#[test]
fn the_api_page_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = root.join("tests/browser/fixture.sql");
    let started =
        start_throwaway_with(&[("PGRST_DEMO_EXTRA_SQL", Some(fixture.to_str().unwrap()))]);
    let base = started
        .said("Serving the REST API at ")
        .expect("the demo announced its address");
    let anon = started
        .said("anon key: ")
        .expect("the demo printed an anon key");
    let child = started.child;
    // Node 22 has WebSocket built in; node 20 behind a flag.
    let has_websocket = Command::new("node")
        .args([
            "-e",
            "process.exit(typeof WebSocket === 'function' ? 0 : 1)",
        ])
        .status()
        .expect("node is installed (the client suites need it too)")
        .success();
    let mut node = Command::new("node");
    if !has_websocket {
        node.arg("--experimental-websocket");
    }
    let out = node
        .arg(root.join("tests/browser/page.mjs"))
        .env("BASE", format!("{base}/"))
        .env("ANON_KEY", &anon)
        .env("OUT", root.join("target/page"))
        .output()
        .expect("running tests/browser/page.mjs");
    stop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "the page failed in the browser:\n{stdout}\n{stderr}"
    );
}

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn the_page_is_a_setting_and_goes_with_the_openapi_document() {
    use crate::support::{scratch_with, send};
    let ddl = "CREATE TABLE secret_plans (id int PRIMARY KEY);";
    // Off by default: a browser's root request gets the document, as before.
    let (off, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let doc = send(&off, "GET", "/", &[("accept", BROWSER)]).await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.header("content-type")
            .starts_with("application/openapi+json")
    );

    let (on, _db) = scratch_with(ddl, |b| b.anon_role("anon").api_page(true)).await;
    let page = send(&on, "GET", "/", &[("accept", BROWSER)]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    let policy = page.header("content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; script-src 'sha256-"),
        "{policy}"
    );
    assert!(policy.contains("connect-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("vary"), "Accept");
    assert!(
        !page.text.contains("secret_plans"),
        "the page holds no schema"
    );
    // Clients still get the document: `*/*`, JSON, or JSON named first.
    for accept in [
        "*/*",
        "application/openapi+json",
        "application/json, text/html",
    ] {
        let doc = send(&on, "GET", "/", &[("accept", accept)]).await;
        assert_eq!(doc.status, 200, "{accept}");
        assert!(doc.json()["paths"].is_object(), "{accept}: {}", doc.text);
    }
    // Only the root, only GET.
    let table = send(&on, "GET", "/secret_plans", &[("accept", BROWSER)]).await;
    assert_ne!(table.header("content-type"), "text/html; charset=utf-8");

    // With the OpenAPI document disabled, the page is off too.
    let (disabled, _db) = scratch_with(ddl, |b| {
        b.anon_role("anon")
            .api_page(true)
            .openapi_mode(tower_postgrest::OpenApiMode::Disabled)
    })
    .await;
    let reply = send(&disabled, "GET", "/", &[("accept", BROWSER)]).await;
    assert_ne!(reply.status, 200, "{}", reply.text);
    assert!(!reply.text.contains("<html"), "{}", reply.text);
}
