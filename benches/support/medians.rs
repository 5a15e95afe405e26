#![allow(dead_code, unreachable_pub)]

//! What the benches print after measuring: criterion's medians, read back
//! from its output. Included with `#[path]` by the benches that compare two
//! functions of one group.

/// Whether the run measures (`cargo bench`), rather than checking each
/// benchmark once (`cargo test --benches`, when there are no new medians).
pub fn measured() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The median, in nanoseconds, of `group/name` in this run.
pub fn median(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
    let path = format!("{dir}/criterion/{group}/{name}/new/estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}
