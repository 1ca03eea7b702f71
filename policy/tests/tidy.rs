//! Tidy: the shape of the code, checked like rust-analyzer's `xtask/src/tidy.rs`.
//!
//! For both crates of the workspace (`policy/src`, `gateway/src`) it fails when
//! - a file does not open with a `//!` module doc;
//! - a module refers (`use`, or a path in code) to a module of a higher layer;
//! - modules refer to each other in a circle, at any layer;
//! - a module is in no layer (a new file must be placed in the table consciously);
//! - a file is missing from ARCHITECTURE.md's code map.
//!
//! The layer tables below are the architecture (ARCHITECTURE.md explains them): a module may use
//! its own layer and the layers below it. A `mod.rs` (or `lib.rs`) may refer to its own
//! children, as the facade that declares and re-exports them; test modules (`#[cfg(test)] mod
//! tests` at the end of a file) and comments are not read. The reader is a token scan of
//! `crate::`/`super::` paths, not a Rust parser: it needs no dependency and runs in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// certgate-policy, bottom up.
const POLICY_LAYERS: &[(&str, u8)] = &[
    // 0: foundations: the crypto alias, .NET scalars, where things are in a source, errors.
    ("crypto", 0),
    ("crypto_compat", 0),
    ("dotnet", 0),
    ("sections", 0),
    ("named_values", 0),
    ("source", 0),
    ("error", 0),
    ("http", 0),
    // 1: certificates, CRLs, trust, thumbprints, the demo PKI: nothing of expressions.
    ("cert", 1),
    ("crl", 1),
    ("revocation", 1),
    ("ocsp", 1),
    ("trust", 1),
    ("thumbprints", 1),
    ("pki", 1),
    ("validation", 1),
    // 2: what a running plan sees.
    ("value", 2),
    ("last_error", 2),
    ("outcall", 2),
    ("context", 2),
    ("counters", 2),
    ("cache", 2),
    ("concurrency", 2),
    ("openid", 2),
    // 3: the C# subset, and Liquid templates.
    ("expr", 3),
    ("liquid", 3),
    // 4: the APIM XML dialect (embeds C#).
    ("xml", 4),
    ("document", 4),
    ("snippets", 4),
    ("element", 4),
    // 5: the policy catalogue, then plans, their compilation and execution.
    ("policies", 5),
    ("plan", 5),
    ("exec", 5),
    ("pipeline", 5),
    ("compile", 5),
];

/// Items `lib.rs` defines itself (not modules), with their layer.
const POLICY_ROOT_ITEMS: &[(&str, u8)] = &[("crypto", 0)];

/// certgate (the gateway), bottom up.
const GATEWAY_LAYERS: &[(&str, u8)] = &[
    // 0: process-wide registries and log formats.
    ("metrics", 0),
    ("log", 0),
    // 1: the file format: the only module serde sees.
    ("config::schema", 1),
    // 2: the runtime model and what it is made of.
    ("routing", 2),
    ("forwarded", 2),
    ("shared", 2),
    ("snapshot", 2),
    // 3: connections and requests, over a snapshot.
    ("tls", 3),
    ("boundary", 3),
    ("proxy", 4),
    // 5: building snapshots from files, running the server, the command line.
    ("config", 5),
    ("demo_backend", 5),
    ("server", 6),
    ("cli", 7),
];

const GATEWAY_ROOT_ITEMS: &[(&str, u8)] = &[];

#[test]
fn policy_layers_hold() {
    let files = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut problems = check(&files, POLICY_LAYERS, POLICY_ROOT_ITEMS);
    problems.extend(unmapped(&files, "### `policy/src`", "### `gateway/src`"));
    assert!(problems.is_empty(), "policy/src:\n{}", problems.join("\n"));
}

#[test]
fn gateway_layers_hold() {
    let files = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/src"));
    let mut problems = check(&files, GATEWAY_LAYERS, GATEWAY_ROOT_ITEMS);
    problems.extend(unmapped(&files, "### `gateway/src`", "### Elsewhere"));
    assert!(problems.is_empty(), "gateway/src:\n{}", problems.join("\n"));
}

/// Files that ARCHITECTURE.md's code map (the part between two headings) does not name as
/// `` `path/from/src.rs` ``.
fn unmapped(files: &[File], from: &str, to: &str) -> Vec<String> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md");
    let text = std::fs::read_to_string(&doc).expect("ARCHITECTURE.md at the repository root");
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md lacks {from}"));
    let end = text[start..].find(to).map_or(text.len(), |e| start + e);
    let map = &text[start..end];
    files
        .iter()
        .filter(|f| !map.contains(&format!("`{}`", f.path)))
        .map(|f| format!("{}: not in ARCHITECTURE.md's code map", f.path))
        .collect()
}

/// The checker itself finds what it is meant to find.
#[test]
fn tidy_catches_missing_docs_upward_imports_circles_and_unplaced_files() {
    let files = vec![
        file("lib", true, "//! root\nmod low;\nmod high;\n"),
        file("low", false, "//! low\nuse crate::high::Thing;\n"),
        file("high", false, "//! high\nuse crate::low::Other;\n"),
        file("nodoc", false, "use crate::low::X;\n"),
        file(
            "a",
            true,
            "//! facade\nuse b::Y; // a facade may name its child\n#[cfg(test)]\nmod tests {\n use crate::high::Z;\n}\n",
        ),
        file("a::b", false, "//! child\n// crate::high in a comment is not a reference\n"),
    ];
    let layers = &[("low", 0), ("high", 1), ("a", 1), ("nodoc", 1)];
    let problems = check(&files, layers, &[]).join("\n");
    assert!(
        problems.contains("low (layer 0) refers to high (layer 1)"),
        "{problems}"
    );
    assert!(problems.contains("circle among: high, low"), "{problems}");
    assert!(problems.contains("nodoc: no //! module doc"), "{problems}");
    assert!(!problems.contains("a ("), "{problems}");
    assert!(!problems.contains("a::b ("), "{problems}");
    let unplaced = check(&files, &[("low", 0), ("high", 1)], &[]).join("\n");
    assert!(unplaced.contains("a: in no layer"), "{unplaced}");
}

struct File {
    /// The path under `src/` (`expr/check.rs`).
    path: String,
    /// `crate` for lib.rs/main.rs, else the module path (`expr::check`).
    module: String,
    /// lib.rs, main.rs or a mod.rs: may refer to its own children.
    facade: bool,
    text: String,
}

fn file(module: &str, facade: bool, text: &str) -> File {
    let module = if module == "lib" { "crate" } else { module };
    File {
        path: String::new(),
        module: module.into(),
        facade,
        text: text.into(),
    }
}

fn read_tree(src: &Path) -> Vec<File> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let rel_path = rel.to_string_lossy().replace('\\', "/");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            let last = parts.pop().unwrap_or_default();
            let facade = matches!(last.as_str(), "mod" | "lib" | "main");
            if !facade {
                parts.push(last);
            }
            let module = if parts.is_empty() {
                "crate".to_string()
            } else {
                parts.join("::")
            };
            let text = std::fs::read_to_string(&path).expect("readable source");
            out.push(File {
                path: rel_path,
                module,
                facade,
                text,
            });
        }
    }
    out
}

fn check(files: &[File], layers: &[(&str, u8)], root_items: &[(&str, u8)]) -> Vec<String> {
    let modules: BTreeSet<&str> = files.iter().map(|f| f.module.as_str()).collect();
    let layer_of = |m: &str| -> Option<u8> {
        layers
            .iter()
            .filter(|(p, _)| m == *p || m.starts_with(&format!("{p}::")))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, l)| *l)
            .or_else(|| root_items.iter().find(|(p, _)| *p == m).map(|(_, l)| *l))
    };
    let mut problems = Vec::new();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        if !f.text.trim_start().starts_with("//!") {
            problems.push(format!("{}: no //! module doc", f.module));
        }
        if f.module == "crate" {
            continue;
        }
        let Some(from) = layer_of(&f.module) else {
            problems.push(format!("{}: in no layer of the table", f.module));
            continue;
        };
        for target in references(f, &modules, root_items) {
            if target == f.module || (f.facade && target.starts_with(&format!("{}::", f.module))) {
                continue;
            }
            match layer_of(&target) {
                Some(to) if to > from => problems.push(format!(
                    "{} (layer {from}) refers to {target} (layer {to})",
                    f.module
                )),
                None => problems.push(format!("{}: refers to {target}, in no layer", f.module)),
                _ => {}
            }
            edges.entry(&f.module).or_default().insert(target);
        }
    }
    for circle in circles(&edges) {
        problems.push(format!("circle among: {}", circle.join(", ")));
    }
    problems
}

/// The modules a file refers to through `crate::` and `super::` paths, outside comments and
/// its trailing test module.
fn references(f: &File, modules: &BTreeSet<&str>, root_items: &[(&str, u8)]) -> BTreeSet<String> {
    let code = match f.text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &f.text[..i],
        None => &f.text[..],
    };
    let parent = |m: &str| {
        m.rsplit_once("::")
            .map_or(String::new(), |(p, _)| p.to_string())
    };
    // `super` in `a/b.rs` is `a`; in `a/mod.rs` it is a's parent.
    let super_base = parent(&f.module);
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        for (prefix, base) in [("crate::", String::new()), ("super::", super_base.clone())] {
            let mut rest = line;
            while let Some(i) = rest.find(prefix) {
                let preceded = rest[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
                rest = &rest[i + prefix.len()..];
                if preceded {
                    continue;
                }
                for path in paths_at(rest) {
                    let full = if base.is_empty() {
                        path
                    } else {
                        format!("{base}::{path}")
                    };
                    if let Some(m) = resolve(&full, modules, root_items) {
                        out.insert(m);
                    }
                }
            }
        }
    }
    out
}

/// The paths written at the start of `s`: `a::b::C`, or each member of a `{a::B, c}` group.
fn paths_at(s: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect::<String>()
            .trim_end_matches(':')
            .to_string()
    };
    match s.strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or("")
            .split(',')
            .map(|p| ident(p.trim()))
            .filter(|p| !p.is_empty())
            .collect(),
        None => vec![ident(s)],
    }
}

/// The longest module prefix of `path`, or a root item.
fn resolve(path: &str, modules: &BTreeSet<&str>, root_items: &[(&str, u8)]) -> Option<String> {
    let segs: Vec<&str> = path.split("::").collect();
    for n in (1..=segs.len()).rev() {
        let candidate = segs[..n].join("::");
        if modules.contains(candidate.as_str()) {
            return Some(candidate);
        }
    }
    root_items
        .iter()
        .find(|(i, _)| segs.first() == Some(i))
        .map(|(i, _)| i.to_string())
}

/// Strongly connected components of more than one module (Tarjan), each sorted.
fn circles(edges: &BTreeMap<&str, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<String> = edges
        .iter()
        .flat_map(|(k, v)| std::iter::once(k.to_string()).chain(v.iter().cloned()))
        .collect();
    let mut index = BTreeMap::new();
    let mut low = BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut on_stack = BTreeSet::new();
    let mut out = Vec::new();
    let mut counter = 0;
    #[allow(clippy::too_many_arguments)]
    fn visit(
        v: &str,
        edges: &BTreeMap<&str, BTreeSet<String>>,
        counter: &mut usize,
        index: &mut BTreeMap<String, usize>,
        low: &mut BTreeMap<String, usize>,
        stack: &mut Vec<String>,
        on_stack: &mut BTreeSet<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        index.insert(v.to_string(), *counter);
        low.insert(v.to_string(), *counter);
        *counter += 1;
        stack.push(v.to_string());
        on_stack.insert(v.to_string());
        for w in edges.get(v).into_iter().flatten() {
            if !index.contains_key(w) {
                visit(w, edges, counter, index, low, stack, on_stack, out);
                let lw = low[w];
                let lv = low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if on_stack.contains(w) {
                let iw = index[w];
                let lv = low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if low[v] == index[v] {
            let mut scc = Vec::new();
            while let Some(w) = stack.pop() {
                on_stack.remove(&w);
                let done = w == v;
                scc.push(w);
                if done {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                out.push(scc);
            }
        }
    }
    for n in &nodes {
        if !index.contains_key(n) {
            visit(
                n,
                edges,
                &mut counter,
                &mut index,
                &mut low,
                &mut stack,
                &mut on_stack,
                &mut out,
            );
        }
    }
    out
}
