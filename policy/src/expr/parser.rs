//! Recursive-descent/precedence parser for the C# subset. Produces [`ast`](super::ast) trees.
//!
//! Deliberate tolerance: a missing `;` directly before `}` is accepted, because a published
//! seed policy (`return "ClientCertificateNotTrusted"` followed by `}`) relies on it and the
//! seeds must run as written. Everything else is C#.

use super::ast::*;
use super::lexer::{lex, InterpPart, Tok, Token};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Nesting limit for expressions and statements: hostile input must not overflow the stack.
const MAX_NESTING: usize = 48;

/// Longest chain of binary operators of one precedence level (`a || b || ...`): allow-lists
/// written as conditions can be long, but not unbounded.
const MAX_CHAIN: usize = 4096;

pub(crate) fn parse_expression(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(src, 0)?;
    let e = p.expr()?;
    p.expect_eof()?;
    Ok(e)
}

pub(crate) fn parse_block_body(src: &str) -> Result<Vec<Stmt>, ParseError> {
    let mut p = Parser::new(src, 0)?;
    let mut stmts = Vec::new();
    while !p.at_eof() {
        stmts.push(p.stmt()?);
    }
    Ok(stmts)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    base: usize,
    depth: usize,
    /// What a `break` or `continue` here leaves: b'l' a loop, b's' a switch section, b'f' a
    /// function or lambda body (neither crosses it).
    jumps: Vec<u8>,
}

const KEYWORDS: [&str; 12] = [
    "var", "if", "else", "return", "foreach", "in", "new", "null", "true", "false", "is", "as",
];

impl Parser {
    fn new(src: &str, base: usize) -> Result<Parser, ParseError> {
        let toks = lex(src).map_err(|e| ParseError {
            offset: e.offset + base,
            message: e.message,
        })?;
        Ok(Parser {
            toks,
            i: 0,
            base,
            depth: 0,
            jumps: Vec::new(),
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn offset(&self) -> usize {
        self.toks[self.i].offset + self.base
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.i].tok.clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn at_eof(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn is_kw(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == k)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn err<T>(&self, message: String) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.offset(),
            message,
        })
    }

    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            self.err(format!("expected '{p}', found {}", self.peek()))
        }
    }

    fn expect_eof(&self) -> Result<(), ParseError> {
        if self.at_eof() {
            Ok(())
        } else {
            self.err(format!("expected end of expression, found {}", self.peek()))
        }
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) if !KEYWORDS.contains(&s.as_str()) => {
                self.bump();
                Ok(s)
            }
            t => self.err(format!("expected an identifier, found {t}")),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(format!("expression nested deeper than {MAX_NESTING}"));
        }
        Ok(())
    }

    // ---- statements ----

    fn stmt(&mut self) -> Result<Stmt, ParseError> {
        self.enter()?;
        let r = self.stmt_inner();
        self.depth -= 1;
        r
    }

    fn end_stmt(&mut self) -> Result<(), ParseError> {
        if self.eat(";") || self.is("}") || self.at_eof() {
            // A missing ';' before '}' is tolerated (see the module doc).
            Ok(())
        } else {
            self.err(format!("expected ';', found {}", self.peek()))
        }
    }

    fn stmt_inner(&mut self) -> Result<Stmt, ParseError> {
        let offset = self.offset();
        let kind = if self.eat("{") {
            let mut body = Vec::new();
            while !self.is("}") {
                if self.at_eof() {
                    return self.err("expected '}' to close the block".into());
                }
                body.push(self.stmt()?);
            }
            self.bump();
            StmtKind::Block(body)
        } else if self.eat(";") {
            StmtKind::Block(Vec::new())
        } else if self.is_kw("if") {
            self.bump();
            self.expect("(")?;
            let cond = self.expr()?;
            self.expect(")")?;
            let then = Box::new(self.stmt()?);
            let els = if self.is_kw("else") {
                self.bump();
                Some(Box::new(self.stmt()?))
            } else {
                None
            };
            StmtKind::If { cond, then, els }
        } else if self.is_kw("return") {
            self.bump();
            let value = if self.is(";") || self.is("}") {
                None
            } else {
                Some(self.expr()?)
            };
            self.end_stmt()?;
            StmtKind::Return(value)
        } else if self.is_kw("foreach") {
            self.bump();
            self.expect("(")?;
            let ty = if self.is_kw("var") {
                self.bump();
                None
            } else {
                Some(self.type_name()?)
            };
            let name = self.ident()?;
            if !self.is_kw("in") {
                return self.err(format!("expected 'in', found {}", self.peek()));
            }
            self.bump();
            let iter = self.expr()?;
            self.expect(")")?;
            let body = Box::new(self.loop_body()?);
            StmtKind::Foreach {
                ty,
                name,
                iter,
                body,
            }
        } else if self.is_kw("try") && self.peek_at(1) == &Tok::Punct("{") {
            self.bump();
            let body = self.block()?;
            let mut catches = Vec::new();
            while self.is_kw("catch") {
                let offset = self.offset();
                self.bump();
                let (ty, name) = if self.eat("(") {
                    let ty = self.type_name()?;
                    let name = match self.peek() {
                        Tok::Ident(_) => Some(self.ident()?),
                        _ => None,
                    };
                    self.expect(")")?;
                    (Some(ty), name)
                } else {
                    (None, None)
                };
                if self.is_kw("when") {
                    return self.err("exception filters ('catch ... when') are not supported by certgate; test inside the catch".into());
                }
                let body = self.block()?;
                catches.push(CatchClause {
                    ty,
                    name,
                    body,
                    offset,
                });
            }
            let finally = if self.is_kw("finally") {
                self.bump();
                Some(self.block()?)
            } else {
                None
            };
            if catches.is_empty() && finally.is_none() {
                return self.err("expected 'catch' or 'finally' after a try block".into());
            }
            StmtKind::Try {
                body,
                catches,
                finally,
            }
        } else if self.is_kw("switch") && self.peek_at(1) == &Tok::Punct("(") {
            self.jumps.push(b's');
            let s = self.switch(offset);
            self.jumps.pop();
            s?
        } else if self.is_kw("while") && self.peek_at(1) == &Tok::Punct("(") {
            self.bump();
            self.expect("(")?;
            let cond = self.expr()?;
            self.expect(")")?;
            let body = Box::new(self.loop_body()?);
            StmtKind::Loop {
                cond: Some(cond),
                body,
                step: Vec::new(),
                test_first: true,
            }
        } else if self.is_kw("do") && matches!(self.peek_at(1), Tok::Punct("{")) {
            self.bump();
            let body = Box::new(self.loop_body()?);
            if !self.is_kw("while") {
                return self.err(format!(
                    "expected 'while' after a do block, found {}",
                    self.peek()
                ));
            }
            self.bump();
            self.expect("(")?;
            let cond = self.expr()?;
            self.expect(")")?;
            self.end_stmt()?;
            StmtKind::Loop {
                cond: Some(cond),
                body,
                step: Vec::new(),
                test_first: false,
            }
        } else if self.is_kw("for") && self.peek_at(1) == &Tok::Punct("(") {
            return self.for_loop(offset);
        } else if self.is_kw("break") || self.is_kw("continue") {
            let brk = self.is_kw("break");
            self.bump();
            self.end_stmt()?;
            let word = if brk { "break" } else { "continue" };
            // The innermost loop, unless a switch section (for `break`) or a function body
            // comes first.
            let target = self
                .jumps
                .iter()
                .rev()
                .find(|j| **j == b'l' || **j == b'f' || (brk && **j == b's'))
                .copied();
            match target {
                Some(b'l') => {}
                Some(b's') => {
                    return Err(ParseError {
                        offset,
                        message: "a 'break' inside a switch section other than its last statement is not supported by certgate".into(),
                    })
                }
                _ => {
                    return Err(ParseError {
                        offset,
                        message: format!("'{word}' outside a loop"),
                    })
                }
            }
            if brk {
                StmtKind::Break
            } else {
                StmtKind::Continue
            }
        } else if self.is_kw("throw") {
            self.bump();
            let e = if self.is(";") || self.is("}") {
                None
            } else {
                Some(self.expr()?)
            };
            self.end_stmt()?;
            StmtKind::Throw(e)
        } else if self.is_kw("using") && matches!(self.peek_at(1), Tok::Punct("(")) {
            self.bump();
            self.bump();
            let at = self.offset();
            let resource = match self.try_decl(false)? {
                Some(d) => d,
                None => StmtKind::Expr(self.expr()?),
            };
            self.expect(")")?;
            StmtKind::Using {
                resource: Box::new(Stmt {
                    kind: resource,
                    offset: at,
                }),
                body: Box::new(self.stmt()?),
            }
        } else if self.is_kw("const") {
            // `const T x = e;`: a local like any other here.
            self.bump();
            match self.try_decl(true)? {
                Some(d) => d,
                None => return self.err("expected a declaration after 'const'".into()),
            }
        } else if let Some(word) = [
            "lock",
            "goto",
            "yield",
            "fixed",
            "unsafe",
            "checked",
            "unchecked",
        ]
        .into_iter()
        .filter(|w| self.is_kw(w))
        // `checked(x)` and `unchecked(x)` are expressions, refused where they are read.
        .find(|w| !(matches!(*w, "checked" | "unchecked") && self.peek_at(1) == &Tok::Punct("(")))
        {
            return self.err(format!("'{word}' statements are not supported by certgate"));
        } else if self.is_kw("var") && matches!(self.peek_at(1), Tok::Punct("(")) {
            return self.err("deconstruction ('var (a, b) = ...') is not supported by certgate; use Tuple's Item1 and Item2".into());
        } else if let Some(f) = self.try_local_fn(offset)? {
            f
        } else if let Some(decl) = self.try_decl(true)? {
            decl
        } else {
            let e = self.expr()?;
            self.end_stmt()?;
            StmtKind::Expr(e)
        };
        Ok(Stmt { kind, offset })
    }

    /// A loop's body, where `break` and `continue` are the loop's.
    fn loop_body(&mut self) -> Result<Stmt, ParseError> {
        self.jumps.push(b'l');
        let body = self.stmt();
        self.jumps.pop();
        body
    }

    /// `for (init; cond; step) body`: the initialiser (a declaration or expressions) a
    /// statement of an enclosing block, so its local is the loop's.
    fn for_loop(&mut self, offset: usize) -> Result<Stmt, ParseError> {
        self.bump();
        self.expect("(")?;
        let mut outer = Vec::new();
        if !self.eat(";") {
            let at = self.offset();
            if let Some(d) = self.try_decl(true)? {
                outer.push(Stmt {
                    kind: d,
                    offset: at,
                });
            } else {
                loop {
                    let e = self.expr()?;
                    outer.push(Stmt {
                        offset: e.offset,
                        kind: StmtKind::Expr(e),
                    });
                    if self.eat(";") {
                        break;
                    }
                    self.expect(",")?;
                }
            }
        }
        let cond = if self.is(";") {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(";")?;
        let mut step = Vec::new();
        if !self.eat(")") {
            loop {
                step.push(self.expr()?);
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        let body = Box::new(self.loop_body()?);
        outer.push(Stmt {
            kind: StmtKind::Loop {
                cond,
                body,
                step,
                test_first: true,
            },
            offset,
        });
        Ok(Stmt {
            kind: StmtKind::Block(outer),
            offset,
        })
    }

    /// `switch (e) { case A: case B: ...; break; default: ...; break; }`, as the `if` chain it
    /// means: `e` is evaluated once into a hidden local, each section's labels compared with
    /// `==`, `default` last whatever its place. A section ends with `break`, `return` or
    /// `throw` (C# allows no fall-through).
    fn switch(&mut self, offset: usize) -> Result<StmtKind, ParseError> {
        self.bump();
        self.expect("(")?;
        let subject = self.expr()?;
        self.expect(")")?;
        self.expect("{")?;
        // `$` cannot start a C# name: no policy local can clash with it.
        let tmp = format!("$switch{offset}");
        let mut sections: Vec<(Vec<Expr>, bool, Vec<Stmt>)> = Vec::new();
        while !self.eat("}") {
            if self.at_eof() {
                return self.err("expected '}' to close the switch".into());
            }
            let (mut labels, mut default) = (Vec::new(), false);
            while self.is_kw("case") || self.is_kw("default") {
                if self.is_kw("default") {
                    self.bump();
                    default = true;
                } else {
                    self.bump();
                    let label = self.expr()?;
                    if self.is_kw("when") || matches!(self.peek(), Tok::Ident(_)) {
                        return self.err("patterns in 'case' ('case T x', 'when') are not supported by certgate; use constants".into());
                    }
                    labels.push(label);
                }
                self.expect(":")?;
            }
            if labels.is_empty() && !default {
                return self.err(format!(
                    "expected 'case' or 'default', found {}",
                    self.peek()
                ));
            }
            let mut body = Vec::new();
            loop {
                if self.is_kw("break") {
                    self.bump();
                    self.end_stmt()?;
                    break;
                }
                if self.is_kw("case") || self.is_kw("default") || self.is("}") {
                    let ends = matches!(
                        body.last(),
                        Some(Stmt {
                            kind: StmtKind::Return(_)
                                | StmtKind::Throw(_)
                                | StmtKind::Continue
                                | StmtKind::Break,
                            ..
                        })
                    );
                    if !ends {
                        return self.err(
                            "a switch section must end with 'break', 'continue', 'return' or 'throw'"
                                .into(),
                        );
                    }
                    break;
                }
                body.push(self.stmt()?);
            }
            sections.push((labels, default, body));
            // Sections become nested `else`s: bounded like other nesting.
            if sections.len() > MAX_NESTING * 4 {
                return self.err(format!(
                    "a switch with more than {} sections; use a dictionary or several policies",
                    MAX_NESTING * 4
                ));
            }
        }
        let ident = |o: usize| Expr {
            kind: ExprKind::Ident(tmp.clone()),
            offset: o,
        };
        let mut chain: Option<Box<Stmt>> = sections.iter().find(|(_, d, _)| *d).map(|(_, _, b)| {
            Box::new(Stmt {
                kind: StmtKind::Block(b.clone()),
                offset,
            })
        });
        for (labels, _, body) in sections.into_iter().rev().filter(|(l, _, _)| !l.is_empty()) {
            let cond = labels
                .into_iter()
                .map(|l| {
                    let o = l.offset;
                    Expr {
                        kind: ExprKind::Binary(BinOp::Eq, Box::new(ident(o)), Box::new(l)),
                        offset: o,
                    }
                })
                .reduce(|a, b| {
                    let o = a.offset;
                    Expr {
                        kind: ExprKind::Binary(BinOp::Or, Box::new(a), Box::new(b)),
                        offset: o,
                    }
                });
            let Some(cond) = cond else { continue };
            chain = Some(Box::new(Stmt {
                kind: StmtKind::If {
                    cond,
                    then: Box::new(Stmt {
                        kind: StmtKind::Block(body),
                        offset,
                    }),
                    els: chain,
                },
                offset,
            }));
        }
        let mut out = vec![Stmt {
            kind: StmtKind::Decl {
                ty: None,
                name: tmp.clone(),
                init: Some(subject),
            },
            offset,
        }];
        out.extend(chain.map(|c| *c));
        Ok(StmtKind::Block(out))
    }

    /// A lambda's body: an expression, or a block of statements (`x => { ...; return y; }`).
    fn lambda_body(&mut self) -> Result<Expr, ParseError> {
        if !self.is("{") {
            return self.expr();
        }
        let offset = self.offset();
        self.enter()?;
        self.jumps.push(b'f');
        let b = self.block();
        self.jumps.pop();
        self.depth -= 1;
        Ok(Expr {
            kind: ExprKind::Block(b?),
            offset,
        })
    }

    /// `{ statements }`: a block's statements.
    fn block(&mut self) -> Result<Vec<Stmt>, ParseError> {
        if !self.is("{") {
            return self.err(format!("expected '{{', found {}", self.peek()));
        }
        match self.stmt()?.kind {
            StmtKind::Block(b) => Ok(b),
            _ => self.err("expected a block".into()),
        }
    }

    /// A local function, `[static] T Name(T1 a, ...) { ... }` or `=> expr;` (`T` may be
    /// `void`): recognised by `Name(` after a type, else None (and nothing consumed).
    fn try_local_fn(&mut self, offset: usize) -> Result<Option<StmtKind>, ParseError> {
        let save = self.i;
        if self.is_kw("static") {
            self.bump();
        }
        let Some(ret) = self.leading_type("void") else {
            self.i = save;
            return Ok(None);
        };
        let named = matches!(self.peek(), Tok::Ident(s) if !KEYWORDS.contains(&s.as_str()))
            && matches!(self.peek_at(1), Tok::Punct("("));
        if !named {
            self.i = save;
            return Ok(None);
        }
        let name = self.ident()?;
        self.expect("(")?;
        let mut params = Vec::new();
        if !self.eat(")") {
            loop {
                let ty = self.type_name()?;
                let at = self.offset();
                params.push((ty, self.ident()?, at));
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        self.jumps.push(b'f');
        let body = self.local_fn_body(ret.is_some());
        self.jumps.pop();
        let body = body?;
        Ok(Some(StmtKind::LocalFn(std::sync::Arc::new(LocalFn {
            name,
            ret,
            params,
            body,
            offset,
        }))))
    }

    /// A local function's body: a block, or `=> expr;` (a return of its value, or for `void`
    /// the statement).
    fn local_fn_body(&mut self, returns: bool) -> Result<Vec<Stmt>, ParseError> {
        let body = if self.eat("=>") {
            let at = self.offset();
            let e = self.expr()?;
            self.end_stmt()?;
            // An expression body is the return of its value (or, for void, the statement).
            vec![Stmt {
                kind: if returns {
                    StmtKind::Return(Some(e))
                } else {
                    StmtKind::Expr(e)
                },
                offset: at,
            }]
        } else {
            self.block()?
        };
        Ok(body)
    }

    /// The type a declaration starts with: `Some(None)` for the keyword standing for none
    /// (`var`, `void`), `Some(Some(t))` for a type name, `None` when no type starts here.
    fn leading_type(&mut self, keyword: &str) -> Option<Option<TypeName>> {
        if self.is_kw(keyword) {
            self.bump();
            return Some(None);
        }
        if !matches!(self.peek(), Tok::Ident(s) if !KEYWORDS.contains(&s.as_str())) {
            return None;
        }
        self.type_name().ok().map(Some)
    }

    /// `var x = e;` or `Type x = e;` — recognised by lookahead, else None (and nothing consumed).
    /// Not `terminated`: a `using` resource, `var x = e` with its initialiser and no `;`.
    fn try_decl(&mut self, terminated: bool) -> Result<Option<StmtKind>, ParseError> {
        let save = self.i;
        let Some(ty) = self.leading_type("var") else {
            self.i = save;
            return Ok(None);
        };
        // `T a, b = 1;` declares several (not with `var`, as C# has it).
        let is_decl = matches!(self.peek(), Tok::Ident(s) if !KEYWORDS.contains(&s.as_str()))
            && match self.peek_at(1) {
                Tok::Punct("=") => true,
                Tok::Punct(";") => terminated,
                Tok::Punct(",") => terminated && ty.is_some(),
                _ => false,
            };
        if !is_decl {
            self.i = save;
            return Ok(None);
        }
        let mut decls = Vec::new();
        loop {
            let offset = self.offset();
            let name = self.ident()?;
            let init = if self.eat("=") {
                Some(self.expr()?)
            } else {
                None
            };
            decls.push(Stmt {
                kind: StmtKind::Decl {
                    ty: ty.clone(),
                    name,
                    init,
                },
                offset,
            });
            if !(terminated && ty.is_some() && self.eat(",")) {
                break;
            }
        }
        if terminated {
            self.end_stmt()?;
        }
        Ok(Some(match decls.len() {
            1 => decls.remove(0).kind,
            _ => StmtKind::Decls(decls),
        }))
    }

    // ---- types ----

    fn type_name(&mut self) -> Result<TypeName, ParseError> {
        let mut name = self.ident()?;
        while self.is(".") && matches!(self.peek_at(1), Tok::Ident(_)) {
            self.bump();
            name.push('.');
            name.push_str(&self.ident()?);
        }
        let mut args = Vec::new();
        if self.is("<") {
            let save = self.i;
            let depth = self.depth;
            self.bump();
            // Type arguments nest like expressions do, within the same bound: hostile input
            // (`List<List<List<...`) must not exhaust the stack.
            let parsed = (|| -> Result<Vec<TypeName>, ParseError> {
                self.enter()?;
                let mut v = vec![self.type_name()?];
                while self.eat(",") {
                    v.push(self.type_name()?);
                }
                self.expect(">")?;
                Ok(v)
            })();
            self.depth = depth;
            match parsed {
                Ok(v) => args = v,
                Err(_) => self.i = save,
            }
        }
        let nullable = self.eat("?");
        let mut array = false;
        if self.is("[") && matches!(self.peek_at(1), Tok::Punct("]")) {
            self.bump();
            self.bump();
            array = true;
        }
        Ok(TypeName {
            name,
            args,
            array,
            nullable,
        })
    }

    /// After an identifier: `<T,...>(` is a generic call's type arguments.
    fn try_type_args(&mut self) -> Option<Vec<TypeName>> {
        if !self.is("<") {
            return None;
        }
        let save = self.i;
        self.bump();
        let mut v = Vec::new();
        loop {
            match self.type_name() {
                Ok(t) => v.push(t),
                Err(_) => {
                    self.i = save;
                    return None;
                }
            }
            if self.eat(",") {
                continue;
            }
            if self.eat(">") && self.is("(") {
                return Some(v);
            }
            self.i = save;
            return None;
        }
    }

    // ---- expressions, lowest precedence first ----

    pub(crate) fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let r = self.assignment();
        self.depth -= 1;
        r
    }

    fn assignment(&mut self) -> Result<Expr, ParseError> {
        // Lambda: `x => ...` or `(x, y) => ...`
        if let Tok::Ident(name) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Punct("=>")) && !KEYWORDS.contains(&name.as_str()) {
                let offset = self.offset();
                self.bump();
                self.bump();
                let body = self.lambda_body()?;
                return Ok(Expr {
                    kind: ExprKind::Lambda {
                        params: vec![(name, offset)],
                        body: Box::new(body),
                    },
                    offset,
                });
            }
            let ops = [
                ("=", None),
                ("+=", Some(BinOp::Add)),
                ("-=", Some(BinOp::Sub)),
                ("??=", Some(BinOp::Coalesce)),
            ];
            for (p, op) in ops {
                if matches!(self.peek_at(1), Tok::Punct(q) if *q == p)
                    && !KEYWORDS.contains(&name.as_str())
                {
                    let offset = self.offset();
                    self.bump();
                    self.bump();
                    let value = self.expr()?;
                    return Ok(Expr {
                        kind: ExprKind::Assign {
                            target: name,
                            op,
                            value: Box::new(value),
                        },
                        offset,
                    });
                }
            }
        }
        if self.is("(") {
            if let Some(l) = self.try_paren_lambda()? {
                return Ok(l);
            }
        }
        let e = self.conditional()?;
        if !self.is("=") {
            return Ok(e);
        }
        // `target[index] = value` (a JObject's member); locals are handled above.
        let offset = self.offset();
        match e.kind {
            ExprKind::Index {
                target,
                index,
                null_cond: false,
            } => {
                self.bump();
                let value = Box::new(self.expr()?);
                Ok(Expr {
                    kind: ExprKind::SetIndex {
                        target,
                        index,
                        value,
                    },
                    offset,
                })
            }
            ExprKind::Member {
                target,
                name,
                null_cond: false,
            } => {
                self.bump();
                let value = Box::new(self.expr()?);
                Ok(Expr {
                    kind: ExprKind::SetMember {
                        target,
                        name,
                        value,
                    },
                    offset,
                })
            }
            _ => self.err("only a local, an indexer or a property can be assigned".into()),
        }
    }

    fn try_paren_lambda(&mut self) -> Result<Option<Expr>, ParseError> {
        let save = self.i;
        let offset = self.offset();
        self.bump();
        let mut params = Vec::new();
        while let Tok::Ident(_) = self.peek() {
            // `(T x) =>`: the parameter's type is the call's to give; a declared one is read
            // and left to it.
            let before = self.i;
            let typed = self.type_name().is_ok() && matches!(self.peek(), Tok::Ident(_));
            if !typed {
                self.i = before;
            }
            let Tok::Ident(n) = self.peek().clone() else {
                break;
            };
            params.push((n, self.offset()));
            self.bump();
            if !self.eat(",") {
                break;
            }
        }
        if self.eat(")") && self.eat("=>") {
            let body = self.lambda_body()?;
            return Ok(Some(Expr {
                kind: ExprKind::Lambda {
                    params,
                    body: Box::new(body),
                },
                offset,
            }));
        }
        self.i = save;
        Ok(None)
    }

    fn conditional(&mut self) -> Result<Expr, ParseError> {
        let c = self.coalesce()?;
        if self.is("?") {
            let offset = self.offset();
            self.bump();
            let t = self.expr()?;
            self.expect(":")?;
            let f = self.expr()?;
            return Ok(Expr {
                kind: ExprKind::Cond(Box::new(c), Box::new(t), Box::new(f)),
                offset,
            });
        }
        Ok(c)
    }

    fn coalesce(&mut self) -> Result<Expr, ParseError> {
        let l = self.binary(0)?;
        if self.is("??") {
            let offset = self.offset();
            self.bump();
            self.enter()?;
            let r = self.coalesce();
            self.depth -= 1;
            return Ok(Expr {
                kind: ExprKind::Binary(BinOp::Coalesce, Box::new(l), Box::new(r?)),
                offset,
            });
        }
        Ok(l)
    }

    /// Binary operators by precedence climbing: an operand is one call whatever the number of
    /// precedence levels, so only nesting (parentheses, right operands) deepens the recursion.
    /// `min` is the lowest level this call may combine.
    fn binary(&mut self, min: usize) -> Result<Expr, ParseError> {
        const LEVELS: [&[(&str, BinOp)]; 9] = [
            &[("||", BinOp::Or)],
            &[("&&", BinOp::And)],
            &[("|", BinOp::BitOr)],
            &[("^", BinOp::BitXor)],
            &[("&", BinOp::BitAnd)],
            &[("==", BinOp::Eq), ("!=", BinOp::Ne)],
            &[
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
            ],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        ];
        /// `is`/`as` bind at the relational level.
        const RELATIONAL: usize = 6;
        let mut l = self.unary()?;
        let (mut chain, mut nested) = (0usize, 0usize);
        loop {
            chain += 1;
            if chain > MAX_CHAIN {
                return self.err(
                    "expression too long; split it into several policies or variables".into(),
                );
            }
            if self.is_kw("switch") && matches!(self.peek_at(1), Tok::Punct("{")) {
                return self.err("switch expressions ('x switch { ... }') are not supported by certgate; use a switch statement or ?:".into());
            }
            if min <= RELATIONAL && (self.is_kw("is") || self.is_kw("as")) {
                let offset = self.offset();
                let is = self.is_kw("is");
                self.bump();
                // `is not null`, `is not T`: the pattern negated.
                let negated = is && self.is_kw("not");
                if negated {
                    self.bump();
                }
                let ty = if is && self.is_kw("null") {
                    self.bump();
                    let op = if negated { BinOp::Ne } else { BinOp::Eq };
                    l = Expr {
                        kind: ExprKind::Binary(
                            op,
                            Box::new(l),
                            Box::new(Expr {
                                kind: ExprKind::Lit(Lit::Null),
                                offset,
                            }),
                        ),
                        offset,
                    };
                    continue;
                } else if is && !matches!(self.peek(), Tok::Ident(_)) {
                    return self.err("patterns other than a type, 'T name', 'null' and 'not' ('is \"GET\"', 'is > 1', 'is { }') are not supported by certgate; use == and the other operators".into());
                } else {
                    self.type_name()?
                };
                if is && matches!(self.peek(), Tok::Ident(w) if w == "or" || w == "and") {
                    return self.err("pattern combinators ('or', 'and') are not supported by certgate; use || and &&".into());
                }
                // `x is T name`: the test, and `name` the value as a T when it passes.
                if is && !negated {
                    if let Tok::Ident(name) = self.peek().clone() {
                        if !KEYWORDS.contains(&name.as_str()) && name != "when" {
                            self.bump();
                            l = Expr {
                                kind: ExprKind::IsBind {
                                    expr: Box::new(l),
                                    ty,
                                    name,
                                },
                                offset,
                            };
                            continue;
                        }
                    }
                }
                if negated {
                    l = Expr {
                        kind: ExprKind::Unary(
                            UnOp::Not,
                            Box::new(Expr {
                                kind: ExprKind::Is {
                                    expr: Box::new(l),
                                    ty,
                                },
                                offset,
                            }),
                        ),
                        offset,
                    };
                    continue;
                }
                l = Expr {
                    kind: if is {
                        ExprKind::Is {
                            expr: Box::new(l),
                            ty,
                        }
                    } else {
                        ExprKind::As {
                            expr: Box::new(l),
                            ty,
                        }
                    },
                    offset,
                };
                continue;
            }
            let found = (min..LEVELS.len()).find_map(|level| {
                LEVELS[level]
                    .iter()
                    .find(|(p, _)| self.is(p))
                    .map(|(_, op)| (level, *op))
            });
            let Some((level, op)) = found else { break };
            // && and || chains are flattened by the checker; other operators nest, so they
            // share the nesting budget.
            if !matches!(op, BinOp::And | BinOp::Or) {
                nested += 1;
                if self.depth + nested > MAX_NESTING * 2 {
                    return self.err(
                        "expression too long; split it into several policies or variables".into(),
                    );
                }
            }
            let offset = self.offset();
            self.bump();
            let r = self.binary(level + 1)?;
            l = Expr {
                kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
                offset,
            };
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let offset = self.offset();
        if self.eat("!") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr {
                kind: ExprKind::Unary(UnOp::Not, Box::new(e?)),
                offset,
            });
        }
        if self.is("^") {
            return self.err(
                "indices from the end ('^1') are not supported by certgate; use Length - 1".into(),
            );
        }
        if self.is("<") {
            return self.err("shift operators ('<<', '>>') are not supported by certgate; multiply or divide by a power of two".into());
        }
        if self.is("++") || self.is("--") {
            // `++x`: the local stepped, the new value.
            let up = self.is("++");
            self.bump();
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Self::step_of(e?, up, offset);
        }
        if self.eat("-") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr {
                kind: ExprKind::Unary(UnOp::Neg, Box::new(e?)),
                offset,
            });
        }
        if self.is("(") {
            if let Some(cast) = self.try_cast()? {
                return Ok(cast);
            }
        }
        self.postfix()
    }

    /// `(Type)expr`, by C#'s rule (§12.9.7): a predefined type in parentheses is a cast;
    /// another name is one when what follows the `)` can only start an operand (a name, a
    /// literal, `(`, `!`, `~`), so `(a) + b` stays a parenthesised expression and `(JObject)x`
    /// is a cast (which the checker then refuses by the type's name if certgate lacks it).
    fn try_cast(&mut self) -> Result<Option<Expr>, ParseError> {
        let save = self.i;
        let offset = self.offset();
        self.bump();
        if let Tok::Ident(n) = self.peek().clone() {
            const CASTABLE: [&str; 21] = [
                "string",
                "int",
                "long",
                "bool",
                "double",
                "byte",
                "sbyte",
                "short",
                "ushort",
                "uint",
                "ulong",
                "decimal",
                "char",
                "object",
                "DateTime",
                "TimeSpan",
                "X509Certificate2",
                "String",
                "Int32",
                "Boolean",
                "float",
            ];
            let predefined = CASTABLE.contains(&n.as_str());
            if let Ok(ty) = self.type_name() {
                let operand_follows = matches!(
                    self.peek_at(1),
                    Tok::Ident(_)
                        | Tok::Int(_)
                        | Tok::Double(_)
                        | Tok::Str(_)
                        | Tok::Char(_)
                        | Tok::Interp(_)
                        | Tok::Punct("(" | "!" | "~")
                ) && !matches!(self.peek_at(1), Tok::Ident(w) if w == "is" || w == "as");
                if (predefined || operand_follows) && self.eat(")") {
                    self.enter()?;
                    let e = self.unary();
                    self.depth -= 1;
                    return Ok(Some(Expr {
                        kind: ExprKind::Cast {
                            ty,
                            expr: Box::new(e?),
                        },
                        offset,
                    }));
                }
            }
        }
        self.i = save;
        Ok(None)
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        let mut chain = 0usize;
        loop {
            chain += 1;
            if self.depth + chain > MAX_NESTING * 2 {
                return self.err(format!(
                    "member chain nested deeper than {}",
                    MAX_NESTING * 2
                ));
            }
            let offset = self.offset();
            if self.is(".") || self.is("?.") {
                let null_cond = self.is("?.");
                self.bump();
                // Errors about a member point at its name.
                let offset = self.offset();
                let name = self.ident()?;
                let type_args = self.try_type_args().unwrap_or_default();
                if self.is("(") {
                    let args = self.args("(", ")")?;
                    e = Expr {
                        kind: ExprKind::Call {
                            target: Box::new(e),
                            name,
                            type_args,
                            args,
                            null_cond,
                        },
                        offset,
                    };
                } else {
                    e = Expr {
                        kind: ExprKind::Member {
                            target: Box::new(e),
                            name,
                            null_cond,
                        },
                        offset,
                    };
                }
            } else if self.is("[") || (self.is("?") && matches!(self.peek_at(1), Tok::Punct("["))) {
                let null_cond = self.is("?");
                if null_cond {
                    self.bump();
                }
                self.bump();
                let index = self.expr()?;
                self.expect("]")?;
                e = Expr {
                    kind: ExprKind::Index {
                        target: Box::new(e),
                        index: Box::new(index),
                        null_cond,
                    },
                    offset,
                };
            } else if self.is("!") && matches!(self.peek_at(1), Tok::Punct(".")) {
                // Null-forgiving `x!.y`: no runtime meaning.
                self.bump();
            } else if self.is("++") || self.is("--") {
                // `x++`: the local stepped, the value it had (the new one less the step).
                let up = self.is("++");
                self.bump();
                let step = Self::step_of(e, up, offset)?;
                return Ok(Expr {
                    kind: ExprKind::PostStep(Box::new(step)),
                    offset,
                });
            } else {
                return Ok(e);
            }
        }
    }

    /// `x += 1` (`x -= 1`) for `++x`/`x++` (`--`): only a local steps.
    fn step_of(e: Expr, up: bool, offset: usize) -> Result<Expr, ParseError> {
        let ExprKind::Ident(target) = e.kind else {
            return Err(ParseError {
                offset,
                message: "'++' and '--' step a local variable; use '+= 1' on anything else".into(),
            });
        };
        Ok(Expr {
            kind: ExprKind::Assign {
                target,
                op: Some(if up { BinOp::Add } else { BinOp::Sub }),
                value: Box::new(Expr {
                    kind: ExprKind::Lit(Lit::Int(1)),
                    offset,
                }),
            },
            offset,
        })
    }

    fn args(&mut self, open: &str, close: &str) -> Result<Vec<Expr>, ParseError> {
        self.expect(open)?;
        let mut v = Vec::new();
        if self.eat(close) {
            return Ok(v);
        }
        loop {
            v.push(self.argument()?);
            if self.eat(close) {
                return Ok(v);
            }
            if !self.eat(",") {
                return self.err(format!("expected ',' or '{close}', found {}", self.peek()));
            }
        }
    }

    /// An argument: an expression, `name: expression`, or `out x` / `out var x` / `out T x`.
    fn argument(&mut self) -> Result<Expr, ParseError> {
        if let Tok::Ident(name) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Punct(":")) && !KEYWORDS.contains(&name.as_str()) {
                let offset = self.offset();
                self.bump();
                self.bump();
                let value = Box::new(self.argument()?);
                return Ok(Expr {
                    kind: ExprKind::Named { name, value },
                    offset,
                });
            }
        }
        if !(self.is_kw("out") && matches!(self.peek_at(1), Tok::Ident(_))) {
            return self.expr();
        }
        let offset = self.offset();
        self.bump();
        let decl = if self.is_kw("var") && matches!(self.peek_at(1), Tok::Ident(_)) {
            self.bump();
            Some(None)
        } else {
            let save = self.i;
            match self.type_name() {
                Ok(t) if matches!(self.peek(), Tok::Ident(_)) => Some(Some(t)),
                _ => {
                    self.i = save;
                    None
                }
            }
        };
        let name = self.ident()?;
        Ok(Expr {
            kind: ExprKind::Out { name, decl },
            offset,
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let offset = self.offset();
        let kind = match self.bump() {
            Tok::Int(i) => ExprKind::Lit(Lit::Int(i)),
            Tok::Double(d) => ExprKind::Lit(Lit::Double(d)),
            Tok::Str(s) => ExprKind::Lit(Lit::Str(s)),
            Tok::Char(c) => ExprKind::Lit(Lit::Char(c)),
            Tok::Interp(parts) => {
                let mut segs = Vec::new();
                for part in parts {
                    match part {
                        InterpPart::Lit(s) => segs.push(InterpSeg::Lit(s)),
                        InterpPart::Hole {
                            code,
                            offset: hole,
                            format,
                        } => {
                            let mut p = Parser::new(&code, self.base + hole)?;
                            p.depth = self.depth;
                            let e = p.expr()?;
                            // `{x,5}` / `{x,-5:D2}`: aligned as String.Format aligns.
                            if p.eat(",") {
                                let neg = p.eat("-");
                                let Tok::Int(width) = p.bump() else {
                                    return p
                                        .err("expected the alignment's width after ','".into());
                                };
                                p.expect_eof()?;
                                let spec = format!(
                                    "{{0,{}{width}{}}}",
                                    if neg { "-" } else { "" },
                                    format
                                        .as_deref()
                                        .map(|f| format!(":{f}"))
                                        .unwrap_or_default()
                                );
                                let at = e.offset;
                                let lit = |s: String| Expr {
                                    kind: ExprKind::Lit(Lit::Str(s)),
                                    offset: at,
                                };
                                let aligned = Expr {
                                    kind: ExprKind::Call {
                                        target: Box::new(Expr {
                                            kind: ExprKind::Ident("String".into()),
                                            offset: at,
                                        }),
                                        name: "Format".into(),
                                        type_args: Vec::new(),
                                        args: vec![lit(spec), e],
                                        null_cond: false,
                                    },
                                    offset: at,
                                };
                                segs.push(InterpSeg::Hole(aligned, None));
                                continue;
                            }
                            p.expect_eof()?;
                            segs.push(InterpSeg::Hole(e, format));
                        }
                    }
                }
                ExprKind::Interp(segs)
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                if self.is(",") {
                    return self.err("tuple expressions ('(a, b)') are not supported by certgate; use Tuple.Create(a, b)".into());
                }
                self.expect(")")?;
                return Ok(e);
            }
            Tok::Ident(s) => match s.as_str() {
                "null" => ExprKind::Lit(Lit::Null),
                "true" => ExprKind::Lit(Lit::Bool(true)),
                "false" => ExprKind::Lit(Lit::Bool(false)),
                "new" => return self.new_expr(offset),
                "from"
                    if matches!(self.peek(), Tok::Ident(_))
                        && matches!(self.peek_at(1), Tok::Ident(w) if w == "in") =>
                {
                    return Err(ParseError {
                        offset,
                        message: "query expressions ('from x in ... select ...') are not supported by certgate; use the methods (Where, Select, OrderBy)".into(),
                    });
                }
                "checked" | "unchecked" | "sizeof" | "stackalloc" | "await" => {
                    return Err(ParseError {
                        offset,
                        message: format!("'{s}' is not supported by certgate"),
                    });
                }
                "default" if !self.is("(") => {
                    return Err(ParseError {
                        offset,
                        message: "'default' without a type is not supported by certgate; write default(T)".into(),
                    });
                }
                "nameof" if self.is("(") => {
                    self.bump();
                    let mut last = self.ident()?;
                    while self.eat(".") {
                        last = self.ident()?;
                    }
                    self.expect(")")?;
                    ExprKind::Lit(Lit::Str(last))
                }
                "default" if self.is("(") => {
                    self.bump();
                    let ty = self.type_name()?;
                    self.expect(")")?;
                    ExprKind::Default(ty)
                }
                "typeof" if self.is("(") => {
                    self.bump();
                    let ty = self.type_name()?;
                    self.expect(")")?;
                    ExprKind::TypeOf(ty)
                }
                _ if KEYWORDS.contains(&s.as_str()) => {
                    return Err(ParseError {
                        offset,
                        message: format!("unexpected keyword '{s}'; expected an expression"),
                    });
                }
                _ => {
                    if self.is("(") {
                        let args = self.args("(", ")")?;
                        ExprKind::Invoke { name: s, args }
                    } else {
                        ExprKind::Ident(s)
                    }
                }
            },
            t => {
                return Err(ParseError {
                    offset,
                    message: format!("expected an expression, found {t}"),
                })
            }
        };
        Ok(Expr { kind, offset })
    }

    fn new_expr(&mut self, offset: usize) -> Result<Expr, ParseError> {
        // `new { name = value, other }`: an anonymous type.
        if self.eat("{") {
            let mut members = Vec::new();
            while !self.eat("}") {
                let at = self.offset();
                let name = self.ident()?;
                let value = if self.eat("=") {
                    self.expr()?
                } else {
                    // `new { x }` names the member after the local (or `a.b`: the last name).
                    let mut e = Expr {
                        kind: ExprKind::Ident(name.clone()),
                        offset: at,
                    };
                    let mut last = name.clone();
                    while self.is(".") {
                        self.bump();
                        let n = self.ident()?;
                        e = Expr {
                            kind: ExprKind::Member {
                                target: Box::new(e),
                                name: n.clone(),
                                null_cond: false,
                            },
                            offset: at,
                        };
                        last = n;
                    }
                    members.push((last, e));
                    if !self.eat(",") && !self.is("}") {
                        return self.err(format!("expected ',' or '}}', found {}", self.peek()));
                    }
                    continue;
                };
                members.push((name, value));
                if !self.eat(",") && !self.is("}") {
                    return self.err(format!("expected ',' or '}}', found {}", self.peek()));
                }
            }
            return Ok(Expr {
                kind: ExprKind::NewAnonymous(members),
                offset,
            });
        }
        // `new [] { ... }`
        if self.is("[") {
            self.bump();
            self.expect("]")?;
            let items = self.args("{", "}")?;
            return Ok(Expr {
                kind: ExprKind::NewArray { elem: None, items },
                offset,
            });
        }
        let mut ty = self.type_name()?;
        if !ty.array && self.is("[") {
            self.bump();
            self.enter()?;
            let size = self.expr();
            self.depth -= 1;
            let size = Box::new(size?);
            self.expect("]")?;
            return Ok(Expr {
                kind: ExprKind::NewArraySized { elem: ty, size },
                offset,
            });
        }
        if ty.array {
            ty.array = false;
            let items = if self.is("{") {
                self.args("{", "}")?
            } else {
                Vec::new()
            };
            return Ok(Expr {
                kind: ExprKind::NewArray {
                    elem: Some(ty),
                    items,
                },
                offset,
            });
        }
        let args = if self.is("(") {
            self.args("(", ")")?
        } else if self.is("{") {
            Vec::new()
        } else {
            return self.err(format!("expected '(' after 'new {}'", ty.name));
        };
        let init = if self.is("{") {
            self.initializer()?
        } else {
            Vec::new()
        };
        Ok(Expr {
            kind: ExprKind::New { ty, args, init },
            offset,
        })
    }

    /// `{ item, { key, value }, [key] = value }` after `new T(...)`.
    fn initializer(&mut self) -> Result<Vec<Init>, ParseError> {
        self.expect("{")?;
        self.enter()?;
        let mut out = Vec::new();
        while !self.eat("}") {
            let entry = if self.eat("[") {
                let key = self.expr()?;
                self.expect("]")?;
                self.expect("=")?;
                Init::Index(key, self.expr()?)
            } else if self.is("{") {
                let mut pair = self.args("{", "}")?;
                if pair.len() != 2 {
                    return self
                        .err("an initializer's '{ key, value }' takes two values".to_string());
                }
                let value = pair.pop();
                let key = pair.pop();
                match (key, value) {
                    (Some(k), Some(v)) => Init::Pair(k, v),
                    _ => {
                        return self
                            .err("an initializer's '{ key, value }' takes two values".to_string())
                    }
                }
            } else {
                Init::Item(self.expr()?)
            };
            out.push(entry);
            if !self.eat(",") && !self.is("}") {
                return self.err(format!("expected ',' or '}}', found {}", self.peek()));
            }
        }
        self.depth -= 1;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse_expression(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn precedence() {
        let e = p("a || b && c == d");
        let ExprKind::Binary(BinOp::Or, _, r) = e.kind else {
            panic!()
        };
        assert!(matches!(r.kind, ExprKind::Binary(BinOp::And, _, _)));
        // C#'s order: * + relational == & ^ | && ||.
        use crate::expr::testing::s;
        for (expr, want) in [
            ("@(1 | 6 & 3)", "3"),
            ("@(5 & 3 ^ 1)", "0"),
            ("@(true ^ true | true)", "True"),
            ("@(1 + 2 * 3 == 7 & 2 > 1)", "True"),
            ("@(2 - 1 - 1)", "0"),
            ("@(\"a\" is string && 1 < 2 | false)", "True"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert!(s("@(1 | true)").contains("cannot be applied"));
    }

    /// `switch` as C# 7 writes it, run as the `if` chain it means.
    #[test]
    fn switch_statements() {
        use crate::expr::testing::s;
        let sw = |x: &str| {
            s(&format!(
                r#"@{{ var r = ""; switch ({x}) {{ case "a": case "b": r = "ab"; break; default: r = "other"; break; case "c": return "c!"; }} return r; }}"#
            ))
        };
        assert_eq!(sw("\"a\""), "ab");
        assert_eq!(sw("\"b\""), "ab");
        assert_eq!(sw("\"c\""), "c!");
        assert_eq!(sw("\"z\""), "other");
        assert_eq!(
            s(
                r#"@{ switch (context.Request.Method) { case "GET": return 1; case "POST": return 2; default: return 0; } }"#
            ),
            "1"
        );
        assert_eq!(
            s(
                r#"@{ var n = 0; switch (2) { case 1: n = 10; break; case 2: n = 20; break; } return n; }"#
            ),
            "20"
        );
        for (expr, msg) in [
            (
                r#"@{ switch (1) { case 1: var x = 1; } return 0; }"#,
                "must end with 'break', 'continue', 'return' or 'throw'",
            ),
            (
                r#"@{ switch ("x") { case string t: return t; } return ""; }"#,
                "patterns in 'case'",
            ),
            (
                r#"@{ switch (1) { return 1; } }"#,
                "expected 'case' or 'default'",
            ),
        ] {
            assert!(s(expr).contains(msg), "{expr}: {}", s(expr));
        }
        let many: String = (0..300).map(|i| format!("case {i}: return {i};")).collect();
        assert!(s(&format!(
            "@{{ switch (1) {{ {many} default: return 0; }} }}"
        ))
        .contains("more than"));
    }

    #[test]
    fn generic_call_vs_less_than() {
        let e = p(r#"context.Variables.GetValueOrDefault<string>("x")"#);
        assert!(matches!(e.kind, ExprKind::Call { ref type_args, .. } if type_args.len() == 1));
        let e = p("a.b < c");
        assert!(matches!(e.kind, ExprKind::Binary(BinOp::Lt, _, _)));
    }

    #[test]
    fn lambda_and_cast() {
        let e = p("xs.Any(c => c.Value.Thumbprint == t)");
        let ExprKind::Call { args, .. } = e.kind else {
            panic!()
        };
        assert!(matches!(args[0].kind, ExprKind::Lambda { .. }));
        assert!(matches!(p("(string)x").kind, ExprKind::Cast { .. }));
        assert!(matches!(
            p("(x) + 1").kind,
            ExprKind::Binary(BinOp::Add, _, _)
        ));
    }

    /// C#'s cast rule for any type name (issue 13: `(JObject)x` was a syntax error).
    #[test]
    fn casts_to_any_type_name() {
        for cast in [
            r#"(JObject)context.Variables["x"]"#,
            "(IResponse)r",
            "(Dictionary<string, string>)v",
            "(Newtonsoft.Json.Linq.JArray)v",
            "(byte[])v",
            "(Foo)(x)",
            "(Foo)!x",
            "(int)-1",
        ] {
            assert!(matches!(p(cast).kind, ExprKind::Cast { .. }), "{cast}");
        }
        for not_cast in [
            "(x) - 1",
            "(a) ? b : c",
            "(x) => x",
            "(a) is string",
            "(a).B",
        ] {
            assert!(
                !matches!(p(not_cast).kind, ExprKind::Cast { .. }),
                "{not_cast}"
            );
        }
    }

    /// Hostile casts and type arguments: type names nested without end (in a cast or a generic
    /// call), and casts stacked without end, end in an error or a parse, never in a stack
    /// overflow (the nested type names overflowed it before type arguments counted as nesting).
    #[test]
    fn hostile_casts_are_bounded() {
        for depth in [2_000, 50_000] {
            let nested = format!("({}x)y", "List<".repeat(depth));
            let _ = parse_expression(&nested);
            // The same through a generic call's type arguments.
            let nested = format!("v.M<{}x>()", "List<".repeat(depth));
            let _ = parse_expression(&nested);
        }
        let stacked = format!("{}x", "(JObject)".repeat(50_000));
        assert!(parse_expression(&stacked).is_err());
    }

    #[test]
    fn statements_and_missing_semicolon_before_brace() {
        let s = parse_block_body("if (a) { return \"x\" } var n = 1; return null;").unwrap();
        assert_eq!(s.len(), 3);
        assert!(parse_block_body("var a = 1 var b = 2; return a;").is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(parse_expression("a +").unwrap_err().offset, 3);
        assert!(parse_expression("(a")
            .unwrap_err()
            .message
            .contains("expected ')'"));
        assert!(parse_expression("a b")
            .unwrap_err()
            .message
            .contains("end of expression"));
        let deep = "(".repeat(500) + "1" + &")".repeat(500);
        assert!(parse_expression(&deep)
            .unwrap_err()
            .message
            .contains("deeper"));
    }
}
