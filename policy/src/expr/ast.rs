//! Syntax tree of the C# subset, as parsed, before type checking. Offsets are into the
//! expression text.

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Char(char),
}

/// A type name as written: `string`, `byte[]`, `X509Certificate2`, `Dictionary<string,int>`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TypeName {
    pub name: String,
    pub args: Vec<TypeName>,
    pub array: bool,
    pub nullable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Coalesce,
    /// `&`, `|`, `^` on integers (`RegexOptions.IgnoreCase | RegexOptions.Multiline`) and on
    /// booleans (both sides evaluated).
    BitAnd,
    BitOr,
    BitXor,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Coalesce => "??",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum InterpSeg {
    Lit(String),
    Hole(Expr, Option<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    Lit(Lit),
    Ident(String),
    Member {
        target: Box<Expr>,
        name: String,
        null_cond: bool,
    },
    Call {
        target: Box<Expr>,
        name: String,
        type_args: Vec<TypeName>,
        args: Vec<Expr>,
        null_cond: bool,
    },
    /// A call of a bare identifier (no receiver) — rejected by the checker with a clear message.
    Invoke {
        name: String,
        args: Vec<Expr>,
    },
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
        null_cond: bool,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Lambda {
        params: Vec<(String, usize)>,
        body: Box<Expr>,
    },
    New {
        ty: TypeName,
        args: Vec<Expr>,
        /// A collection initializer: `new List<string> { "a" }`,
        /// `new Dictionary<string, int> { { "a", 1 }, ["b"] = 2 }`.
        init: Vec<Init>,
    },
    NewArray {
        elem: Option<TypeName>,
        items: Vec<Expr>,
    },
    /// `new { a = 1, b }`: an anonymous object, its members in order.
    NewAnonymous(Vec<(String, Expr)>),
    /// `new T[n]`: `n` default values.
    NewArraySized {
        elem: TypeName,
        size: Box<Expr>,
    },
    Cast {
        ty: TypeName,
        expr: Box<Expr>,
    },
    Is {
        expr: Box<Expr>,
        ty: TypeName,
    },
    As {
        expr: Box<Expr>,
        ty: TypeName,
    },
    Interp(Vec<InterpSeg>),
    Assign {
        target: String,
        op: Option<BinOp>,
        value: Box<Expr>,
    },
    /// An `out` argument: `out x` (an existing local, `decl` None), `out var x` (`Some(None)`),
    /// `out T x` (`Some(Some(T))`). Only methods with out parameters accept one.
    Out {
        name: String,
        decl: Option<Option<TypeName>>,
    },
    /// A lambda's block body.
    Block(Vec<Stmt>),
    /// A named argument, `name: value` (only `preserveContent` is taken, where APIM uses it).
    Named {
        name: String,
        value: Box<Expr>,
    },
    /// `x is T name`: whether `x` is a `T`, with `name` declared and set to it when it is.
    IsBind {
        expr: Box<Expr>,
        ty: TypeName,
        name: String,
    },
    /// `x++` / `x--`: the step (an `Assign` of `x += 1` or `x -= 1`), whose value less the step
    /// is the expression's.
    PostStep(Box<Expr>),
    /// `target.name = value` (a property with a setter: `aes.Key`, `builder.Length`).
    SetMember {
        target: Box<Expr>,
        name: String,
        value: Box<Expr>,
    },
    /// `target[index] = value`.
    SetIndex {
        target: Box<Expr>,
        index: Box<Expr>,
        value: Box<Expr>,
    },
    /// `default(T)`; `nameof(x)` folds to a string in the parser.
    Default(TypeName),
    /// `typeof(T)`: the type's `System.Type` (carried as its full name).
    TypeOf(TypeName),
}

/// One entry of a collection initializer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Init {
    /// `item`: `Add(item)`.
    Item(Expr),
    /// `{ key, value }`: `Add(key, value)`.
    Pair(Expr, Expr),
    /// `[key] = value`: the indexer's set.
    Index(Expr, Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stmt {
    pub kind: StmtKind,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StmtKind {
    /// `var x = e;` or `T x = e;`
    Decl {
        ty: Option<TypeName>,
        name: String,
        init: Option<Expr>,
    },
    /// `T a, b = 1;`: declarations in the enclosing scope.
    Decls(Vec<Stmt>),
    Expr(Expr),
    If {
        cond: Expr,
        then: Box<Stmt>,
        els: Option<Box<Stmt>>,
    },
    Return(Option<Expr>),
    Foreach {
        ty: Option<TypeName>,
        name: String,
        iter: Expr,
        body: Box<Stmt>,
    },
    Block(Vec<Stmt>),
    /// `try { } catch (T e) { } finally { }`.
    Try {
        body: Vec<Stmt>,
        catches: Vec<CatchClause>,
        finally: Option<Vec<Stmt>>,
    },
    /// `throw e;`, or `throw;` inside a catch.
    Throw(Option<Expr>),
    /// `while (cond) body`, `do body while (cond);` (`test_first` false), and `for (..; cond;
    /// step) body` (its initialiser a statement before, `step` after each pass and each
    /// `continue`; no `cond`: for ever, within the step budget).
    Loop {
        cond: Option<Expr>,
        body: Box<Stmt>,
        step: Vec<Expr>,
        test_first: bool,
    },
    Break,
    Continue,
    /// A local function: `T Name(T1 a, T2 b) { ... }` or `=> expr;` (`ret` None: `void`).
    LocalFn(std::sync::Arc<LocalFn>),
    /// `using (resource) body`: the resource is a declaration or an expression.
    Using {
        resource: Box<Stmt>,
        body: Box<Stmt>,
    },
}

/// One `catch` clause: the exception type (none: all), the variable, the body.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CatchClause {
    pub ty: Option<TypeName>,
    pub name: Option<String>,
    pub body: Vec<Stmt>,
    pub offset: usize,
}

/// A local function's declaration.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LocalFn {
    pub name: String,
    /// `None`: `void`.
    pub ret: Option<TypeName>,
    /// Each parameter's type, name and offset.
    pub params: Vec<(TypeName, String, usize)>,
    pub body: Vec<Stmt>,
    pub offset: usize,
}
