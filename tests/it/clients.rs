//! The supabase clients drive the demo server: `@supabase/postgrest-js` (node's
//! test runner) and the `postgrest` Python package (pytest), through
//! `tests/clients/run.sh`, which installs their pinned versions on first use.

use std::path::Path;
use std::process::Command;

/// `target/<profile>/examples/server`, which `cargo test` builds before running tests.
fn demo_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("server")
}

fn run_suite(which: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/run.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(which)
        .env("SERVER_BIN", demo_binary())
        .output()
        .expect("running tests/clients/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{which} client suite failed:\n{stdout}\n{stderr}"
    );
    // Show the suite's own summary in the test's output.
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("ℹ ") || l.contains(" passed"))
    {
        println!("{which}: {line}");
    }
}

#[test]
fn postgrest_js_suite() {
    run_suite("js");
}

#[test]
fn postgrest_python_suite() {
    run_suite("python");
}
