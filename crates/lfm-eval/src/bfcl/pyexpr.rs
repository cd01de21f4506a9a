//! A parser for the subset of Python expressions that tool calls are written in:
//! `[f(a=1, b="x"), mod.g(c=[1, 2])]`.
//!
//! Hand-written (no maintained Rust crate parses Python expressions into values): a tokenizer,
//! a precedence-climbing parser to an [`Expr`] tree, Python's `repr`-style unparser (BFCL turns
//! some nodes back into source text) and an evaluator for constant arithmetic with Python's
//! semantics. How the tree becomes call arguments — BFCL's own quirks — lives in
//! [`super::decode`].

/// A Python value.
#[derive(Clone, Debug, PartialEq)]
pub enum PyVal {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// `...`
    Ellipsis,
    List(Vec<PyVal>),
    Tuple(Vec<PyVal>),
    /// Insertion-ordered.
    Dict(Vec<(PyVal, PyVal)>),
}

impl PyVal {
    /// Python's `type(x).__name__`.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyVal::None => "NoneType",
            PyVal::Bool(_) => "bool",
            PyVal::Int(_) => "int",
            PyVal::Float(_) => "float",
            PyVal::Str(_) => "str",
            PyVal::Bytes(_) => "bytes",
            PyVal::Ellipsis => "ellipsis",
            PyVal::List(_) => "list",
            PyVal::Tuple(_) => "tuple",
            PyVal::Dict(_) => "dict",
        }
    }

    /// Python `==` (numbers compare across int/float/bool; list and tuple never equal).
    pub fn py_eq(&self, other: &PyVal) -> bool {
        use PyVal::*;
        fn num(v: &PyVal) -> Option<f64> {
            match v {
                Bool(b) => Some(*b as i32 as f64),
                Int(i) => Some(*i as f64),
                Float(f) => Some(*f),
                _ => Option::None,
            }
        }
        match (self, other) {
            (Int(a), Int(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Bool(b)) | (Bool(b), Int(a)) => *a == *b as i128,
            (None, None) => true,
            (Ellipsis, Ellipsis) => true,
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y)),
            (Dict(a), Dict(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.iter().any(|(k2, v2)| k.py_eq(k2) && v.py_eq(v2)))
            }
            _ => match (num(self), num(other)) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }

    /// Python's `repr`.
    pub fn repr(&self) -> String {
        match self {
            PyVal::None => "None".into(),
            PyVal::Bool(b) => if *b { "True" } else { "False" }.into(),
            PyVal::Int(i) => i.to_string(),
            PyVal::Float(f) => float_repr(*f),
            PyVal::Str(s) => str_repr(s),
            PyVal::Bytes(b) => format!("b{}", str_repr(&b.iter().map(|&c| c as char).collect::<String>())),
            PyVal::Ellipsis => "Ellipsis".into(),
            PyVal::List(v) => format!("[{}]", v.iter().map(PyVal::repr).collect::<Vec<_>>().join(", ")),
            PyVal::Tuple(v) if v.len() == 1 => format!("({},)", v[0].repr()),
            PyVal::Tuple(v) => format!("({})", v.iter().map(PyVal::repr).collect::<Vec<_>>().join(", ")),
            PyVal::Dict(v) => format!(
                "{{{}}}",
                v.iter().map(|(k, x)| format!("{}: {}", k.repr(), x.repr())).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// The value as JSON (tuples become arrays, non-string dict keys their repr).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            PyVal::None => J::Null,
            PyVal::Bool(b) => J::Bool(*b),
            PyVal::Int(i) => match i64::try_from(*i) {
                Ok(v) => J::from(v),
                Err(_) => J::from(*i as f64),
            },
            PyVal::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            PyVal::Str(s) => J::String(s.clone()),
            PyVal::Bytes(_) | PyVal::Ellipsis => serde_json::json!({ "$py": self.repr() }),
            PyVal::List(v) | PyVal::Tuple(v) => J::Array(v.iter().map(PyVal::to_json).collect()),
            PyVal::Dict(v) => J::Object(
                v.iter()
                    .map(|(k, x)| (if let PyVal::Str(s) = k { s.clone() } else { k.repr() }, x.to_json()))
                    .collect(),
            ),
        }
    }

    /// A JSON value as Python would load it with `json.loads`.
    pub fn from_json(v: &serde_json::Value) -> PyVal {
        use serde_json::Value as J;
        match v {
            J::Null => PyVal::None,
            J::Bool(b) => PyVal::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) if !n.is_f64() => PyVal::Int(i as i128),
                _ => match n.as_u64() {
                    Some(u) if !n.is_f64() => PyVal::Int(u as i128),
                    _ => PyVal::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
            },
            J::String(s) => PyVal::Str(s.clone()),
            J::Array(a) => PyVal::List(a.iter().map(PyVal::from_json).collect()),
            J::Object(o) => PyVal::Dict(o.iter().map(|(k, x)| (PyVal::Str(k.clone()), PyVal::from_json(x))).collect()),
        }
    }
}

/// Python's `repr` of a float (shortest round-trip digits, `1e+16` style exponents); the one
/// implementation, shared with the chat templates' printing.
pub fn float_repr(f: f64) -> String {
    lfm_data::jinja::py_float(f)
}

/// Python's `repr` of a str (shared with the chat templates' printing).
pub fn str_repr(s: &str) -> String {
    let mut out = String::new();
    lfm_data::jinja::py_repr_str(s, &mut out);
    out
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnOp {
    Neg,
    Pos,
    Invert,
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

/// An expression tree (the parts of Python's `ast` that tool calls use).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal: number, string (adjacent literals concatenated), True/False/None.
    Const(PyVal),
    Name(String),
    Attribute(Box<Expr>, String),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        keywords: Vec<(Option<String>, Expr)>,
    },
    Unary(UnOp, Box<Expr>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
    /// `value[index]`; slices are kept as their source text.
    Subscript(Box<Expr>, String),
    /// A starred positional argument `*x` (only inside calls).
    Starred(Box<Expr>),
    /// Anything else Python accepts that we do not model (comparisons, lambdas, subscripts,
    /// starred...): parsing fails with a message instead.
    Unsupported(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Op(&'static str),
}

const OPS: [&str; 22] =
    ["...", "**", "//", "(", ")", "[", "]", "{", "}", ",", ":", "=", ".", "+", "-", "*", "/", "%", "~", ";", "<", ">"];

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() || c == '\\' && cs.get(i + 1) == Some(&'\n') {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < cs.len() && cs[i] != '\n' {
                i += 1;
            }
            continue;
        }
        // String literal, with an optional prefix (r, b, u, f and their pairs).
        let mut j = i;
        while j < cs.len() && j - i < 2 && "rRbBuUfF".contains(cs[j]) {
            j += 1;
        }
        let prefix: String = cs[i..j].iter().collect::<String>().to_lowercase();
        let valid_prefix = ["", "r", "b", "u", "f", "rb", "br", "fr", "rf"].contains(&prefix.as_str());
        if valid_prefix && j < cs.len() && (cs[j] == '\'' || cs[j] == '"') {
            if prefix.contains('f') {
                return Err("f-strings are not supported".into());
            }
            let (s, end) = string_literal(&cs, j, prefix.contains('r'))?;
            if prefix.contains('b') {
                if !s.is_ascii() {
                    return Err("bytes can only contain ASCII literal characters".into());
                }
                out.push(Tok::Bytes(s.into_bytes()));
            } else {
                out.push(Tok::Str(s));
            }
            i = end;
            continue;
        }
        if is_ident_start(c) {
            let mut j = i;
            while j < cs.len() && is_ident_char(cs[j]) {
                j += 1;
            }
            out.push(Tok::Name(cs[i..j].iter().collect()));
            i = j;
            continue;
        }
        if c.is_ascii_digit() || c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            let (t, end) = number(&cs, i)?;
            out.push(t);
            i = end;
            continue;
        }
        let rest: String = cs[i..(i + 3).min(cs.len())].iter().collect();
        if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Tok::Op(op));
            i += op.chars().count();
            continue;
        }
        return Err(format!("unexpected character {c:?}"));
    }
    Ok(out)
}

/// Python's reserved words (besides True/False/None).
fn is_keyword(n: &str) -> bool {
    [
        "and", "or", "not", "in", "is", "if", "else", "for", "lambda", "def", "class", "return", "import", "from",
        "while", "with", "yield", "await", "async", "del", "pass", "raise", "try", "except", "finally", "global",
        "nonlocal", "assert", "break", "continue", "elif", "as", "True", "False", "None",
    ]
    .contains(&n)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn number(cs: &[char], start: usize) -> Result<(Tok, usize), String> {
    let mut j = start;
    let text = |a: usize, b: usize| cs[a..b].iter().filter(|c| **c != '_').collect::<String>();
    if cs[j] == '0' && cs.get(j + 1).is_some_and(|c| "xXoObB".contains(*c)) {
        let radix = match cs[j + 1].to_ascii_lowercase() {
            'x' => 16,
            'o' => 8,
            _ => 2,
        };
        j += 2;
        let s = j;
        while j < cs.len() && (cs[j].is_digit(radix) || cs[j] == '_') {
            j += 1;
        }
        let v = i128::from_str_radix(&text(s, j), radix).map_err(|e| format!("bad number: {e}"))?;
        return Ok((Tok::Int(v), j));
    }
    let mut float = false;
    while j < cs.len() && (cs[j].is_ascii_digit() || cs[j] == '_') {
        j += 1;
    }
    if j < cs.len() && cs[j] == '.' {
        float = true;
        j += 1;
        while j < cs.len() && (cs[j].is_ascii_digit() || cs[j] == '_') {
            j += 1;
        }
    }
    if j < cs.len() && (cs[j] == 'e' || cs[j] == 'E') {
        let mut k = j + 1;
        if k < cs.len() && (cs[k] == '+' || cs[k] == '-') {
            k += 1;
        }
        if k < cs.len() && cs[k].is_ascii_digit() {
            float = true;
            j = k;
            while j < cs.len() && (cs[j].is_ascii_digit() || cs[j] == '_') {
                j += 1;
            }
        }
    }
    if j < cs.len() && (cs[j] == 'j' || cs[j] == 'J') {
        return Err("complex numbers are not supported".into());
    }
    let t = text(start, j);
    if float {
        Ok((Tok::Float(t.parse().map_err(|e| format!("bad number {t}: {e}"))?), j))
    } else {
        if t.len() > 1 && t.starts_with('0') && t.chars().any(|c| c != '0') {
            return Err(format!("leading zeros in {t}"));
        }
        Ok((Tok::Int(t.parse().map_err(|e| format!("bad number {t}: {e}"))?), j))
    }
}

fn string_literal(cs: &[char], start: usize, raw: bool) -> Result<(String, usize), String> {
    let q = cs[start];
    let triple = cs.get(start + 1) == Some(&q) && cs.get(start + 2) == Some(&q);
    let mut i = start + if triple { 3 } else { 1 };
    let mut out = String::new();
    loop {
        let Some(&c) = cs.get(i) else { return Err("unterminated string".into()) };
        if c == q && (!triple || cs.get(i + 1) == Some(&q) && cs.get(i + 2) == Some(&q)) {
            return Ok((out, i + if triple { 3 } else { 1 }));
        }
        if c == '\n' && !triple {
            return Err("newline in a string".into());
        }
        if c == '\\' {
            let Some(&n) = cs.get(i + 1) else { return Err("unterminated string".into()) };
            if raw {
                out.push('\\');
                out.push(n);
                i += 2;
                continue;
            }
            i += 2;
            match n {
                '\n' => {}
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                '0'..='7' => {
                    let mut v = n.to_digit(8).unwrap();
                    for _ in 0..2 {
                        match cs.get(i).and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(v).ok_or("bad octal escape")?);
                }
                'x' | 'u' | 'U' => {
                    let len = match n {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = cs.get(i..i + len).ok_or("truncated escape")?.iter().collect();
                    let v = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\{n}{hex}"))?;
                    out.push(char::from_u32(v).ok_or("bad code point")?);
                    i += len;
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
}

/// How deep an expression tree may grow: brackets, calls, unary operators and operator chains
/// each add a level. CPython refuses 200 nested brackets ("too many nested parentheses") and
/// BFCL's recursive AST walk fails on deep trees, so such outputs are decoder failures there;
/// here the limit also keeps parsing, `unparse`, `eval` and dropping the tree off the stack's end.
const MAX_DEPTH: usize = 200;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Levels of the tree above the node being parsed. An error abandons the whole parse, so
    /// only successful paths restore it.
    depth: usize,
}

impl Parser {
    /// One level deeper, or an error past [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("expression nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_name(&self, n: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(x)) if x == n)
    }
    fn eat(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!("expected '{op}' at token {}", self.pos))
        }
    }

    /// Top level: an expression, or a bare tuple `a, b`.
    fn top(&mut self) -> Result<Expr, String> {
        let first = self.expr()?;
        if self.is_op(",") {
            let mut items = vec![first];
            while self.eat(",") {
                if self.peek().is_none() {
                    break;
                }
                items.push(self.expr()?);
            }
            return Ok(Expr::Tuple(items));
        }
        Ok(first)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.deeper()?;
        let e = self.expr_here()?;
        self.depth -= 1;
        Ok(e)
    }

    fn expr_here(&mut self) -> Result<Expr, String> {
        if self.is_name("lambda") {
            return Err("lambda is not supported".into());
        }
        let e = self.or_test()?;
        if self.is_name("if") {
            return Err("conditional expressions are not supported".into());
        }
        Ok(e)
    }

    fn or_test(&mut self) -> Result<Expr, String> {
        let e = self.not_test()?;
        if self.is_name("and") || self.is_name("or") {
            return Err("boolean operators are not supported".into());
        }
        Ok(e)
    }

    fn not_test(&mut self) -> Result<Expr, String> {
        if self.is_name("not") {
            self.pos += 1;
            self.deeper()?;
            let e = Expr::Unary(UnOp::Not, Box::new(self.not_test()?));
            self.depth -= 1;
            return Ok(e);
        }
        let e = self.arith()?;
        if self.is_op("<") || self.is_op(">") || self.is_name("in") || self.is_name("is") {
            return Err("comparisons are not supported".into());
        }
        Ok(e)
    }

    fn arith(&mut self) -> Result<Expr, String> {
        let (mut e, depth) = (self.term()?, self.depth);
        loop {
            let op = if self.eat("+") {
                BinOp::Add
            } else if self.eat("-") {
                BinOp::Sub
            } else {
                self.depth = depth;
                return Ok(e);
            };
            self.deeper()?;
            e = Expr::Binary(Box::new(e), op, Box::new(self.term()?));
        }
    }

    fn term(&mut self) -> Result<Expr, String> {
        let (mut e, depth) = (self.factor()?, self.depth);
        loop {
            let op = if self.eat("*") {
                BinOp::Mul
            } else if self.eat("/") {
                BinOp::Div
            } else if self.eat("//") {
                BinOp::FloorDiv
            } else if self.eat("%") {
                BinOp::Mod
            } else {
                self.depth = depth;
                return Ok(e);
            };
            self.deeper()?;
            e = Expr::Binary(Box::new(e), op, Box::new(self.factor()?));
        }
    }

    fn factor(&mut self) -> Result<Expr, String> {
        let op = if self.eat("-") {
            UnOp::Neg
        } else if self.eat("+") {
            UnOp::Pos
        } else if self.eat("~") {
            UnOp::Invert
        } else {
            return self.power();
        };
        self.deeper()?;
        let e = Expr::Unary(op, Box::new(self.factor()?));
        self.depth -= 1;
        Ok(e)
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.atom_expr()?;
        if self.eat("**") {
            self.deeper()?;
            let e = Expr::Binary(Box::new(base), BinOp::Pow, Box::new(self.factor()?));
            self.depth -= 1;
            return Ok(e);
        }
        Ok(base)
    }

    fn atom_expr(&mut self) -> Result<Expr, String> {
        // Each attribute, call or subscript wraps the value so far: one level more.
        let (mut e, depth) = (self.atom()?, self.depth);
        loop {
            if self.is_op(".") || self.is_op("(") || self.is_op("[") {
                self.deeper()?;
            }
            if self.eat(".") {
                match self.peek().cloned() {
                    Some(Tok::Name(n)) => {
                        self.pos += 1;
                        e = Expr::Attribute(Box::new(e), n);
                    }
                    _ => return Err("expected a name after '.'".into()),
                }
            } else if self.eat("(") {
                let mut args = Vec::new();
                let mut keywords = Vec::new();
                while !self.is_op(")") {
                    if self.eat("**") {
                        keywords.push((None, self.expr()?));
                    } else if self.eat("*") {
                        if !keywords.is_empty() && keywords.iter().any(|(k, _)| k.is_none()) {
                            return Err("iterable argument unpacking follows keyword argument unpacking".into());
                        }
                        args.push(Expr::Starred(Box::new(self.expr()?)));
                    } else if matches!(self.peek(), Some(Tok::Name(_)))
                        && matches!(self.toks.get(self.pos + 1), Some(Tok::Op("=")))
                    {
                        let Some(Tok::Name(k)) = self.peek().cloned() else { unreachable!() };
                        if is_keyword(&k) {
                            return Err(format!("invalid syntax: keyword {k} used as an argument name"));
                        }
                        self.pos += 2;
                        keywords.push((Some(k), self.expr()?));
                    } else {
                        if keywords.iter().any(|(k, _)| k.is_some()) {
                            return Err("positional argument follows keyword argument".into());
                        }
                        args.push(self.expr()?);
                    }
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect(")")?;
                e = Expr::Call { func: Box::new(e), args, keywords };
            } else if self.eat("[") {
                let idx = self.slice()?;
                self.expect("]")?;
                e = Expr::Subscript(Box::new(e), idx);
            } else {
                self.depth = depth;
                return Ok(e);
            }
        }
    }

    /// The inside of `[...]` after a value: an index or a slice, as `ast.unparse` writes it.
    fn slice(&mut self) -> Result<String, String> {
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut is_slice = false;
        loop {
            if self.is_op("]") {
                break;
            }
            if self.eat(":") {
                parts.push(std::mem::take(&mut cur));
                is_slice = true;
                continue;
            }
            if self.is_op(",") {
                return Err("tuple subscripts are not supported".into());
            }
            if !cur.is_empty() {
                return Err("bad subscript".into());
            }
            cur = unparse(&self.expr()?);
        }
        parts.push(cur);
        if !is_slice {
            return Ok(parts.remove(0));
        }
        while parts.len() > 2 && parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        Ok(parts.join(":"))
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let Some(t) = self.peek().cloned() else { return Err("unexpected end of input".into()) };
        self.pos += 1;
        match t {
            Tok::Int(i) => Ok(Expr::Const(PyVal::Int(i))),
            Tok::Float(f) => Ok(Expr::Const(PyVal::Float(f))),
            Tok::Str(mut s) => {
                while let Some(Tok::Str(more)) = self.peek().cloned() {
                    self.pos += 1;
                    s.push_str(&more);
                }
                Ok(Expr::Const(PyVal::Str(s)))
            }
            Tok::Bytes(mut b) => {
                while let Some(Tok::Bytes(more)) = self.peek().cloned() {
                    self.pos += 1;
                    b.extend(more);
                }
                if matches!(self.peek(), Some(Tok::Str(_))) {
                    return Err("cannot mix bytes and nonbytes literals".into());
                }
                Ok(Expr::Const(PyVal::Bytes(b)))
            }
            Tok::Op("...") => Ok(Expr::Const(PyVal::Ellipsis)),
            Tok::Name(n) => match n.as_str() {
                "True" => Ok(Expr::Const(PyVal::Bool(true))),
                "False" => Ok(Expr::Const(PyVal::Bool(false))),
                "None" => Ok(Expr::Const(PyVal::None)),
                k if is_keyword(k) => Err(format!("unexpected keyword {n}")),
                _ => Ok(Expr::Name(n)),
            },
            Tok::Op("(") => {
                if self.eat(")") {
                    return Ok(Expr::Tuple(vec![]));
                }
                let first = self.expr()?;
                if self.is_name("for") {
                    return Err("comprehensions are not supported".into());
                }
                if self.eat(")") {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat(",") {
                    if self.is_op(")") {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect(")")?;
                Ok(Expr::Tuple(items))
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    items.push(self.expr()?);
                    if self.is_name("for") {
                        return Err("comprehensions are not supported".into());
                    }
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect("]")?;
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                if self.eat("}") {
                    return Ok(Expr::Dict(vec![]));
                }
                let k = self.expr()?;
                if self.eat(":") {
                    let mut items = vec![(k, self.expr()?)];
                    while self.eat(",") {
                        if self.is_op("}") {
                            break;
                        }
                        let k = self.expr()?;
                        self.expect(":")?;
                        items.push((k, self.expr()?));
                    }
                    self.expect("}")?;
                    Ok(Expr::Dict(items))
                } else {
                    let mut items = vec![k];
                    while self.eat(",") {
                        if self.is_op("}") {
                            break;
                        }
                        items.push(self.expr()?);
                    }
                    self.expect("}")?;
                    Ok(Expr::Set(items))
                }
            }
            Tok::Op(o) => Err(format!("unexpected '{o}'")),
        }
    }
}

/// Parses one Python expression (a whole "eval"-mode input).
pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let e = p.top()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected trailing input at token {}", p.pos));
    }
    Ok(e)
}

/// Python's `ast.unparse` of an expression (the forms tool calls use).
pub fn unparse(e: &Expr) -> String {
    match e {
        Expr::Const(v) => v.repr(),
        Expr::Name(n) => n.clone(),
        Expr::Attribute(b, n) => format!("{}.{n}", unparse(b)),
        Expr::List(v) => format!("[{}]", v.iter().map(unparse).collect::<Vec<_>>().join(", ")),
        Expr::Tuple(v) if v.len() == 1 => format!("({},)", unparse(&v[0])),
        Expr::Tuple(v) => format!("({})", v.iter().map(unparse).collect::<Vec<_>>().join(", ")),
        Expr::Set(v) => format!("{{{}}}", v.iter().map(unparse).collect::<Vec<_>>().join(", ")),
        Expr::Dict(v) => format!(
            "{{{}}}",
            v.iter().map(|(k, x)| format!("{}: {}", unparse(k), unparse(x))).collect::<Vec<_>>().join(", ")
        ),
        Expr::Call { func, args, keywords } => {
            let mut parts: Vec<String> = args.iter().map(unparse).collect();
            for (k, v) in keywords {
                parts.push(match k {
                    Some(k) => format!("{k}={}", unparse(v)),
                    None => format!("**{}", unparse(v)),
                });
            }
            format!("{}({})", unparse(func), parts.join(", "))
        }
        Expr::Unary(op, x) => {
            let s = match op {
                UnOp::Neg => "-",
                UnOp::Pos => "+",
                UnOp::Invert => "~",
                UnOp::Not => "not ",
            };
            format!("{s}{}", unparse_operand(x))
        }
        Expr::Binary(a, op, b) => {
            let s = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::FloorDiv => "//",
                BinOp::Mod => "%",
                BinOp::Pow => "**",
            };
            format!("{} {s} {}", unparse_operand(a), unparse_operand(b))
        }
        Expr::Subscript(v, idx) => format!("{}[{idx}]", unparse(v)),
        Expr::Starred(v) => format!("*{}", unparse(v)),
        Expr::Unsupported(s) => s.clone(),
    }
}

fn unparse_operand(e: &Expr) -> String {
    match e {
        Expr::Binary(..) => format!("({})", unparse(e)),
        _ => unparse(e),
    }
}

/// Evaluates a constant expression with Python's semantics (numbers, strings, containers,
/// arithmetic). Names and calls are not constants.
pub fn eval(e: &Expr) -> Result<PyVal, String> {
    use PyVal::*;
    Ok(match e {
        Expr::Const(v) => v.clone(),
        Expr::List(v) => List(v.iter().map(eval).collect::<Result<_, _>>()?),
        Expr::Tuple(v) => Tuple(v.iter().map(eval).collect::<Result<_, _>>()?),
        Expr::Dict(v) => Dict(v.iter().map(|(k, x)| Ok((eval(k)?, eval(x)?))).collect::<Result<_, String>>()?),
        Expr::Unary(op, x) => {
            let v = eval(x)?;
            match (op, v) {
                (UnOp::Not, v) => Bool(!truthy(&v)),
                (UnOp::Neg, Int(i)) => Int(-i),
                (UnOp::Neg, Bool(b)) => Int(-(b as i128)),
                (UnOp::Neg, Float(f)) => Float(-f),
                (UnOp::Pos, Int(i)) => Int(i),
                (UnOp::Pos, Bool(b)) => Int(b as i128),
                (UnOp::Pos, Float(f)) => Float(f),
                (UnOp::Invert, Int(i)) => Int(!i),
                (UnOp::Invert, Bool(b)) => Int(!(b as i128)),
                (_, v) => return Err(format!("bad operand type for unary operator: {}", v.type_name())),
            }
        }
        Expr::Binary(a, op, b) => binop(eval(a)?, *op, eval(b)?)?,
        other => return Err(format!("not a constant: {}", unparse(other))),
    })
}

fn truthy(v: &PyVal) -> bool {
    match v {
        PyVal::None => false,
        PyVal::Bool(b) => *b,
        PyVal::Int(i) => *i != 0,
        PyVal::Float(f) => *f != 0.0,
        PyVal::Str(s) => !s.is_empty(),
        PyVal::Bytes(b) => !b.is_empty(),
        PyVal::Ellipsis => true,
        PyVal::List(v) | PyVal::Tuple(v) => !v.is_empty(),
        PyVal::Dict(v) => !v.is_empty(),
    }
}

fn binop(a: PyVal, op: BinOp, b: PyVal) -> Result<PyVal, String> {
    use PyVal::*;
    let as_int = |v: &PyVal| match v {
        Int(i) => Some(*i),
        Bool(b) => Some(*b as i128),
        _ => Option::None,
    };
    let as_f = |v: &PyVal| match v {
        Int(i) => Some(*i as f64),
        Bool(b) => Some(*b as i32 as f64),
        Float(f) => Some(*f),
        _ => Option::None,
    };
    let err = || format!("unsupported operand types: {} and {}", a.type_name(), b.type_name());
    if let (Some(x), Some(y)) = (as_int(&a), as_int(&b)) {
        return Ok(match op {
            BinOp::Add => Int(x.checked_add(y).ok_or("integer overflow")?),
            BinOp::Sub => Int(x.checked_sub(y).ok_or("integer overflow")?),
            BinOp::Mul => Int(x.checked_mul(y).ok_or("integer overflow")?),
            BinOp::Div => {
                if y == 0 {
                    return Err("division by zero".into());
                }
                Float(x as f64 / y as f64)
            }
            BinOp::FloorDiv | BinOp::Mod => {
                if y == 0 {
                    return Err("integer division or modulo by zero".into());
                }
                let q = x.div_euclid(y);
                let (q, r) = if y > 0 { (q, x.rem_euclid(y)) } else { floor_divmod(x, y) };
                if op == BinOp::FloorDiv {
                    Int(q)
                } else {
                    Int(r)
                }
            }
            BinOp::Pow => {
                if y < 0 {
                    Float((x as f64).powf(y as f64))
                } else {
                    Int(x.checked_pow(u32::try_from(y).map_err(|_| "exponent too large")?).ok_or("integer overflow")?)
                }
            }
        });
    }
    if let (Some(x), Some(y)) = (as_f(&a), as_f(&b)) {
        return Ok(Float(match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => {
                if y == 0.0 {
                    return Err("float division by zero".into());
                }
                x / y
            }
            BinOp::FloorDiv => {
                if y == 0.0 {
                    return Err("float floor division by zero".into());
                }
                (x / y).floor()
            }
            BinOp::Mod => {
                if y == 0.0 {
                    return Err("float modulo".into());
                }
                let r = x % y;
                if r != 0.0 && (r < 0.0) != (y < 0.0) {
                    r + y
                } else {
                    r
                }
            }
            BinOp::Pow => x.powf(y),
        }));
    }
    Ok(match (op, &a, &b) {
        (BinOp::Add, Str(x), Str(y)) => Str(format!("{x}{y}")),
        (BinOp::Add, List(x), List(y)) => List(x.iter().chain(y).cloned().collect()),
        (BinOp::Add, Tuple(x), Tuple(y)) => Tuple(x.iter().chain(y).cloned().collect()),
        (BinOp::Mul, Str(s), n) | (BinOp::Mul, n, Str(s)) if as_int(n).is_some() => {
            Str(s.repeat(as_int(n).unwrap().max(0) as usize))
        }
        (BinOp::Mul, List(v), n) | (BinOp::Mul, n, List(v)) if as_int(n).is_some() => {
            List((0..as_int(n).unwrap().max(0)).flat_map(|_| v.iter().cloned()).collect())
        }
        _ => return Err(err()),
    })
}

/// Python's `divmod` for a negative divisor: the quotient rounds toward −∞.
fn floor_divmod(x: i128, y: i128) -> (i128, i128) {
    let mut q = x / y;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        q -= 1;
    }
    (q, x - q * y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> PyVal {
        eval(&parse(s).unwrap()).unwrap()
    }

    #[test]
    fn literals_and_arithmetic_follow_python() {
        assert_eq!(ev("1e3"), PyVal::Float(1000.0));
        assert_eq!(ev("7 // 2"), PyVal::Int(3));
        assert_eq!(ev("-7 // 2"), PyVal::Int(-4));
        assert_eq!(ev("-7 % 3"), PyVal::Int(2));
        assert_eq!(ev("7 / 2"), PyVal::Float(3.5));
        assert_eq!(ev("2 ** 10"), PyVal::Int(1024));
        assert_eq!(ev("-2 ** 2"), PyVal::Int(-4));
        assert_eq!(ev("2 + 3 * 4"), PyVal::Int(14));
        assert_eq!(ev("'a' 'b' + \"c\""), PyVal::Str("abc".into()));
        assert_eq!(ev("0x1F + 0b11 + 1_000"), PyVal::Int(1034));
        assert_eq!(ev("r'\\n' + '\\n'"), PyVal::Str("\\n\n".into()));
        assert_eq!(ev("(1,)"), PyVal::Tuple(vec![PyVal::Int(1)]));
        assert_eq!(ev("not 0"), PyVal::Bool(true));
        assert!(PyVal::Int(5).py_eq(&PyVal::Float(5.0)));
        assert!(PyVal::Bool(true).py_eq(&PyVal::Int(1)));
        assert!(!PyVal::List(vec![]).py_eq(&PyVal::Tuple(vec![])));
    }

    #[test]
    fn reprs_match_python() {
        assert_eq!(float_repr(1000.0), "1000.0");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e-5), "1.5e-05");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(unparse(&parse("f( 1,x = 'y' )").unwrap()), "f(1, x='y')");
        assert_eq!(unparse(&parse("a.b.c(d=[1, (2,)], **k)").unwrap()), "a.b.c(d=[1, (2,)], **k)");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let n = 100_000;
        let deep = [
            "[".repeat(n),
            format!("{}1{}", "[".repeat(5000), "]".repeat(5000)),
            format!("{}x){}", "f(".repeat(5000), ")".repeat(4999)),
            format!("{}1", "-".repeat(n)),
            format!("{}1", "not ".repeat(n)),
            format!("1{}", " + 1".repeat(n)),
            format!("2{}", " * 2".repeat(n)),
            format!("2{}", " ** 2".repeat(n)),
            format!("a{}", ".b".repeat(n)),
            format!("f{}", "()".repeat(n)),
            format!("a{}", "[0]".repeat(n)),
            format!("f(x={}1{})", "{'k': ".repeat(5000), "}".repeat(5000)),
        ];
        for src in &deep {
            let err = parse(src).unwrap_err();
            assert!(err.contains("nested more than 200 levels"), "{}…: {err}", &src[..20]);
        }
        // Within the limit, deep values still parse and evaluate (Python accepts these too).
        let ok = format!("{}1{}", "[".repeat(150), "]".repeat(150));
        let mut v = ev(&ok);
        for _ in 0..150 {
            let PyVal::List(mut items) = v else { panic!("not a list") };
            v = items.remove(0);
        }
        assert_eq!(v, PyVal::Int(1));
        assert_eq!(ev(&format!("0{}", " + 1".repeat(150))), PyVal::Int(150));
        assert_eq!(ev(&format!("{}1", "-".repeat(150))), PyVal::Int(1));
    }

    #[test]
    fn unsupported_syntax_is_an_error_not_a_panic() {
        for s in [
            "f(x=lambda y: y)",
            "a[0, 1]",
            "f(class=1)",
            "x if y else z",
            "1 < 2",
            "[x for x in y]",
            "f(a=1, 2)",
            "'unterminated",
            "1j",
            "f(",
            "",
        ] {
            assert!(parse(s).and_then(|e| eval(&e).map(|_| ())).is_err(), "{s}");
        }
    }
}
