//! System.Xml.Linq's object model as policies see it: `XDocument`, `XElement`, `XAttribute`,
//! the leaf nodes (`XText`, `XCData`, `XComment`, `XProcessingInstruction`), `XName`,
//! `XNamespace` and `XDeclaration`. Nodes are shared and mutable with identity, as in .NET:
//! an element added to a second parent while it has one is copied; `Remove()` detaches; a node
//! knows its parent, and holding any node keeps its whole tree alive.
//!
//! Nodes live in a [`Store`] (an arena: parents and children are indices, so a tree has no
//! reference cycles to leak); a handle ([`XRef`]) is a store and an index. Adding a node from
//! another store moves that store's nodes into this one and leaves a forward behind, so every
//! handle to them still finds them. Documents are read with the `roxmltree` crate (nesting
//! deeper than [`super::xml_json::MAX_DEPTH`] refused first, no DTDs); the model and the writer
//! (.NET's `ToString()`: two-space indentation unless the content is mixed, `<a />` for an
//! empty element, prefixes from the `xmlns` attributes in scope, `\n` line ends as the JSON
//! writer uses) are hand-written because no crate models XLinq's mutable tree.
//!
//! Must not: know about expressions, policies or the request context.

use std::sync::{Arc, Mutex, MutexGuard};

/// The namespace of `xmlns:p` attributes.
pub(crate) const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
/// The namespace of the `xml:` prefix.
pub(crate) const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Most nodes a parsed document may have (roxmltree's own limit, set lower).
const MAX_NODES: u32 = 1_000_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a change to the tree was refused: .NET's `InvalidOperationException` message.
pub(crate) type Refused = String;

const NO_PARENT: &str = "The parent is missing.";
const BAD_STRUCTURE: &str = "This operation would create an incorrectly structured document.";

/// An expanded name (`XName`): a namespace (empty for none) and a local name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub ns: Arc<str>,
    pub local: Arc<str>,
}

impl Name {
    /// `XName.Get(local, ns)`; `Err`: .NET's message for a local name that is not an XML
    /// name without a colon.
    pub(crate) fn new(local: &str, ns: &str) -> Result<Name, String> {
        verify_ncname(local)?;
        Ok(Name {
            ns: ns.into(),
            local: local.into(),
        })
    }

    /// The implicit conversion of a string: `local` or `{namespace}local`.
    pub(crate) fn parse(s: &str) -> Result<Name, String> {
        match s.strip_prefix('{') {
            Some(rest) => match rest.split_once('}') {
                Some((ns, local)) if !ns.is_empty() => Name::new(local, ns),
                _ => Err(format!("'{s}' is an invalid expanded name.")),
            },
            None => Name::new(s, ""),
        }
    }

    /// `ToString()`: `{namespace}local`, or the local name alone.
    pub(crate) fn clark(&self) -> String {
        if self.ns.is_empty() {
            self.local.to_string()
        } else {
            format!("{{{}}}{}", self.ns, self.local)
        }
    }

    fn plain(local: &str) -> Name {
        Name {
            ns: "".into(),
            local: local.into(),
        }
    }
}

/// XmlConvert.VerifyNCName, for the names policies make.
fn verify_ncname(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Err("The empty string '' is not a valid local name.".into());
    };
    let start = |c: char| c.is_alphabetic() || c == '_';
    let rest = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{B7}');
    if !start(first) {
        return Err(format!(
            "Name cannot begin with the '{first}' character, hexadecimal value 0x{:02X}.",
            first as u32
        ));
    }
    match chars.find(|c| !rest(*c)) {
        Some(c) => Err(format!(
            "The '{c}' character, hexadecimal value 0x{:02X}, cannot be included in a name.",
            c as u32
        )),
        None => Ok(()),
    }
}

/// `XDeclaration`: its three values as written (`None`: absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declaration {
    pub version: Option<String>,
    pub encoding: Option<String>,
    pub standalone: Option<String>,
}

impl Declaration {
    /// `<?xml version="1.0" encoding="utf-8"?>`, as `XDeclaration.ToString()` writes it.
    pub(crate) fn to_text(&self) -> String {
        let mut s = String::from("<?xml");
        for (k, v) in [
            ("version", &self.version),
            ("encoding", &self.encoding),
            ("standalone", &self.standalone),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {k}=\"{v}\""));
            }
        }
        s.push_str("?>");
        s
    }
}

/// What a leaf node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeafKind {
    Text,
    CData,
    Comment,
    /// A processing instruction (its target is kept beside the data).
    Pi,
}

/// What a handle designates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Document,
    Element,
    Attribute,
    Leaf(LeafKind),
}

#[derive(Clone, Debug)]
enum Data {
    /// An element, or a document (no name, attributes or parent; a declaration).
    Container {
        document: bool,
        name: Name,
        attrs: Vec<usize>,
        children: Vec<usize>,
        declaration: Option<Declaration>,
    },
    Attr {
        name: Name,
        value: String,
    },
    Leaf {
        kind: LeafKind,
        target: String,
        value: String,
    },
}

#[derive(Clone, Debug)]
struct Slot {
    data: Data,
    parent: Option<usize>,
}

/// The nodes of one or more trees (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Store {
    inner: Mutex<Nodes>,
}

#[derive(Debug, Default)]
struct Nodes {
    /// Set once these nodes moved into another store: where, and by how much their indices
    /// moved.
    forward: Option<(Arc<Store>, usize)>,
    slots: Vec<Slot>,
}

/// A node or attribute: its store and index (through the store's forwards).
#[derive(Clone, Debug)]
pub struct XRef {
    store: Arc<Store>,
    id: usize,
}

/// What may be added to a container (`Add`'s `params object[] content`, already flattened).
#[derive(Debug)]
pub(crate) enum Content {
    /// A node or an attribute.
    Ref(XRef),
    /// A string, or any other value as its text.
    Text(String),
}

impl Nodes {
    fn get(&self, id: usize) -> Option<&Slot> {
        self.slots.get(id)
    }

    fn kind(&self, id: usize) -> Option<Kind> {
        Some(match &self.get(id)?.data {
            Data::Container { document: true, .. } => Kind::Document,
            Data::Container { .. } => Kind::Element,
            Data::Attr { .. } => Kind::Attribute,
            Data::Leaf { kind, .. } => Kind::Leaf(*kind),
        })
    }

    fn push(&mut self, data: Data) -> usize {
        self.slots.push(Slot { data, parent: None });
        self.slots.len() - 1
    }

    fn children(&self, id: usize) -> &[usize] {
        match self.get(id).map(|s| &s.data) {
            Some(Data::Container { children, .. }) => children,
            _ => &[],
        }
    }

    fn attrs(&self, id: usize) -> &[usize] {
        match self.get(id).map(|s| &s.data) {
            Some(Data::Container { attrs, .. }) => attrs,
            _ => &[],
        }
    }

    fn name(&self, id: usize) -> Option<&Name> {
        match &self.get(id)?.data {
            Data::Container {
                document: false,
                name,
                ..
            }
            | Data::Attr { name, .. } => Some(name),
            _ => None,
        }
    }

    fn parent(&self, id: usize) -> Option<usize> {
        self.get(id)?.parent
    }

    fn is_element(&self, id: usize) -> bool {
        self.kind(id) == Some(Kind::Element)
    }

    /// `Value` of a node: an element's text below it, in document order; a leaf's or an
    /// attribute's own.
    fn value(&self, id: usize) -> String {
        let mut out = String::new();
        match self.get(id).map(|s| &s.data) {
            Some(Data::Attr { value, .. } | Data::Leaf { value, .. }) => out.push_str(value),
            Some(Data::Container { .. }) => {
                let mut stack: Vec<usize> = self.children(id).iter().rev().copied().collect();
                while let Some(c) = stack.pop() {
                    match self.get(c).map(|s| &s.data) {
                        Some(Data::Leaf {
                            kind: LeafKind::Text | LeafKind::CData,
                            value,
                            ..
                        }) => out.push_str(value),
                        Some(Data::Container { .. }) => {
                            stack.extend(self.children(c).iter().rev().copied())
                        }
                        _ => {}
                    }
                }
            }
            None => {}
        }
        out
    }

    /// Makes `a` (parentless) the last attribute of element `p`.
    fn link_attr(&mut self, p: usize, a: usize) {
        if let Some(s) = self.slots.get_mut(a) {
            s.parent = Some(p);
        }
        if let Some(Slot {
            data: Data::Container { attrs, .. },
            ..
        }) = self.slots.get_mut(p)
        {
            attrs.push(a);
        }
    }

    /// Makes `n` (parentless) the child of `p` at `at` (at most the end).
    fn link_child(&mut self, p: usize, n: usize, at: usize) {
        if let Some(s) = self.slots.get_mut(n) {
            s.parent = Some(p);
        }
        if let Some(Slot {
            data: Data::Container { children, .. },
            ..
        }) = self.slots.get_mut(p)
        {
            children.insert(at.min(children.len()), n);
        }
    }

    /// Detaches `id` from its parent's children (or attributes).
    fn unlink(&mut self, id: usize) {
        let Some(p) = self.parent(id) else { return };
        if let Some(Slot {
            data: Data::Container {
                attrs, children, ..
            },
            ..
        }) = self.slots.get_mut(p)
        {
            attrs.retain(|x| *x != id);
            children.retain(|x| *x != id);
        }
        if let Some(s) = self.slots.get_mut(id) {
            s.parent = None;
        }
    }

    /// The subtree at `id` as new slots (root first, indices local, no parent).
    fn extract(&self, id: usize) -> Vec<Slot> {
        let mut out: Vec<Slot> = Vec::new();
        let mut map: Vec<(usize, usize)> = Vec::new();
        let mut queue = vec![id];
        while let Some(n) = queue.pop() {
            let Some(slot) = self.get(n) else { continue };
            map.push((n, out.len()));
            out.push(slot.clone());
            queue.extend(self.attrs(n).iter().copied());
            queue.extend(self.children(n).iter().copied());
        }
        let local = |x: usize| map.iter().find(|(o, _)| *o == x).map(|(_, l)| *l);
        for s in &mut out {
            s.parent = s.parent.and_then(local);
            if let Data::Container {
                attrs, children, ..
            } = &mut s.data
            {
                *attrs = attrs.iter().filter_map(|a| local(*a)).collect();
                *children = children.iter().filter_map(|c| local(*c)).collect();
            }
        }
        if let Some(root) = out.first_mut() {
            root.parent = None;
        }
        out
    }

    /// Appends slots whose indices are local to them; returns by how much they moved.
    fn append(&mut self, slots: Vec<Slot>) -> usize {
        let off = self.slots.len();
        for mut s in slots {
            s.parent = s.parent.map(|p| p + off);
            if let Data::Container {
                attrs, children, ..
            } = &mut s.data
            {
                attrs.iter_mut().for_each(|a| *a += off);
                children.iter_mut().for_each(|c| *c += off);
            }
            self.slots.push(s);
        }
        off
    }

    /// Whether `anc` is `id` or one of its ancestors.
    fn is_ancestor(&self, anc: usize, id: usize) -> bool {
        let mut at = Some(id);
        while let Some(n) = at {
            if n == anc {
                return true;
            }
            at = self.parent(n);
        }
        false
    }

    /// Inserts the nodes `new` (in this store, parentless) into `p` at `at` (the end for
    /// `None`), joining text to a text neighbour as XLinq does.
    fn insert(&mut self, p: usize, new: Vec<usize>, at: Option<usize>) -> Result<(), Refused> {
        let document = self.kind(p) == Some(Kind::Document);
        if document {
            let has_root = self.children(p).iter().any(|c| self.is_element(*c));
            let added = new.iter().filter(|n| self.is_element(**n)).count();
            if added + usize::from(has_root) > 1 {
                return Err(BAD_STRUCTURE.into());
            }
        }
        let len = self.children(p).len();
        let mut at = at.unwrap_or(len).min(len);
        for n in new {
            if let Some(Data::Leaf {
                kind: LeafKind::Text,
                value,
                ..
            }) = self.get(n).map(|s| s.data.clone())
            {
                let prev = at
                    .checked_sub(1)
                    .and_then(|i| self.children(p).get(i).copied());
                if let Some(Slot {
                    data:
                        Data::Leaf {
                            kind: LeafKind::Text,
                            value: pv,
                            ..
                        },
                    ..
                }) = prev.and_then(|i| self.slots.get_mut(i))
                {
                    pv.push_str(&value);
                    continue;
                }
                if value.is_empty() {
                    continue;
                }
                if document && !value.trim().is_empty() {
                    return Err("Non-whitespace characters cannot be added to content.".into());
                }
            }
            self.link_child(p, n, at);
            at += 1;
        }
        Ok(())
    }

    fn set_text(&mut self, id: usize, v: &str) {
        match self.slots.get_mut(id).map(|s| &mut s.data) {
            Some(Data::Attr { value, .. } | Data::Leaf { value, .. }) => *value = v.into(),
            Some(Data::Container { .. }) => {
                for c in self.children(id).to_vec() {
                    self.unlink(c);
                }
                if !v.is_empty() {
                    let t = self.push(Data::Leaf {
                        kind: LeafKind::Text,
                        target: String::new(),
                        value: v.into(),
                    });
                    let _ = self.insert(id, vec![t], None);
                }
            }
            None => {}
        }
    }
}

impl Store {
    fn new_with(data: Data) -> XRef {
        let store = Arc::new(Store::default());
        let id = lock(&store.inner).push(data);
        XRef { store, id }
    }
}

impl XRef {
    pub(crate) fn new_element(name: Name) -> XRef {
        Store::new_with(Data::Container {
            document: false,
            name,
            attrs: Vec::new(),
            children: Vec::new(),
            declaration: None,
        })
    }

    pub(crate) fn new_document(declaration: Option<Declaration>) -> XRef {
        Store::new_with(Data::Container {
            document: true,
            name: Name::plain(""),
            attrs: Vec::new(),
            children: Vec::new(),
            declaration,
        })
    }

    pub(crate) fn new_attr(name: Name, value: &str) -> XRef {
        Store::new_with(Data::Attr {
            name,
            value: value.into(),
        })
    }

    pub(crate) fn new_leaf(kind: LeafKind, target: &str, value: &str) -> XRef {
        Store::new_with(Data::Leaf {
            kind,
            target: target.into(),
            value: value.into(),
        })
    }

    /// Runs `f` on this node's store, locked, with its current index (found again should the
    /// store move between [`XRef::resolve`] and the lock).
    fn with<R>(&self, f: impl FnOnce(&mut Nodes, usize) -> R) -> R {
        loop {
            let (store, id) = self.resolve();
            let mut nodes = lock(&store.inner);
            if nodes.forward.is_none() {
                return f(&mut nodes, id);
            }
        }
    }

    /// The store and index this handle resolves to now.
    fn resolve(&self) -> (Arc<Store>, usize) {
        let mut store = self.store.clone();
        let mut id = self.id;
        loop {
            let fwd = lock(&store.inner).forward.clone();
            match fwd {
                Some((next, off)) => {
                    store = next;
                    id += off;
                }
                None => return (store, id),
            }
        }
    }

    fn at(&self, id: usize) -> XRef {
        XRef {
            store: self.resolve().0,
            id,
        }
    }

    /// C# `==`: the same node.
    pub(crate) fn same(&self, other: &XRef) -> bool {
        let (a, i) = self.resolve();
        let (b, j) = other.resolve();
        Arc::ptr_eq(&a, &b) && i == j
    }

    pub(crate) fn kind(&self) -> Kind {
        self.with(|n, id| n.kind(id)).unwrap_or(Kind::Element)
    }

    /// An element's or attribute's name.
    pub(crate) fn name(&self) -> Option<Name> {
        self.with(|n, id| n.name(id).cloned())
    }

    pub(crate) fn declaration(&self) -> Option<Declaration> {
        self.with(|n, id| match n.get(id).map(|s| &s.data) {
            Some(Data::Container { declaration, .. }) => declaration.clone(),
            _ => None,
        })
    }

    /// A processing instruction's target.
    pub(crate) fn target(&self) -> String {
        self.with(|n, id| match n.get(id).map(|s| &s.data) {
            Some(Data::Leaf { target, .. }) => target.clone(),
            _ => String::new(),
        })
    }

    /// The container this node is in (an element's document included).
    fn container(&self) -> Option<XRef> {
        let p = self.with(|n, id| n.parent(id))?;
        Some(self.at(p))
    }

    /// `Parent`: the element this node or attribute is in (none at the top of a document).
    pub(crate) fn parent(&self) -> Option<XRef> {
        self.container().filter(|p| p.kind() == Kind::Element)
    }

    /// `Document`.
    pub(crate) fn document(&self) -> Option<XRef> {
        let top = self.with(|n, id| {
            let mut at = id;
            while let Some(p) = n.parent(at) {
                at = p;
            }
            (n.kind(at) == Some(Kind::Document)).then_some(at)
        })?;
        Some(self.at(top))
    }

    /// `XDocument.Root`.
    pub(crate) fn root(&self) -> Option<XRef> {
        let r = self.with(|n, id| n.children(id).iter().copied().find(|c| n.is_element(*c)))?;
        Some(self.at(r))
    }

    fn refs(&self, ids: Vec<usize>) -> Vec<XRef> {
        let store = self.resolve().0;
        ids.into_iter()
            .map(|id| XRef {
                store: store.clone(),
                id,
            })
            .collect()
    }

    pub(crate) fn nodes(&self) -> Vec<XRef> {
        let ids = self.with(|n, id| n.children(id).to_vec());
        self.refs(ids)
    }

    pub(crate) fn attributes(&self, name: Option<&Name>) -> Vec<XRef> {
        let ids = self.with(|n, id| {
            n.attrs(id)
                .iter()
                .copied()
                .filter(|a| name.is_none_or(|w| n.name(*a) == Some(w)))
                .collect()
        });
        self.refs(ids)
    }

    pub(crate) fn attribute(&self, name: &Name) -> Option<XRef> {
        self.attributes(Some(name)).into_iter().next()
    }

    /// `Elements([name])`.
    pub(crate) fn elements(&self, name: Option<&Name>) -> Vec<XRef> {
        let ids = self.with(|n, id| {
            n.children(id)
                .iter()
                .copied()
                .filter(|c| n.is_element(*c) && name.is_none_or(|w| n.name(*c) == Some(w)))
                .collect()
        });
        self.refs(ids)
    }

    /// `Element(name)`.
    pub(crate) fn element(&self, name: &Name) -> Option<XRef> {
        self.elements(Some(name)).into_iter().next()
    }

    /// `Descendants([name])`, `DescendantsAndSelf([name])` in document order; `Err` past
    /// `limit` elements looked at.
    pub(crate) fn descendants(
        &self,
        name: Option<&Name>,
        and_self: bool,
        limit: usize,
    ) -> Result<Vec<XRef>, ()> {
        let ids = self.with(|n, id| {
            let mut out = Vec::new();
            let mut stack: Vec<usize> = if and_self {
                vec![id]
            } else {
                n.children(id).iter().rev().copied().collect()
            };
            let mut seen = 0usize;
            while let Some(e) = stack.pop() {
                if !n.is_element(e) {
                    continue;
                }
                seen += 1;
                if seen > limit {
                    return Err(());
                }
                if name.is_none_or(|w| n.name(e) == Some(w)) {
                    out.push(e);
                }
                stack.extend(n.children(e).iter().rev().copied());
            }
            Ok(out)
        })?;
        Ok(self.refs(ids))
    }

    /// `DescendantNodes()` in document order, bounded as [`XRef::descendants`].
    pub(crate) fn descendant_nodes(&self, limit: usize) -> Result<Vec<XRef>, ()> {
        let ids = self.with(|n, id| {
            let mut out = Vec::new();
            let mut stack: Vec<usize> = n.children(id).iter().rev().copied().collect();
            while let Some(c) = stack.pop() {
                if out.len() >= limit {
                    return Err(());
                }
                out.push(c);
                stack.extend(n.children(c).iter().rev().copied());
            }
            Ok(out)
        })?;
        Ok(self.refs(ids))
    }

    /// `Ancestors([name])`, `AncestorsAndSelf([name])`: elements outward.
    pub(crate) fn ancestors(&self, name: Option<&Name>, and_self: bool) -> Vec<XRef> {
        let ids = self.with(|n, id| {
            let mut out = Vec::new();
            let mut at = if and_self { Some(id) } else { n.parent(id) };
            while let Some(e) = at {
                if n.is_element(e) && name.is_none_or(|w| n.name(e) == Some(w)) {
                    out.push(e);
                }
                at = n.parent(e);
            }
            out
        });
        self.refs(ids)
    }

    /// `Value`.
    pub(crate) fn value(&self) -> String {
        self.with(|n, id| n.value(id))
    }

    /// `SetValue(v)`: an element's nodes become one text node; an attribute's or a leaf's
    /// value changes.
    pub(crate) fn set_value(&self, v: &str) {
        self.with(|n, id| n.set_text(id, v));
    }

    pub(crate) fn has_elements(&self) -> bool {
        self.with(|n, id| n.children(id).iter().any(|c| n.is_element(*c)))
    }

    pub(crate) fn has_attributes(&self) -> bool {
        self.with(|n, id| !n.attrs(id).is_empty())
    }

    /// `IsEmpty`: no nodes (`<a />`).
    pub(crate) fn is_empty(&self) -> bool {
        self.with(|n, id| n.children(id).is_empty())
    }

    /// `NextNode` (`next`) or `PreviousNode`.
    pub(crate) fn sibling(&self, next: bool) -> Option<XRef> {
        let s = self.with(|n, id| {
            let p = n.parent(id)?;
            let siblings = n.children(p);
            let i = siblings.iter().position(|c| *c == id)?;
            if next {
                siblings.get(i + 1).copied()
            } else {
                i.checked_sub(1).and_then(|j| siblings.get(j).copied())
            }
        })?;
        Some(self.at(s))
    }

    /// Moves `other`'s store into this one (if they differ), so both can be linked.
    fn join(&self, other: &XRef) {
        let (a, _) = self.resolve();
        let (b, _) = other.resolve();
        if Arc::ptr_eq(&a, &b) {
            return;
        }
        // Both locked, in address order, so two joins cannot wait on each other.
        let a_first = Arc::as_ptr(&a) < Arc::as_ptr(&b);
        let (mut ga, mut gb) = if a_first {
            let ga = lock(&a.inner);
            (ga, lock(&b.inner))
        } else {
            let gb = lock(&b.inner);
            (lock(&a.inner), gb)
        };
        if ga.forward.is_some() || gb.forward.is_some() {
            // Moved meanwhile (another thread); try again from the new places.
            drop((ga, gb));
            return self.join(other);
        }
        let slots = std::mem::take(&mut gb.slots);
        let off = ga.append(slots);
        gb.forward = Some((a.clone(), off));
    }

    /// The node to link under this container for `r`: itself when it has no parent (its store
    /// joined to this one), a copy when it has one. A document, or an ancestor of this
    /// container, is refused.
    fn adoptable(&self, r: &XRef) -> Result<usize, Refused> {
        if r.kind() == Kind::Document {
            return Err("A document cannot be added to content.".into());
        }
        self.join(r);
        let (_, target) = self.resolve();
        let (_, id) = r.resolve();
        self.with(|n, _| {
            if n.parent(id).is_some() {
                let copy = n.extract(id);
                return Ok(n.append(copy));
            }
            if n.is_ancestor(id, target) {
                return Err(BAD_STRUCTURE.into());
            }
            Ok(id)
        })
    }

    /// Content as nodes in this store (new text nodes, adopted nodes) and attributes.
    fn prepare(&self, content: Vec<Content>) -> Result<(Vec<usize>, Vec<usize>), Refused> {
        let mut nodes = Vec::new();
        let mut attrs = Vec::new();
        for c in content {
            match c {
                Content::Text(t) => nodes.push(self.with(|n, _| {
                    n.push(Data::Leaf {
                        kind: LeafKind::Text,
                        target: String::new(),
                        value: t,
                    })
                })),
                Content::Ref(r) if r.kind() == Kind::Attribute => attrs.push(self.adoptable(&r)?),
                Content::Ref(r) => nodes.push(self.adoptable(&r)?),
            }
        }
        Ok((nodes, attrs))
    }

    /// `Add(content)` (`first`: `AddFirst`).
    pub(crate) fn add(&self, content: Vec<Content>, first: bool) -> Result<(), Refused> {
        let (nodes, attrs) = self.prepare(content)?;
        self.with(|n, id| {
            if !attrs.is_empty() && n.kind(id) != Some(Kind::Element) {
                return Err("An attribute cannot be added to content.".to_string());
            }
            for a in attrs {
                let name = n.name(a).cloned();
                if n.attrs(id).iter().any(|x| n.name(*x) == name.as_ref()) {
                    return Err("Duplicate attribute.".into());
                }
                n.link_attr(id, a);
            }
            n.insert(id, nodes, first.then_some(0))
        })
    }

    /// `ReplaceNodes(content)` (`attributes_too`: `ReplaceAll`). The content is taken before
    /// the old nodes go: a node of this container in it is kept, not copied.
    pub(crate) fn replace_nodes(
        &self,
        content: Vec<Content>,
        attributes_too: bool,
    ) -> Result<(), Refused> {
        // Detach what is being kept first, so it counts as parentless.
        let keep: Vec<usize> = content
            .iter()
            .filter_map(|c| match c {
                Content::Ref(r) if r.container().is_some_and(|p| p.same(self)) => {
                    Some(r.resolve().1)
                }
                _ => None,
            })
            .collect();
        self.with(|n, id| {
            for k in &keep {
                n.unlink(*k);
            }
            for c in n.children(id).to_vec() {
                n.unlink(c);
            }
            if attributes_too {
                for a in n.attrs(id).to_vec() {
                    n.unlink(a);
                }
            }
        });
        self.add(content, false)
    }

    /// `SetAttributeValue(name, value)`: sets, adds, or (`None`) removes.
    pub(crate) fn set_attribute(&self, name: &Name, value: Option<&str>) {
        self.with(|n, id| {
            let found = n
                .attrs(id)
                .iter()
                .copied()
                .find(|a| n.name(*a) == Some(name));
            match (found, value) {
                (Some(a), Some(v)) => n.set_text(a, v),
                (Some(a), None) => n.unlink(a),
                (None, Some(v)) => {
                    let a = n.push(Data::Attr {
                        name: name.clone(),
                        value: v.into(),
                    });
                    n.link_attr(id, a);
                }
                (None, None) => {}
            }
        })
    }

    /// `SetElementValue(name, value)`: sets the first child element of that name, adds one,
    /// or (`None`) removes it.
    pub(crate) fn set_element(&self, name: &Name, value: Option<&str>) -> Result<(), Refused> {
        self.with(|n, id| {
            let found = n
                .children(id)
                .iter()
                .copied()
                .find(|c| n.is_element(*c) && n.name(*c) == Some(name));
            match (found, value) {
                (Some(e), Some(v)) => n.set_text(e, v),
                (Some(e), None) => n.unlink(e),
                (None, Some(v)) => {
                    let e = n.push(Data::Container {
                        document: false,
                        name: name.clone(),
                        attrs: Vec::new(),
                        children: Vec::new(),
                        declaration: None,
                    });
                    n.set_text(e, v);
                    n.insert(id, vec![e], None)?;
                }
                (None, None) => {}
            }
            Ok(())
        })
    }

    /// `RemoveNodes()`.
    pub(crate) fn remove_nodes(&self) {
        self.with(|n, id| {
            for c in n.children(id).to_vec() {
                n.unlink(c);
            }
        })
    }

    /// `RemoveAttributes()`.
    pub(crate) fn remove_attributes(&self) {
        self.with(|n, id| {
            for a in n.attrs(id).to_vec() {
                n.unlink(a);
            }
        })
    }

    /// `Remove()`: detaches the node or attribute; .NET refuses one without a parent.
    pub(crate) fn remove(&self) -> Result<(), Refused> {
        self.with(|n, id| {
            if n.parent(id).is_none() {
                return Err(NO_PARENT.to_string());
            }
            n.unlink(id);
            Ok(())
        })
    }

    /// `AddBeforeSelf`, `AddAfterSelf` (`after`), `ReplaceWith` (`replace`).
    pub(crate) fn add_beside(
        &self,
        content: Vec<Content>,
        after: bool,
        replace: bool,
    ) -> Result<(), Refused> {
        let parent = self.container().ok_or_else(|| NO_PARENT.to_string())?;
        let (nodes, attrs) = parent.prepare(content)?;
        if !attrs.is_empty() {
            return Err("An attribute cannot be added to content.".into());
        }
        let (_, me) = self.resolve();
        parent.with(|n, p| {
            let i = n
                .children(p)
                .iter()
                .position(|c| *c == me)
                .ok_or_else(|| NO_PARENT.to_string())?;
            if replace {
                n.unlink(me);
            }
            let at = if after && !replace { i + 1 } else { i };
            n.insert(p, nodes, Some(at))
        })
    }

    /// A copy of this element (or document) and everything below it, in a store of its own
    /// (`new XElement(other)`).
    pub(crate) fn deep_copy(&self) -> XRef {
        let slots = self.with(|n, id| n.extract(id));
        let store = Arc::new(Store::default());
        lock(&store.inner).append(slots);
        XRef { store, id: 0 }
    }

    /// `ToString()` (`indent`: `SaveOptions.None`): a node as XML (a document without its
    /// declaration), an attribute as `name="value"`.
    pub(crate) fn to_text(&self, indent: bool) -> String {
        self.with(|n, id| {
            let mut w = Writer {
                nodes: n,
                out: String::new(),
                indent,
                scopes: Vec::new(),
                generated: 0,
            };
            match n.kind(id) {
                Some(Kind::Document) => {
                    for (i, c) in n.children(id).iter().enumerate() {
                        if i > 0 && indent {
                            w.out.push('\n');
                        }
                        w.node(*c, 0);
                    }
                }
                Some(Kind::Attribute) => w.attribute_alone(id),
                _ => w.node(id, 0),
            }
            w.out
        })
    }
}

/// `XDocument.Parse(text)` (`document`) or `XElement.Parse(text)` (`keep_space`: `LoadOptions.
/// PreserveWhitespace`). `Err`: the reason, as an `XmlException` message would give it.
pub(crate) fn parse(text: &str, document: bool, keep_space: bool) -> Result<XRef, String> {
    if super::xml_json::nesting(text) > super::xml_json::MAX_DEPTH {
        return Err(format!(
            "The document nests deeper than {} elements.",
            super::xml_json::MAX_DEPTH
        ));
    }
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())?;
    let mut nodes = Nodes::default();
    let top = if document {
        let d = nodes.push(Data::Container {
            document: true,
            name: Name::plain(""),
            attrs: Vec::new(),
            children: Vec::new(),
            declaration: declaration_of(text),
        });
        for c in doc.root().children() {
            build(&mut nodes, c, d, keep_space);
        }
        d
    } else {
        let holder = nodes.push(Data::Container {
            document: true,
            name: Name::plain(""),
            attrs: Vec::new(),
            children: Vec::new(),
            declaration: None,
        });
        build(&mut nodes, doc.root_element(), holder, keep_space);
        let e = nodes.children(holder).first().copied().unwrap_or(holder);
        nodes.unlink(e);
        e
    };
    let store = Arc::new(Store {
        inner: Mutex::new(nodes),
    });
    Ok(XRef { store, id: top })
}

/// The declaration at the start of `text`, read by hand (roxmltree does not keep it).
fn declaration_of(text: &str) -> Option<Declaration> {
    let t = text.trim_start_matches('\u{FEFF}');
    let body = t.strip_prefix("<?xml")?;
    let body = &body[..body.find("?>")?];
    let get = |k: &str| {
        let i = body.find(&format!("{k}="))? + k.len() + 1;
        let q = body[i..].chars().next()?;
        let rest = &body[i + 1..];
        Some(rest[..rest.find(q)?].to_string())
    };
    Some(Declaration {
        version: get("version"),
        encoding: get("encoding"),
        standalone: get("standalone"),
    })
}

/// Adds the node `x` (and what is below it) under `parent`; namespace declarations become
/// `xmlns` attributes, as in XLinq. Whitespace-only text between elements is dropped unless
/// `keep_space` (XDocument.Parse's default).
fn build(n: &mut Nodes, x: roxmltree::Node, parent: usize, keep_space: bool) {
    let data = match x.node_type() {
        roxmltree::NodeType::Element => {
            let tag = x.tag_name();
            Data::Container {
                document: false,
                name: Name {
                    ns: tag.namespace().unwrap_or("").into(),
                    local: tag.name().into(),
                },
                attrs: Vec::new(),
                children: Vec::new(),
                declaration: None,
            }
        }
        roxmltree::NodeType::Text => {
            let t = x.text().unwrap_or("");
            let between = x.parent().is_some_and(|p| p.children().count() > 1);
            if !keep_space && between && t.trim().is_empty() {
                return;
            }
            Data::Leaf {
                kind: LeafKind::Text,
                target: String::new(),
                value: t.into(),
            }
        }
        roxmltree::NodeType::Comment => Data::Leaf {
            kind: LeafKind::Comment,
            target: String::new(),
            value: x.text().unwrap_or("").into(),
        },
        roxmltree::NodeType::PI => {
            let Some(pi) = x.pi() else { return };
            Data::Leaf {
                kind: LeafKind::Pi,
                target: pi.target.into(),
                value: pi.value.unwrap_or("").into(),
            }
        }
        roxmltree::NodeType::Root => return,
    };
    let id = n.push(data);
    n.link_child(parent, id, usize::MAX);
    if !x.is_element() {
        return;
    }
    let inherited: Vec<(Option<&str>, &str)> = x
        .parent_element()
        .map(|p| p.namespaces().map(|ns| (ns.name(), ns.uri())).collect())
        .unwrap_or_default();
    let mut attrs = Vec::new();
    for ns in x.namespaces() {
        if ns.uri() == XML || inherited.contains(&(ns.name(), ns.uri())) {
            continue;
        }
        let name = match ns.name() {
            Some(p) => Name {
                ns: XMLNS.into(),
                local: p.into(),
            },
            None => Name::plain("xmlns"),
        };
        attrs.push((name, ns.uri().to_string()));
    }
    for a in x.attributes() {
        attrs.push((
            Name {
                ns: a.namespace().unwrap_or("").into(),
                local: a.name().into(),
            },
            a.value().to_string(),
        ));
    }
    for (name, value) in attrs {
        let a = n.push(Data::Attr { name, value });
        n.link_attr(id, a);
    }
    for c in x.children() {
        build(n, c, id, keep_space);
    }
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c => out.push(c),
        }
    }
}

/// .NET's XmlWriter as `ToString()` drives it: prefixes from the declarations in scope.
struct Writer<'a> {
    nodes: &'a Nodes,
    out: String,
    indent: bool,
    /// Per open element: the (prefix, namespace) pairs it declares; `""` is the default.
    scopes: Vec<Vec<(String, String)>>,
    generated: usize,
}

impl Writer<'_> {
    fn lookup_ns(&self, prefix: &str) -> Option<&str> {
        self.scopes.iter().rev().find_map(|s| {
            s.iter()
                .rev()
                .find(|(p, _)| p == prefix)
                .map(|(_, u)| u.as_str())
        })
    }

    /// A prefix bound to `ns` in scope (and not hidden by an inner declaration).
    fn lookup_prefix(&self, ns: &str) -> Option<String> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(p, u)| u == ns && !p.is_empty() && self.lookup_ns(p) == Some(ns))
            .map(|(p, _)| p.clone())
    }

    fn newline(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn node(&mut self, id: usize, depth: usize) {
        match self.nodes.get(id).map(|s| &s.data) {
            Some(Data::Container { .. }) => self.element(id, depth),
            Some(Data::Leaf {
                kind,
                target,
                value,
            }) => match kind {
                LeafKind::Text => escape_text(value, &mut self.out),
                LeafKind::CData => {
                    self.out.push_str("<![CDATA[");
                    self.out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
                    self.out.push_str("]]>");
                }
                LeafKind::Comment => {
                    self.out.push_str("<!--");
                    self.out.push_str(value);
                    self.out.push_str("-->");
                }
                LeafKind::Pi => {
                    self.out.push_str("<?");
                    self.out.push_str(target);
                    if !value.is_empty() {
                        self.out.push(' ');
                        self.out.push_str(value);
                    }
                    self.out.push_str("?>");
                }
            },
            Some(Data::Attr { .. }) | None => {}
        }
    }

    /// An attribute's own `ToString()`: `name="value"` (prefixes `xmlns:` and `xml:` only).
    fn attribute_alone(&mut self, id: usize) {
        if let Some(Data::Attr { name, value }) = self.nodes.get(id).map(|s| &s.data) {
            if &*name.ns == XMLNS {
                self.out.push_str("xmlns:");
            } else if &*name.ns == XML {
                self.out.push_str("xml:");
            }
            self.out.push_str(&name.local);
            self.out.push_str("=\"");
            escape_attr(value, &mut self.out);
            self.out.push('"');
        }
    }

    fn element(&mut self, id: usize, depth: usize) {
        let nodes = self.nodes;
        let Some(name) = nodes.name(id) else { return };
        let attrs: Vec<(&Name, &str)> = nodes
            .attrs(id)
            .iter()
            .filter_map(|a| match nodes.get(*a).map(|s| &s.data) {
                Some(Data::Attr { name, value }) => Some((name, value.as_str())),
                _ => None,
            })
            .collect();
        let mut declared = Vec::new();
        for (n, v) in &attrs {
            if &*n.ns == XMLNS {
                declared.push((n.local.to_string(), v.to_string()));
            } else if n.ns.is_empty() && &*n.local == "xmlns" {
                declared.push((String::new(), v.to_string()));
            }
        }
        self.scopes.push(declared);
        let mut extra = String::new();
        // The element's prefix: none when the default namespace is its own, else a declared
        // prefix, else a default declaration written here.
        let prefix = if self.lookup_ns("").unwrap_or("") == &*name.ns {
            String::new()
        } else if let Some(p) = self.lookup_prefix(&name.ns) {
            p
        } else {
            extra.push_str(" xmlns=\"");
            escape_attr(&name.ns, &mut extra);
            extra.push('"');
            if let Some(scope) = self.scopes.last_mut() {
                scope.push((String::new(), name.ns.to_string()));
            }
            String::new()
        };
        self.out.push('<');
        if !prefix.is_empty() {
            self.out.push_str(&prefix);
            self.out.push(':');
        }
        self.out.push_str(&name.local);
        for (n, v) in &attrs {
            self.out.push(' ');
            if &*n.ns == XMLNS {
                self.out.push_str("xmlns:");
            } else if &*n.ns == XML {
                self.out.push_str("xml:");
            } else if !n.ns.is_empty() {
                let p = match self.lookup_prefix(&n.ns) {
                    Some(p) => p,
                    None => {
                        self.generated += 1;
                        let p = format!("p{}", self.generated);
                        extra.push_str(&format!(" xmlns:{p}=\""));
                        escape_attr(&n.ns, &mut extra);
                        extra.push('"');
                        if let Some(scope) = self.scopes.last_mut() {
                            scope.push((p.clone(), n.ns.to_string()));
                        }
                        p
                    }
                };
                self.out.push_str(&p);
                self.out.push(':');
            }
            self.out.push_str(&n.local);
            self.out.push_str("=\"");
            escape_attr(v, &mut self.out);
            self.out.push('"');
        }
        self.out.push_str(&extra);
        let children = nodes.children(id);
        if children.is_empty() {
            self.out.push_str(" />");
            self.scopes.pop();
            return;
        }
        self.out.push('>');
        // Mixed content (any text) is written as it is; otherwise one child per line.
        let mixed = children.iter().any(|c| {
            matches!(
                nodes.kind(*c),
                Some(Kind::Leaf(LeafKind::Text | LeafKind::CData))
            )
        });
        let indent = self.indent && !mixed;
        let saved = self.indent;
        self.indent = indent;
        for c in children {
            if indent {
                self.newline(depth + 1);
            }
            self.node(*c, depth + 1);
        }
        self.indent = saved;
        if indent {
            self.newline(depth);
        }
        self.out.push_str("</");
        if !prefix.is_empty() {
            self.out.push_str(&prefix);
            self.out.push(':');
        }
        self.out.push_str(&name.local);
        self.out.push('>');
        self.scopes.pop();
    }
}

/// An XLinq object as a value holds it.
#[derive(Clone, Debug)]
pub enum XObject {
    /// A document, element, leaf node or attribute.
    Ref(XRef),
    Name(Name),
    /// An `XNamespace`: its URI (empty for `XNamespace.None`).
    Namespace(Arc<str>),
    Declaration(Declaration),
}

impl XObject {
    /// The class, as `GetType().Name` gives it.
    pub(crate) fn class(&self) -> &'static str {
        match self {
            XObject::Ref(r) => match r.kind() {
                Kind::Document => "XDocument",
                Kind::Element => "XElement",
                Kind::Attribute => "XAttribute",
                Kind::Leaf(LeafKind::Text) => "XText",
                Kind::Leaf(LeafKind::CData) => "XCData",
                Kind::Leaf(LeafKind::Comment) => "XComment",
                Kind::Leaf(LeafKind::Pi) => "XProcessingInstruction",
            },
            XObject::Name(_) => "XName",
            XObject::Namespace(_) => "XNamespace",
            XObject::Declaration(_) => "XDeclaration",
        }
    }

    /// `ToString()`: nodes as indented XML, names and namespaces as their text.
    pub(crate) fn to_text(&self) -> String {
        match self {
            XObject::Ref(r) => r.to_text(true),
            XObject::Name(n) => n.clark(),
            XObject::Namespace(ns) => ns.to_string(),
            XObject::Declaration(d) => d.to_text(),
        }
    }

    /// C# `==`: nodes by reference, names and namespaces by value.
    pub(crate) fn same(&self, other: &XObject) -> bool {
        match (self, other) {
            (XObject::Ref(a), XObject::Ref(b)) => a.same(b),
            (XObject::Name(a), XObject::Name(b)) => a == b,
            (XObject::Namespace(a), XObject::Namespace(b)) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn a_document_reads_and_writes_back_as_dotnet_writes_it() {
        let doc = parse(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<a x=\"1\">\n  <b>t &amp; u</b>\n  <c/>\n</a>",
            true,
            false,
        )
        .unwrap();
        assert_eq!(
            doc.to_text(true),
            "<a x=\"1\">\n  <b>t &amp; u</b>\n  <c />\n</a>"
        );
        assert_eq!(doc.to_text(false), "<a x=\"1\"><b>t &amp; u</b><c /></a>");
        assert_eq!(
            doc.declaration().unwrap().to_text(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
        );
        let root = doc.root().unwrap();
        assert_eq!(root.value(), "t & u");
        assert!(root.parent().is_none());
        assert!(root.document().is_some_and(|d| d.same(&doc)));
        // Mixed content keeps its layout.
        let e = parse("<p>one <b>two</b> three</p>", false, false).unwrap();
        assert_eq!(e.to_text(true), "<p>one <b>two</b> three</p>");
        assert!(e.container().is_none());
    }

    #[test]
    fn namespaces_keep_their_prefixes_and_new_ones_are_declared() {
        let soap = "<s:Envelope xmlns:s=\"urn:s\"><s:Body><m xmlns=\"urn:m\"><v>1</v></m></s:Body></s:Envelope>";
        let e = parse(soap, false, false).unwrap();
        assert_eq!(e.name(), Some(n("{urn:s}Envelope")));
        let body = e.element(&n("{urn:s}Body")).unwrap();
        let m = body.element(&n("{urn:m}m")).unwrap();
        assert_eq!(m.element(&n("{urn:m}v")).unwrap().value(), "1");
        assert_eq!(e.to_text(false), soap);
        // An element made in a namespace with no prefix in scope declares it as the default.
        let x = XRef::new_element(n("{urn:x}a"));
        x.add(vec![Content::Ref(XRef::new_element(n("{urn:x}b")))], false)
            .unwrap();
        x.set_attribute(&n("{urn:y}k"), Some("v"));
        assert_eq!(
            x.to_text(false),
            "<a p1:k=\"v\" xmlns=\"urn:x\" xmlns:p1=\"urn:y\"><b /></a>"
        );
    }

    #[test]
    fn a_child_keeps_its_tree_and_identity_survives_adding() {
        let b = XRef::new_element(n("b"));
        let c = XRef::new_element(n("c"));
        {
            let a = XRef::new_element(n("a"));
            a.add(vec![Content::Ref(b.clone())], false).unwrap();
            // b was parentless: it is now a's child itself, so changing b changes a.
            b.add(vec![Content::Ref(c.clone())], false).unwrap();
            assert_eq!(a.to_text(false), "<a><b><c /></b></a>");
        }
        // a is gone as a handle, but b's tree holds it.
        assert_eq!(b.parent().and_then(|p| p.name()), Some(n("a")));
        assert_eq!(c.ancestors(None, false).len(), 2);
        // Adding b (which has a parent) elsewhere adds a copy.
        let d = XRef::new_element(n("d"));
        d.add(vec![Content::Ref(b.clone())], false).unwrap();
        assert!(!d.elements(None)[0].same(&b));
        assert_eq!(d.to_text(false), "<d><b><c /></b></d>");
        // An ancestor may not go inside its descendant.
        let top = b.parent().unwrap();
        top.remove_nodes();
        assert!(c.add(vec![Content::Ref(b.clone())], false).is_err());
        assert!(c.remove().is_ok());
        assert_eq!(c.remove(), Err(NO_PARENT.to_string()));
        // Adjacent strings are one text node.
        let t = XRef::new_element(n("t"));
        t.add(
            vec![Content::Text("x".into()), Content::Text("y".into())],
            false,
        )
        .unwrap();
        assert_eq!(t.nodes().len(), 1);
        assert_eq!(t.to_text(true), "<t>xy</t>");
    }

    #[test]
    fn names_are_checked_as_dotnet_checks_them() {
        assert_eq!(n("{urn:a}b").clark(), "{urn:a}b");
        assert!(Name::parse("").is_err());
        assert!(Name::parse("a:b").unwrap_err().contains("':' character"));
        assert!(Name::parse("1a").unwrap_err().contains("cannot begin"));
        assert!(Name::parse("{}a").is_err());
    }

    #[test]
    fn hostile_documents_are_refused() {
        let deep = "<a>".repeat(200) + &"</a>".repeat(200);
        assert!(parse(&deep, true, false).unwrap_err().contains("deeper"));
        let dtd = "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>";
        assert!(parse(dtd, true, false).is_err());
        assert!(parse("<a>", true, false).is_err());
    }

    #[test]
    fn descendants_are_bounded() {
        let e = parse("<a><b><c/></b><b/></a>", false, false).unwrap();
        assert_eq!(e.descendants(Some(&n("b")), false, 100).unwrap().len(), 2);
        assert_eq!(e.descendants(None, true, 100).unwrap().len(), 4);
        assert!(e.descendants(None, false, 2).is_err());
    }
}
