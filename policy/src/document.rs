//! Policy documents and how scopes combine (SPEC §3).
//!
//! A route's effective policy comes from up to four documents — global, product, API,
//! operation — each with the sections `inbound`, `backend`, `outbound`, `on-error`. In each
//! section a child scope's `<base/>` stands for its parent's statements; a child section without
//! `<base/>` drops them. A section a child document leaves out entirely inherits its parent's
//! statements unchanged (as if it were `<section><base/></section>`), which is what an APIM
//! editor writes by default. `<include-fragment>` is replaced by the fragment's statements.
//!
//! The result is a flat list of statements per section, each still pointing at its element and
//! source; turning statements into executable steps is `compile`'s job.

use std::collections::HashMap;

use crate::error::{CompileError, ErrorKind};
use crate::sections::{Scope, Section};
use crate::source::Source;
use crate::xml::{self, Element, Node};

/// One parsed policy document at one scope.
#[derive(Debug)]
pub struct ScopeDocument {
    /// The scope it is attached at.
    pub scope: Scope,
    /// Its text, with named values substituted.
    pub source: Source,
    sections: HashMap<Section, Element>,
}

impl ScopeDocument {
    /// Parses a `<policies>` document.
    pub fn parse(scope: Scope, source: Source) -> Result<ScopeDocument, CompileError> {
        let root = xml::parse_document(&source)?;
        if root.name != "policies" {
            return Err(source.error(
                root.offset,
                ErrorKind::Structure,
                format!("root element is <{}>; expected <policies>", root.name),
            ));
        }
        if let Some(a) = root.attrs.first() {
            return Err(source.error(
                a.offset,
                ErrorKind::UnknownAttribute,
                format!("unknown attribute '{}' on <policies>", a.name),
            ));
        }
        let mut sections = HashMap::new();
        for n in root.children {
            match n {
                Node::Text(t) => {
                    return Err(source.error(t.src_offset(0), ErrorKind::Structure, "text inside <policies>; expected <inbound>, <backend>, <outbound> or <on-error>"));
                }
                Node::Element(e) => {
                    let Some(section) = Section::from_name(&e.name) else {
                        return Err(source.error(e.offset, ErrorKind::Structure, format!("unknown section <{}>; expected <inbound>, <backend>, <outbound> or <on-error>", e.name)));
                    };
                    if let Some(a) = e.attrs.first() {
                        return Err(source.error(
                            a.offset,
                            ErrorKind::UnknownAttribute,
                            format!("unknown attribute '{}' on <{}>", a.name, e.name),
                        ));
                    }
                    if sections.contains_key(&section) {
                        return Err(source.error(
                            e.offset,
                            ErrorKind::Structure,
                            format!("section <{}> appears twice", e.name),
                        ));
                    }
                    let bases: Vec<&Element> = e.elements().filter(|c| c.name == "base").collect();
                    if bases.len() > 1 {
                        return Err(source.error(
                            bases[1].offset,
                            ErrorKind::Structure,
                            format!("<base/> appears more than once in <{}>", e.name),
                        ));
                    }
                    if scope == Scope::Global {
                        if let Some(b) = bases.first() {
                            return Err(source.error(
                                b.offset,
                                ErrorKind::Structure,
                                "<base/> in the global scope has no parent to stand for",
                            ));
                        }
                    }
                    sections.insert(section, e);
                }
            }
        }
        Ok(ScopeDocument {
            scope,
            source,
            sections,
        })
    }

    /// Wraps a bare snippet (a list of policies, as the docs show them) as the inbound section.
    pub fn from_inbound_snippet(
        scope: Scope,
        source: Source,
    ) -> Result<ScopeDocument, CompileError> {
        let nodes = xml::parse_fragment(&source)?;
        let section = Element {
            name: "inbound".into(),
            offset: 0,
            attrs: Vec::new(),
            children: nodes,
        };
        let mut sections = HashMap::new();
        sections.insert(Section::Inbound, section);
        Ok(ScopeDocument {
            scope,
            source,
            sections,
        })
    }

    /// The element of a section, when the document has it.
    pub fn section(&self, s: Section) -> Option<&Element> {
        self.sections.get(&s)
    }
}

/// Policy fragments by id (`<include-fragment fragment-id="..."/>`).
#[derive(Debug, Default)]
pub struct Fragments {
    map: HashMap<String, (Source, Element)>,
}

impl Fragments {
    /// No fragments.
    pub fn new() -> Fragments {
        Fragments::default()
    }

    /// Adds a fragment document: `<fragment>` with policy statements inside.
    pub fn add(&mut self, id: impl Into<String>, source: Source) -> Result<(), CompileError> {
        let root = xml::parse_document(&source)?;
        if root.name != "fragment" {
            return Err(source.error(
                root.offset,
                ErrorKind::Structure,
                format!("fragment root is <{}>; expected <fragment>", root.name),
            ));
        }
        self.map.insert(id.into(), (source, root));
        Ok(())
    }

    /// A fragment by id: its source and root element.
    pub fn get(&self, id: &str) -> Option<&(Source, Element)> {
        self.map.get(id)
    }
}

/// A statement of the effective policy: an element, the source it came from, the scope that
/// wrote it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Statement<'a> {
    pub element: &'a Element,
    pub source: &'a Source,
    pub scope: Scope,
}

/// Fragments may include fragments; this bounds the chain (and catches cycles).
const MAX_FRAGMENT_DEPTH: usize = 16;

/// The effective statements of one section: scopes merged through `<base/>`, fragments
/// expanded. `docs` must be ordered from the outermost scope (global) inwards.
pub(crate) fn merge_section<'a>(
    docs: &[&'a ScopeDocument],
    section: Section,
    fragments: &'a Fragments,
) -> Result<Vec<Statement<'a>>, CompileError> {
    let mut inherited: Vec<Statement<'a>> = Vec::new();
    for doc in docs {
        let Some(el) = doc.section(section) else {
            continue;
        };
        let mut out = Vec::new();
        for n in &el.children {
            match n {
                Node::Text(t) => {
                    return Err(doc.source.error(
                        t.src_offset(0),
                        ErrorKind::Structure,
                        format!("text inside <{section}>; expected policy elements"),
                    ));
                }
                Node::Element(e) if e.name == "base" => {
                    if let Some(a) = e.attrs.first() {
                        return Err(doc.source.error(
                            a.offset,
                            ErrorKind::UnknownAttribute,
                            format!("unknown attribute '{}' on <base>", a.name),
                        ));
                    }
                    out.append(&mut inherited);
                }
                Node::Element(e) => expand(
                    e,
                    &doc.source,
                    doc.scope,
                    fragments,
                    &mut out,
                    &mut Vec::new(),
                )?,
            }
        }
        inherited = out;
    }
    Ok(inherited)
}

/// Appends `e` to `out`, replacing an `<include-fragment>` by the fragment's statements.
pub(crate) fn expand<'a>(
    e: &'a Element,
    src: &'a Source,
    scope: Scope,
    fragments: &'a Fragments,
    out: &mut Vec<Statement<'a>>,
    chain: &mut Vec<&'a str>,
) -> Result<(), CompileError> {
    if e.name != "include-fragment" {
        out.push(Statement {
            element: e,
            source: src,
            scope,
        });
        return Ok(());
    }
    for a in &e.attrs {
        if a.name != "fragment-id" {
            return Err(src.error(
                a.offset,
                ErrorKind::UnknownAttribute,
                format!(
                    "unknown attribute '{}' on <include-fragment>; expected fragment-id",
                    a.name
                ),
            ));
        }
    }
    let Some(id) = e.attr("fragment-id") else {
        return Err(src.error(
            e.offset,
            ErrorKind::MissingAttribute,
            "<include-fragment> needs a fragment-id attribute",
        ));
    };
    let id = id.value.text.as_str();
    let Some((fsrc, froot)) = fragments.get(id) else {
        return Err(src.error(
            e.offset,
            ErrorKind::InvalidValue,
            format!("unknown fragment '{id}'; expected the id of a configured fragment"),
        ));
    };
    if chain.contains(&id) || chain.len() >= MAX_FRAGMENT_DEPTH {
        return Err(src.error(
            e.offset,
            ErrorKind::Structure,
            format!(
                "fragment '{id}' includes itself (through {})",
                chain.join(" -> ")
            ),
        ));
    }
    chain.push(id);
    for n in &froot.children {
        match n {
            Node::Element(c) if c.name == "base" => {
                return Err(fsrc.error(
                    c.offset,
                    ErrorKind::Structure,
                    "<base/> is not allowed inside a fragment",
                ));
            }
            Node::Element(c) => expand(c, fsrc, scope, fragments, out, chain)?,
            Node::Text(t) => {
                return Err(fsrc.error(
                    t.src_offset(0),
                    ErrorKind::Structure,
                    "text inside <fragment>; expected policy elements",
                ))
            }
        }
    }
    chain.pop();
    Ok(())
}
