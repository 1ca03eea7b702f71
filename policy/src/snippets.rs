//! Finds the policy snippets in documentation text (Markdown or prose), so that the seed
//! documents can be run as written by tests and benchmarks, read from `../shared/seeds` at run
//! time rather than copied into the project.
//!
//! A snippet starts on a line that begins with a top-level policy element and ends at the first
//! line where the lines so far read as exactly one element.

use crate::source::Source;
use crate::xml::{parse_fragment, Node};

const STARTS: [&str; 5] = [
    "<choose",
    "<set-variable",
    "<validate-client-certificate",
    "<authentication-certificate",
    "<identity ",
];

/// Longest snippet, in lines: documentation never has longer ones, and it bounds the work.
const MAX_LINES: usize = 80;

pub fn extract(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        if !STARTS.iter().any(|s| t.starts_with(s)) {
            i += 1;
            continue;
        }
        let mut end = None;
        for j in i..lines.len().min(i + MAX_LINES) {
            let candidate = lines[i..=j].join("\n");
            let Ok(src) = Source::plain("snippet", candidate.as_str()) else {
                continue;
            };
            if let Ok(nodes) = parse_fragment(&src) {
                if nodes.len() == 1 && matches!(nodes[0], Node::Element(_)) {
                    out.push(candidate);
                    end = Some(j);
                    break;
                }
            }
        }
        i = end.map_or(i + 1, |j| j + 1);
    }
    out
}
