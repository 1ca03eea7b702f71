//! An APIM policy element with its source, and the readers every policy uses for its
//! attributes and children: each refuses what it does not know with the element's position
//! (SPEC §3: nothing is skipped silently).
//!
//! Must not: know any particular policy (those are `crate::policies`).

use crate::context::RouteInfo;
use crate::error::{CompileError, ErrorKind};
use crate::expr::ir::Ty;
use crate::expr::{self, Expression, Template};
use crate::source::{Source, Spanned};
use crate::value::Value;
use crate::xml::{Attr, Element, Node};

/// An element with its source, and the attribute/child readers every policy uses.
pub(crate) struct El<'a> {
    pub(crate) e: &'a Element,
    pub(crate) src: &'a Source,
}

impl<'a> El<'a> {
    pub(crate) fn err(&self, kind: ErrorKind, msg: impl Into<String>) -> CompileError {
        self.src.error(self.e.offset, kind, msg)
    }

    pub(crate) fn attr_err(
        &self,
        a: &Attr,
        kind: ErrorKind,
        msg: impl Into<String>,
    ) -> CompileError {
        self.src
            .error(a.value.src_offset(0).max(a.offset), kind, msg)
    }

    /// Refuses attributes not in `allowed` (`id` is allowed everywhere, as in APIM).
    pub(crate) fn only_attrs(&self, allowed: &[&str]) -> Result<(), CompileError> {
        for a in &self.e.attrs {
            if a.name != "id" && !allowed.contains(&a.name.as_str()) {
                let expected = if allowed.is_empty() {
                    "no attributes".to_string()
                } else {
                    allowed.join(", ")
                };
                return Err(self.src.error(
                    a.offset,
                    ErrorKind::UnknownAttribute,
                    format!(
                        "unknown attribute '{}' on <{}>; expected {expected}",
                        a.name, self.e.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses child elements not in `allowed`, and text unless `text_ok`.
    pub(crate) fn only_children(
        &self,
        allowed: &[&str],
        text_ok: bool,
    ) -> Result<(), CompileError> {
        for n in &self.e.children {
            match n {
                Node::Element(c) if !allowed.contains(&c.name.as_str()) => {
                    let expected = if allowed.is_empty() {
                        "no child elements".to_string()
                    } else {
                        allowed
                            .iter()
                            .map(|a| format!("<{a}>"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(self.src.error(
                        c.offset,
                        ErrorKind::UnknownPolicy,
                        format!(
                            "unexpected element <{}> inside <{}>; expected {expected}",
                            c.name, self.e.name
                        ),
                    ));
                }
                Node::Text(t) if !text_ok => {
                    return Err(self.src.error(
                        t.src_offset(0),
                        ErrorKind::Structure,
                        format!("unexpected text inside <{}>", self.e.name),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(crate) fn opt(&self, name: &str) -> Option<&'a Attr> {
        self.e.attr(name)
    }

    pub(crate) fn req(&self, name: &str) -> Result<&'a Attr, CompileError> {
        self.opt(name).ok_or_else(|| {
            self.err(
                ErrorKind::MissingAttribute,
                format!("<{}> needs the attribute '{name}'", self.e.name),
            )
        })
    }

    pub(crate) fn children(&self, name: &'a str) -> impl Iterator<Item = El<'a>> + 'a {
        let src = self.src;
        self.e
            .elements()
            .filter(move |c| c.name == name)
            .map(move |e| El { e, src })
    }

    pub(crate) fn child(&self, name: &'a str) -> Result<Option<El<'a>>, CompileError> {
        let mut it = self.children(name);
        let first = it.next();
        if let Some(second) = it.next() {
            return Err(second.err(
                ErrorKind::Structure,
                format!("<{name}> appears more than once in <{}>", self.e.name),
            ));
        }
        Ok(first)
    }

    pub(crate) fn literal(&self, a: &'a Attr) -> Result<&'a str, CompileError> {
        if expr::is_expression(&a.value.text) {
            return Err(self.attr_err(
                a,
                ErrorKind::InvalidValue,
                format!(
                    "attribute '{}' of <{}> must be a literal, not an expression",
                    a.name, self.e.name
                ),
            ));
        }
        Ok(a.value.text.as_str())
    }

    pub(crate) fn bool_attr(&self, name: &str, default: bool) -> Result<bool, CompileError> {
        match self.opt(name) {
            None => Ok(default),
            Some(a) => match a.value.text.trim() {
                "true" | "True" => Ok(true),
                "false" | "False" => Ok(false),
                other => Err(self.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("attribute '{name}' is '{other}'; expected true or false"),
                )),
            },
        }
    }

    pub(crate) fn u64_attr(&self, a: &Attr, min: u64, max: u64) -> Result<u64, CompileError> {
        let t = self.literal(a)?.trim();
        match t.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(self.attr_err(
                a,
                ErrorKind::InvalidValue,
                format!(
                    "attribute '{}' is '{t}'; expected a whole number from {min} to {max}",
                    a.name
                ),
            )),
        }
    }

    pub(crate) fn template(&self, a: &Attr, route: &RouteInfo) -> Result<Template, CompileError> {
        Template::compile(&a.value, self.src, route)
    }

    /// A `bool` attribute that may be an expression (`condition`, `increment-condition`).
    pub(crate) fn bool_expr(
        &self,
        a: &Attr,
        route: &RouteInfo,
    ) -> Result<Expression, CompileError> {
        match expr::compile(&a.value, self.src, route)? {
            Some(e) if matches!(e.ty(), Ty::Bool) => Ok(e),
            Some(e) => Err(self.attr_err(
                a,
                ErrorKind::ExpressionType,
                format!("'{}' must be a bool expression, not '{}'", a.name, e.ty()),
            )),
            None => match a.value.text.trim() {
                "true" | "True" => Ok(Expression::constant(Value::Bool(true))),
                "false" | "False" => Ok(Expression::constant(Value::Bool(false))),
                other => Err(self.attr_err(
                    a,
                    ErrorKind::InvalidValue,
                    format!("'{}' is '{other}'; expected @(...) or true/false", a.name),
                )),
            },
        }
    }

    pub(crate) fn text(&self) -> Option<Spanned> {
        self.e.text().map(|t| t.trimmed())
    }

    /// The trimmed text of an element that has nothing else (no attributes, no children):
    /// `<audience>api://x</audience>`; empty when it has none.
    pub(crate) fn bare_text(&self) -> Result<String, CompileError> {
        self.only_attrs(&[])?;
        self.only_children(&[], true)?;
        Ok(self
            .text()
            .map(|t| t.text.trim().to_string())
            .unwrap_or_default())
    }

    /// [`El::bare_text`], which must not be empty.
    pub(crate) fn required_text(&self) -> Result<String, CompileError> {
        let t = self.bare_text()?;
        if t.is_empty() {
            return Err(self.err(
                ErrorKind::InvalidValue,
                format!("<{}> is empty", self.e.name),
            ));
        }
        Ok(t)
    }

    /// The texts of this element's `<child>` elements (its only children), each
    /// [`El::required_text`], at least one: `<audiences><audience>…</audience></audiences>`.
    pub(crate) fn texts_of(&self, child: &str) -> Result<Vec<std::sync::Arc<str>>, CompileError> {
        self.only_children(&[child], false)?;
        let out = self
            .children(child)
            .map(|c| c.required_text().map(std::sync::Arc::from))
            .collect::<Result<Vec<_>, _>>()?;
        if out.is_empty() {
            return Err(self.err(
                ErrorKind::Structure,
                format!("<{}> needs at least one <{child}>", self.e.name),
            ));
        }
        Ok(out)
    }
}
