//! `$[...]` expressions, as Asterisk's `ast_expr2`: numbers are floating point, strings keep
//! their double quotes (so `"${X}" = "a"` compares quoted with quoted), comparisons are
//! numeric when both sides are numbers, `|` and `&` return an operand as POSIX `expr`
//! does, and `a ? b :: c` is the conditional. `:` (anchored) and `=~` match a small
//! extended regular expression (see [`Regex`]); the result is the first group's text, or
//! the length of the match when the expression has no group.
//!
//! Errors (syntax, non-numeric operands of arithmetic) are logged and give what Asterisk
//! gives: an empty result for a syntax error, 0 for the failed operation. Division by zero
//! logs and yields 2147483647 (`INT_MAX`), as Asterisk.

use tracing::warn;

/// Most tokens one expression may have.
const MAX_TOKENS: usize = 4096;
/// Deepest parenthesis/operator nesting evaluated.
const MAX_DEPTH: usize = 128;

/// Evaluates an already substituted expression (the text between `$[` and `]`).
pub fn evaluate(text: &str) -> String {
    let tokens = match tokenize(text) {
        Ok(t) => t,
        Err(e) => {
            warn!("Syntax error in expression '{text}': {e}");
            return String::new();
        }
    };
    if tokens.is_empty() {
        return String::new();
    }
    let mut p = Parser { tokens, pos: 0 };
    match p.ternary(0) {
        Ok(v) if p.pos == p.tokens.len() => v.as_text(),
        Ok(_) => {
            warn!("Syntax error in expression '{text}': unexpected token after the expression");
            String::new()
        }
        Err(e) => {
            warn!("Syntax error in expression '{text}': {e}");
            String::new()
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Op(&'static str),
    Word(String),
}

/// Operators, longest first so `::`, `<=`, `=~` win over their prefixes.
const OPS: &[&str] = &[
    "::", "=~", "==", "!=", "<=", ">=", "|", "&", "=", "<", ">", "+", "-", "*", "/", "%", "!", ":",
    "?", "(", ")",
];

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if out.len() > MAX_TOKENS {
            return Err("expression too long".into());
        }
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            // Quotes stay part of the string, as in ast_expr2.
            let end = rest[1..]
                .find('"')
                .ok_or_else(|| "unterminated string".to_string())?;
            out.push(Tok::Word(rest[..end + 2].to_string()));
            rest = &rest[end + 2..];
            continue;
        }
        if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Tok::Op(op));
            rest = &rest[op.len()..];
            continue;
        }
        let end = rest
            .char_indices()
            .find(|&(_, ch)| {
                ch.is_whitespace() || ch == '"' || OPS.iter().any(|op| op.starts_with(ch))
            })
            .map_or(rest.len(), |(i, _)| i);
        out.push(Tok::Word(rest[..end].to_string()));
        rest = &rest[end..];
    }
    Ok(out)
}

/// A value: a number, or a string (possibly with its quotes).
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Num(f64),
    Str(String),
}

impl Val {
    fn from_word(w: String) -> Val {
        match number(&w) {
            Some(n) => Val::Num(n),
            None => Val::Str(w),
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Str(s) => number(s),
        }
    }

    fn as_text(&self) -> String {
        match self {
            Val::Num(n) => format_number(*n),
            Val::Str(s) => s.clone(),
        }
    }

    /// Asterisk's `is_zero_or_null`.
    fn is_false(&self) -> bool {
        match self {
            Val::Num(n) => *n == 0.0,
            Val::Str(s) => s.is_empty() || number(s) == Some(0.0),
        }
    }
}

/// A number as ast_expr2 recognises one: optional `-`, digits, optional fraction.
fn number(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (body.contains('.') && frac.is_empty()) {
        return None;
    }
    s.parse().ok()
}

/// `%.18Lg`-like: integers without a fraction, other values in their shortest form.
fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e18 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn strip_quotes(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

/// Binary operators by precedence level, lowest first (ast_expr2.y's %left lines).
const LEVELS: &[&[&str]] = &[
    &["|"],
    &["&"],
    &["=", "==", ">", "<", ">=", "<=", "!="],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Parser {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{op}'"))
        }
    }

    /// `cond ? a :: b`, the loosest operator.
    fn ternary(&mut self, depth: usize) -> Result<Val, String> {
        if depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let cond = self.binary(0, depth)?;
        if self.peek_op() != Some("?") {
            return Ok(cond);
        }
        self.pos += 1;
        let yes = self.ternary(depth + 1)?;
        self.expect("::")?;
        let no = self.ternary(depth + 1)?;
        let truth = match &cond {
            Val::Str(s) => !s.is_empty() && s != "\"\"" && s != "0",
            Val::Num(n) => *n != 0.0,
        };
        Ok(if truth { yes } else { no })
    }

    fn binary(&mut self, level: usize, depth: usize) -> Result<Val, String> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(depth);
        };
        let mut left = self.binary(level + 1, depth)?;
        while let Some(op) = self.peek_op().filter(|o| ops.contains(o)) {
            self.pos += 1;
            let right = self.binary(level + 1, depth)?;
            left = apply(op, left, right);
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Val, String> {
        if depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        match self.peek_op() {
            Some("-") => {
                self.pos += 1;
                let v = self.unary(depth + 1)?;
                Ok(match v.as_number() {
                    Some(n) => Val::Num(-n),
                    None => {
                        warn!("non-numeric argument");
                        Val::Num(0.0)
                    }
                })
            }
            Some("!") => {
                self.pos += 1;
                let v = self.unary(depth + 1)?;
                Ok(Val::Num(if v.is_false() { 1.0 } else { 0.0 }))
            }
            _ => self.colon(depth),
        }
    }

    /// `:` and `=~` bind tighter than everything but unary operators.
    fn colon(&mut self, depth: usize) -> Result<Val, String> {
        let mut left = self.primary(depth)?;
        while let Some(op) = self.peek_op().filter(|o| *o == ":" || *o == "=~") {
            self.pos += 1;
            let right = self.primary(depth)?;
            left = regex_op(&left.as_text(), &right.as_text(), op == ":");
        }
        Ok(left)
    }

    fn primary(&mut self, depth: usize) -> Result<Val, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Ok(Val::from_word(w))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let v = self.ternary(depth + 1)?;
                self.expect(")")?;
                Ok(v)
            }
            Some(Tok::Op(o)) => Err(format!("unexpected '{o}'")),
            None => Err("unexpected end of expression".into()),
        }
    }
}

fn bool_val(b: bool) -> Val {
    Val::Num(if b { 1.0 } else { 0.0 })
}

fn apply(op: &str, a: Val, b: Val) -> Val {
    match op {
        "|" => {
            if a.is_false() {
                b
            } else {
                a
            }
        }
        "&" => {
            if a.is_false() || b.is_false() {
                Val::Num(0.0)
            } else {
                a
            }
        }
        "=" | "==" | "!=" | "<" | ">" | "<=" | ">=" => compare(op, &a, &b),
        _ => arithmetic(op, &a, &b),
    }
}

fn compare(op: &str, a: &Val, b: &Val) -> Val {
    let ord = match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.as_text().cmp(&b.as_text())),
    };
    let Some(ord) = ord else {
        return bool_val(op == "!=");
    };
    use std::cmp::Ordering::*;
    bool_val(match op {
        "=" | "==" => ord == Equal,
        "!=" => ord != Equal,
        "<" => ord == Less,
        ">" => ord == Greater,
        "<=" => ord != Greater,
        _ => ord != Less,
    })
}

fn arithmetic(op: &str, a: &Val, b: &Val) -> Val {
    let (Some(x), Some(y)) = (a.as_number(), b.as_number()) else {
        warn!("non-numeric argument");
        return Val::Num(0.0);
    };
    Val::Num(match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" if y == 0.0 => {
            warn!("division by zero");
            f64::from(i32::MAX)
        }
        "/" => x / y,
        _ if y == 0.0 => {
            warn!("div by zero");
            0.0
        }
        _ => x % y,
    })
}

/// `a : re` (anchored at the start) and `a =~ re`.
fn regex_op(subject: &str, pattern: &str, anchored: bool) -> Val {
    let subject = strip_quotes(subject);
    let pattern = strip_quotes(pattern);
    let re = match Regex::new(pattern) {
        Ok(r) => r,
        Err(e) => {
            warn!("regcomp() error : {e}");
            return Val::Num(0.0);
        }
    };
    match re.find(subject, anchored) {
        Some(m) => match m.group {
            Some(g) => Val::Str(g),
            None if re.groups > 0 => Val::Str(String::new()),
            None => Val::Num(m.len as f64),
        },
        None if re.groups > 0 => Val::Str(String::new()),
        None => Val::Num(0.0),
    }
}

/// A small POSIX-extended regular expression: literals, `.`, `[...]` (ranges, `^`
/// negation, `[:digit:]`-style classes), `^`, `$`, groups `(...)` with `|`, and the
/// quantifiers `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`; `\` escapes the next character.
/// Matching backtracks with a step budget, so a pathological pattern fails instead of
/// running long. Not supported: back-references, POSIX leftmost-longest semantics (the
/// first alternative that matches wins).
#[derive(Debug)]
pub struct Regex {
    alt: Vec<Vec<Node>>,
    groups: usize,
}

#[derive(Debug, Clone)]
enum Atom {
    Char(char),
    Any,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
    Start,
    End,
    Group {
        index: usize,
        alt: Vec<Vec<Node>>,
    },
}

#[derive(Debug, Clone)]
enum ClassItem {
    Range(char, char),
    Named(fn(char) -> bool),
}

#[derive(Debug, Clone)]
struct Node {
    atom: Atom,
    min: u32,
    max: Option<u32>,
}

/// Where a match ended and what the first group captured.
struct Match {
    len: usize,
    group: Option<String>,
}

/// Most backtracking steps one match may take.
const MAX_STEPS: usize = 100_000;
/// Longest pattern accepted.
const MAX_PATTERN: usize = 1024;
/// Longest subject matched (the matcher recurses about once per character).
const MAX_SUBJECT: usize = 256;

impl Regex {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        if pattern.len() > MAX_PATTERN {
            return Err("pattern too long".into());
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let mut groups = 0;
        let alt = parse_alt(&chars, &mut pos, &mut groups, 0)?;
        if pos != chars.len() {
            return Err("unmatched ( or )".into());
        }
        Ok(Regex { alt, groups })
    }

    fn find(&self, subject: &str, anchored: bool) -> Option<Match> {
        let text: Vec<char> = subject.chars().collect();
        if text.len() > MAX_SUBJECT {
            warn!("regular expression subject longer than {MAX_SUBJECT} characters; no match");
            return None;
        }
        let mut steps = 0;
        let starts = if anchored { 0..1 } else { 0..text.len() + 1 };
        for start in starts {
            let mut m = Matcher {
                text: &text,
                steps: &mut steps,
                group1: None,
            };
            if let Some(end) = m.alt(&self.alt, start, &mut Some) {
                let group = m
                    .group1
                    .map(|(s, e)| text.get(s..e).unwrap_or_default().iter().collect());
                return Some(Match {
                    len: end - start,
                    group,
                });
            }
            if steps > MAX_STEPS {
                warn!("regular expression too complex for '{subject}'");
                return None;
            }
        }
        None
    }
}

fn parse_alt(
    chars: &[char],
    pos: &mut usize,
    groups: &mut usize,
    depth: usize,
) -> Result<Vec<Vec<Node>>, String> {
    if depth > 8 {
        return Err("groups nested too deeply".into());
    }
    let mut alt = vec![Vec::new()];
    while let Some(&c) = chars.get(*pos) {
        let atom = match c {
            ')' => break,
            '|' => {
                *pos += 1;
                alt.push(Vec::new());
                continue;
            }
            '(' => {
                *pos += 1;
                *groups += 1;
                let index = *groups;
                let inner = parse_alt(chars, pos, groups, depth + 1)?;
                if chars.get(*pos) != Some(&')') {
                    return Err("parentheses not balanced".into());
                }
                *pos += 1;
                Atom::Group { index, alt: inner }
            }
            '[' => {
                *pos += 1;
                parse_class(chars, pos)?
            }
            '.' => {
                *pos += 1;
                Atom::Any
            }
            '^' => {
                *pos += 1;
                Atom::Start
            }
            '$' => {
                *pos += 1;
                Atom::End
            }
            '\\' => {
                let ch = *chars.get(*pos + 1).ok_or("trailing backslash")?;
                *pos += 2;
                Atom::Char(ch)
            }
            '*' | '+' | '?' | '{' => return Err(format!("'{c}' follows nothing")),
            _ => {
                *pos += 1;
                Atom::Char(c)
            }
        };
        let (min, max) = parse_quantifier(chars, pos)?;
        if let Some(seq) = alt.last_mut() {
            seq.push(Node { atom, min, max });
        }
    }
    Ok(alt)
}

fn parse_quantifier(chars: &[char], pos: &mut usize) -> Result<(u32, Option<u32>), String> {
    let q = match chars.get(*pos) {
        Some('*') => (0, None),
        Some('+') => (1, None),
        Some('?') => (0, Some(1)),
        Some('{') => {
            let close = chars[*pos..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("unterminated {")?;
            let body: String = chars[*pos + 1..*pos + close].iter().collect();
            let num = |s: &str| {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("bad repetition {{{body}}}"))
            };
            let q = match body.split_once(',') {
                None => {
                    let n = num(&body)?;
                    (n, Some(n))
                }
                Some((a, "")) => (num(a)?, None),
                Some((a, b)) => (num(a)?, Some(num(b)?)),
            };
            *pos += close;
            q
        }
        _ => return Ok((1, Some(1))),
    };
    *pos += 1;
    if q.0 > 1000 || q.1.is_some_and(|m| m > 1000 || m < q.0) {
        return Err("bad repetition count".into());
    }
    Ok(q)
}

fn parse_class(chars: &[char], pos: &mut usize) -> Result<Atom, String> {
    let negated = chars.get(*pos) == Some(&'^');
    if negated {
        *pos += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(*pos).ok_or("brackets ([ ]) not balanced")?;
        if c == ']' && !first {
            *pos += 1;
            break;
        }
        first = false;
        if c == '[' && chars.get(*pos + 1) == Some(&':') {
            let rest: String = chars[*pos + 2..].iter().collect();
            let end = rest.find(":]").ok_or("bad character class")?;
            let f: fn(char) -> bool = match &rest[..end] {
                "digit" => |c| c.is_ascii_digit(),
                "alpha" => |c| c.is_alphabetic(),
                "alnum" => |c| c.is_alphanumeric(),
                "space" => |c| c.is_whitespace(),
                "upper" => |c| c.is_uppercase(),
                "lower" => |c| c.is_lowercase(),
                "xdigit" => |c| c.is_ascii_hexdigit(),
                "punct" => |c| c.is_ascii_punctuation(),
                other => return Err(format!("unknown character class '{other}'")),
            };
            items.push(ClassItem::Named(f));
            *pos += 2 + rest[..end].chars().count() + 2;
            continue;
        }
        *pos += 1;
        match (chars.get(*pos), chars.get(*pos + 1)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                items.push(ClassItem::Range(c, hi));
                *pos += 2;
            }
            _ => items.push(ClassItem::Range(c, c)),
        }
    }
    Ok(Atom::Class { negated, items })
}

struct Matcher<'t, 's> {
    text: &'t [char],
    steps: &'s mut usize,
    group1: Option<(usize, usize)>,
}

/// What to do once a sequence matched up to a position: `Some` accepts the whole match.
type Cont<'k> = dyn FnMut(usize) -> Option<usize> + 'k;

impl Matcher<'_, '_> {
    fn alt(&mut self, alt: &[Vec<Node>], at: usize, k: &mut Cont<'_>) -> Option<usize> {
        alt.iter().find_map(|seq| self.seq(seq, at, k))
    }

    fn seq(&mut self, seq: &[Node], at: usize, k: &mut Cont<'_>) -> Option<usize> {
        match seq.split_first() {
            None => k(at),
            Some((node, rest)) => self.repeat(node, rest, at, 0, k),
        }
    }

    /// Greedy: tries one more repetition of `node` before continuing with `rest`.
    fn repeat(
        &mut self,
        node: &Node,
        rest: &[Node],
        at: usize,
        count: u32,
        k: &mut Cont<'_>,
    ) -> Option<usize> {
        *self.steps += 1;
        if *self.steps > MAX_STEPS {
            return None;
        }
        if node.max.is_none_or(|m| count < m) {
            for (end, group) in self.atom_ends(&node.atom, at) {
                // An empty repetition past the minimum would loop forever.
                if end == at && count >= node.min {
                    continue;
                }
                let saved = self.group1;
                if group.is_some() {
                    self.group1 = group;
                }
                if let Some(r) = self.repeat(node, rest, end, count + 1, k) {
                    return Some(r);
                }
                self.group1 = saved;
            }
        }
        if count >= node.min {
            return self.seq(rest, at, k);
        }
        None
    }

    /// Every position one occurrence of `atom` starting at `at` can end at, in the order
    /// backtracking prefers them, with the group-1 span it sets, if any.
    fn atom_ends(&mut self, atom: &Atom, at: usize) -> Vec<(usize, Option<(usize, usize)>)> {
        let here = self.text.get(at).copied();
        let only = |ok: bool, end: usize| if ok { vec![(end, None)] } else { vec![] };
        match atom {
            Atom::Char(c) => only(here == Some(*c), at + 1),
            Atom::Any => only(here.is_some(), at + 1),
            Atom::Class { negated, items } => {
                let hit = here.is_some_and(|ch| {
                    items.iter().any(|i| match i {
                        ClassItem::Range(lo, hi) => (*lo..=*hi).contains(&ch),
                        ClassItem::Named(f) => f(ch),
                    }) != *negated
                });
                only(hit, at + 1)
            }
            Atom::Start => only(at == 0, at),
            Atom::End => only(at == self.text.len(), at),
            Atom::Group { index, alt } => {
                let mut ends = Vec::new();
                for seq in alt {
                    let mut collect = |end: usize| {
                        if !ends.contains(&end) {
                            ends.push(end);
                        }
                        None
                    };
                    let _ = self.seq(seq, at, &mut collect);
                }
                ends.into_iter()
                    .map(|end| (end, (*index == 1).then_some((at, end))))
                    .collect()
            }
        }
    }
}
