//! The crate's files depend on each other in one direction: no file names,
//! in a `use crate::…` or `use super::…` line or a `crate::…` path, a file
//! that names it back. Read from the sources; no database needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, as paths relative to `src/`.
fn sources(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root).expect("under src/").to_path_buf());
        }
    }
}

/// The module path of a file: `db/mod.rs` → `["db"]`, `db/wire.rs` → `["db", "wire"]`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file that holds the longest prefix of `path` that is a module.
fn file_of(path: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    (1..=path.len())
        .rev()
        .find_map(|n| files.get(&path[..n]).cloned())
}

/// The paths a file names: `crate::a::b…` anywhere in its code (use lines
/// included, their `{…}` groups expanded one level), and `super::…` in use lines.
fn named_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|p| !p.is_empty())
            .collect()
    };
    for (start, _) in code.match_indices("crate::") {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[start + "crate::".len()..];
        let head = ident(rest);
        let tail = &rest[head
            .iter()
            .map(|h| h.len() + 2)
            .sum::<usize>()
            .min(rest.len())..];
        if tail.starts_with('{') || rest[head.join("::").len()..].starts_with("::{") {
            let group_start = rest.find('{').unwrap_or(0) + 1;
            let group_end = rest[group_start..]
                .find('}')
                .map_or(rest.len(), |e| e + group_start);
            for item in rest[group_start..group_end].split(',') {
                let mut path = head.clone();
                path.extend(ident(item.trim()));
                out.push(path);
            }
        } else {
            out.push(head);
        }
    }
    // `super::x`: the parent module's `x` (in a use line, a group expands).
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    for (start, _) in code.match_indices("super::") {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[start + "super::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let mut p = parent.clone();
                p.extend(ident(item.trim()));
                out.push(p);
            }
        } else {
            let mut p = parent.clone();
            p.extend(ident(rest));
            out.push(p);
        }
    }
    out
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let by_module: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(root.join(file)).expect("a source file");
        let module = module_of(file);
        for path in named_paths(&text, &module) {
            if let Some(target) = file_of(&path, &by_module) {
                if &target != file && !target.ends_with("lib.rs") {
                    edges.entry(file.clone()).or_default().insert(target);
                }
            }
        }
    }
    assert!(
        edges.values().map(BTreeSet::len).sum::<usize>() > 50,
        "the reader found too few imports to be reading them: {edges:?}"
    );
    let mut both_ways = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if from < to && edges.get(to).is_some_and(|back| back.contains(from)) {
                both_ways.push(format!("{} <-> {}", from.display(), to.display()));
            }
        }
    }
    assert!(
        both_ways.is_empty(),
        "files that import each other:\n{}",
        both_ways.join("\n")
    );
}
