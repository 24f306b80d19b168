//! Splits configuration bytes into classified lines: comments removed, escapes applied.

/// How a variable line assigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// `=` or `=>`.
    Set,
    /// `+=`.
    Append,
}

/// A `#` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Directive {
    /// `#include` (optional = `#tryinclude`).
    Include { target: String, optional: bool },
    /// `#exec` (not supported).
    Exec(String),
    /// Anything else after `#`.
    Unknown(String),
}

/// One meaningful line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// Empty or only comments.
    Blank,
    /// `[name](options)`.
    Header {
        name: String,
        template: bool,
        append: bool,
        bases: Vec<String>,
    },
    /// `name = value` and its variants.
    Variable { name: String, op: Op, value: String },
    /// `#include` and friends.
    Directive(Directive),
}

/// Iterates over the lines of one file.
pub(super) struct LineLexer<'a> {
    rest: &'a [u8],
    line_no: u32,
    max_line: usize,
    /// Nesting depth of `;-- --;` block comments.
    comment_depth: u32,
    comment_start: u32,
}

impl<'a> LineLexer<'a> {
    pub(super) fn new(bytes: &'a [u8], max_line: usize) -> Self {
        Self {
            rest: bytes,
            line_no: 0,
            max_line,
            comment_depth: 0,
            comment_start: 0,
        }
    }

    pub(super) fn in_block_comment(&self) -> bool {
        self.comment_depth > 0
    }

    pub(super) fn block_comment_start(&self) -> u32 {
        self.comment_start
    }

    /// The next line, with its 1-based number, or `None` at the end.
    pub(super) fn next_line(&mut self) -> Option<(u32, Result<Line, String>)> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.rest.len());
        let mut raw = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
        self.line_no = self.line_no.saturating_add(1);
        if let [head @ .., b'\r'] = raw {
            raw = head;
        }
        if raw.len() > self.max_line {
            return Some((
                self.line_no,
                Err(format!(
                    "line is {} bytes long, more than the {} allowed",
                    raw.len(),
                    self.max_line
                )),
            ));
        }
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(_) => {
                return Some((
                    self.line_no,
                    Err("line is not valid UTF-8 text (binary data?)".to_string()),
                ));
            }
        };
        if text.contains('\0') {
            return Some((
                self.line_no,
                Err("line contains a NUL byte (binary data?)".to_string()),
            ));
        }
        let stripped = self.strip_comments(text);
        Some((self.line_no, classify(stripped.trim())))
    }

    /// Removes `;` and `;-- --;` comments and unescapes `\;`.
    fn strip_comments<'t>(&mut self, text: &'t str) -> std::borrow::Cow<'t, str> {
        // Most lines have no comment at all: no copy for them.
        if self.comment_depth == 0 && !text.contains(';') {
            return std::borrow::Cow::Borrowed(text);
        }
        std::borrow::Cow::Owned(self.strip_comments_slow(text))
    }

    fn strip_comments_slow(&mut self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut copy_from = 0;
        let flush = |out: &mut String, from: usize, to: usize| {
            if from < to {
                out.push_str(&text[from..to]);
            }
        };
        while i < bytes.len() {
            let here = &bytes[i..];
            if self.comment_depth > 0 {
                if here.starts_with(b"--;") {
                    self.comment_depth -= 1;
                    i += 3;
                    copy_from = i;
                } else if here.starts_with(b";--") {
                    self.comment_depth += 1;
                    i += 3;
                } else {
                    i += 1;
                }
                continue;
            }
            match bytes[i] {
                b'\\' if bytes.get(i + 1) == Some(&b';') => {
                    flush(&mut out, copy_from, i);
                    out.push(';');
                    i += 2;
                    copy_from = i;
                }
                b';' if here.starts_with(b";--") => {
                    flush(&mut out, copy_from, i);
                    self.comment_depth = 1;
                    self.comment_start = self.line_no;
                    i += 3;
                }
                b';' => {
                    flush(&mut out, copy_from, i);
                    return out;
                }
                _ => i += 1,
            }
        }
        if self.comment_depth == 0 {
            flush(&mut out, copy_from, bytes.len());
        }
        out
    }
}

fn classify(line: &str) -> Result<Line, String> {
    if line.is_empty() {
        return Ok(Line::Blank);
    }
    if let Some(rest) = line.strip_prefix('[') {
        return header(rest);
    }
    if let Some(rest) = line.strip_prefix('#') {
        return Ok(Line::Directive(directive(rest)));
    }
    variable(line)
}

fn header(rest: &str) -> Result<Line, String> {
    let Some(close) = rest.find(']') else {
        return Err("no closing ']' on section header".to_string());
    };
    let name = rest[..close].trim();
    if name.is_empty() {
        return Err("empty section name '[]'".to_string());
    }
    let after = rest[close + 1..].trim();
    let mut template = false;
    let mut append = false;
    let mut bases = Vec::new();
    if !after.is_empty() {
        let Some(inner) = after.strip_prefix('(').and_then(|a| a.strip_suffix(')')) else {
            return Err(format!(
                "unexpected text '{after}' after section name (expected '(options)')"
            ));
        };
        for opt in inner.split(',').map(str::trim) {
            match opt {
                "" => {}
                "!" => template = true,
                // `(+type=endpoint)` filters which section to append to; we append to the
                // last section of that name, which is what every real config means.
                o if o.starts_with('+') => append = true,
                o => bases.push(o.to_string()),
            }
        }
    }
    Ok(Line::Header {
        name: name.to_string(),
        template,
        append,
        bases,
    })
}

fn directive(rest: &str) -> Directive {
    let rest = rest.trim_start();
    let (word, arg) = match rest.find(|c: char| c.is_whitespace() || c == '"' || c == '<') {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let target = unquote(arg).to_string();
    match word.to_ascii_lowercase().as_str() {
        "include" => Directive::Include {
            target,
            optional: false,
        },
        "tryinclude" => Directive::Include {
            target,
            optional: true,
        },
        "exec" | "tryexec" => Directive::Exec(target),
        _ => Directive::Unknown(word.to_string()),
    }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for (open, close) in [('"', '"'), ('<', '>')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|x| x.strip_suffix(close)) {
            return inner.trim();
        }
    }
    s
}

fn variable(line: &str) -> Result<Line, String> {
    let Some(eq) = line.find('=') else {
        return Err(format!("'{line}' is not 'name = value' (no '=')"));
    };
    let (mut name, op) = match line[..eq].strip_suffix('+') {
        Some(n) => (n, Op::Append),
        None => (&line[..eq], Op::Set),
    };
    let mut value = &line[eq + 1..];
    if op == Op::Set
        && let Some(v) = value.strip_prefix('>')
    {
        value = v;
    }
    name = name.trim();
    // A leading backslash escapes the first character of a name (e.g. `\[`).
    let name = name.strip_prefix('\\').unwrap_or(name);
    if name.is_empty() {
        return Err(format!("'{line}' has no option name before '='"));
    }
    Ok(Line::Variable {
        name: name.to_string(),
        op,
        value: value.trim().to_string(),
    })
}
