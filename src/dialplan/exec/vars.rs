//! Variable substitution, as Asterisk's `pbx_substitute_variables_helper_full`.
//!
//! - `${NAME}`: the built-ins EXTEN, CONTEXT, PRIORITY, CHANNEL, UNIQUEID and HANGUPCAUSE
//!   first (as Asterisk, `Set(EXTEN=x)` does not hide them), then channel variables, then
//!   `[globals]`; unknown names are empty. Names are case-sensitive.
//! - `${NAME:offset}` / `${NAME:offset:length}`: a negative offset counts from the end, a
//!   negative length leaves that many characters off the end (counted in characters).
//! - `${${X}}`: the name is substituted first.
//! - `${FUNC(args)}`: LEN, IF, ISNULL, EXISTS, CALLERID and DIALPLAN_EXISTS here; every
//!   other function is asked of the [`ChannelData`]; an unknown one logs
//!   `Function X not registered` and is empty. Function names are case-insensitive.
//! - `$[expr]`: the contents are substituted, then evaluated (see [`super::expr`]).
//!
//! The result is cut at [`MAX_SUBSTITUTED`] bytes, nesting at [`MAX_NESTING`] levels.

use tracing::warn;

use super::{ChannelData, Execution, expr};
use crate::dialplan::Dialplan;

/// Longest substituted text (Asterisk's application data buffer is 8192 bytes).
pub const MAX_SUBSTITUTED: usize = 8192;
/// Deepest nesting of `${...}` / `$[...]` followed.
pub const MAX_NESTING: usize = 32;

impl Execution {
    /// Substitutes `${...}` and `$[...]` in `text` for this channel.
    pub fn substitute(
        &self,
        dialplan: &Dialplan,
        data: &mut dyn ChannelData,
        text: &str,
    ) -> String {
        let mut scope = Scope {
            exec: self,
            dialplan,
            data,
        };
        scope.substitute(text, 0)
    }

    /// Writes function `name(args)` = `value`, as `Set(NAME(args)=value)`.
    pub(super) fn write_function(&mut self, data: &mut dyn ChannelData, call: &str, value: &str) {
        let (name, args) = split_call(call);
        let upper = name.trim().to_ascii_uppercase();
        if upper == "CALLERID" {
            self.write_callerid(args, value);
            return;
        }
        match data.write_function(&upper, args, value) {
            Some(Ok(())) => {}
            Some(Err(e)) => warn!("{upper}({args}): {e}"),
            None => warn!("Function {} not registered", name.trim()),
        }
    }

    fn write_callerid(&mut self, what: &str, value: &str) {
        match callerid_field(what) {
            Some(Field::Pres) => match value.trim().to_ascii_lowercase().parse() {
                Ok(p) => self.caller.presentation = p,
                Err(_) => warn!("Unknown calling number presentation '{value}', value unchanged"),
            },
            Some(Field::Num) => self.caller.number = value.to_string(),
            Some(Field::Name) => self.caller.name = value.to_string(),
            Some(Field::All) => {
                let (name, number) = parse_callerid(value);
                self.caller.name = name;
                self.caller.number = number;
            }
            None => warn!("Unknown callerid data type '{what}'."),
        }
    }
}

struct Scope<'a> {
    exec: &'a Execution,
    dialplan: &'a Dialplan,
    data: &'a mut dyn ChannelData,
}

impl Scope<'_> {
    fn substitute(&mut self, text: &str, depth: usize) -> String {
        if depth > MAX_NESTING {
            warn!("Variable substitution nested more than {MAX_NESTING} levels; left as is");
            return text.to_string();
        }
        let mut out = String::new();
        let mut rest = text;
        while !rest.is_empty() && out.len() < MAX_SUBSTITUTED {
            let Some(start) = find_open(rest) else {
                out.push_str(rest);
                break;
            };
            out.push_str(&rest[..start]);
            let is_var = rest.as_bytes().get(start + 1) == Some(&b'{');
            let (open, close) = if is_var { (b'{', b'}') } else { (b'[', b']') };
            let body_start = start + 2;
            let (inner, needs_sub, next) = scan(&rest[body_start..], open, close);
            if next.is_none() {
                warn!("Error in extension logic (missing '{}')", char::from(close));
            }
            let inner = if needs_sub {
                self.substitute(inner, depth + 1)
            } else {
                inner.to_string()
            };
            if is_var {
                out.push_str(&self.variable(&inner));
            } else {
                out.push_str(&expr::evaluate(&inner));
            }
            rest = match next {
                Some(n) => &rest[body_start + n..],
                None => "",
            };
        }
        truncate(&mut out, MAX_SUBSTITUTED);
        out
    }

    /// The value of a `${...}` body (already substituted).
    fn variable(&mut self, body: &str) -> String {
        let (name, range) = split_offset(body);
        let value = if name.contains('(') {
            self.read_function(name)
        } else {
            self.lookup(name).unwrap_or_default()
        };
        match range {
            Some((offset, length)) => substring(&value, offset, length),
            None => value,
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        let e = self.exec;
        let builtin = match name {
            "EXTEN" => Some(e.exten.clone()),
            "CONTEXT" => Some(e.context.clone()),
            "PRIORITY" => Some(e.priority.to_string()),
            "CHANNEL" => Some(self.data.name().to_string()),
            "UNIQUEID" => Some(self.data.unique_id().to_string()),
            "HANGUPCAUSE" => Some(e.hangup_cause.map_or(0, |c| c.code()).to_string()),
            _ => None,
        };
        builtin
            .or_else(|| e.var(name).map(str::to_string))
            .or_else(|| self.dialplan.globals().get(name).cloned())
    }

    fn read_function(&mut self, call: &str) -> String {
        let (name, args) = split_call(call);
        let name = name.trim();
        let upper = name.to_ascii_uppercase();
        match upper.as_str() {
            "LEN" => args.chars().count().to_string(),
            "ISNULL" => flag(args.is_empty()),
            "EXISTS" => flag(!args.is_empty()),
            "IF" => func_if(args),
            "CALLERID" => self.read_callerid(args),
            "DIALPLAN_EXISTS" => self.dialplan_exists(args),
            _ => match self.data.read_function(&upper, args) {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    warn!("{upper}({args}): {e}");
                    String::new()
                }
                None => {
                    warn!("Function {name} not registered");
                    String::new()
                }
            },
        }
    }

    fn read_callerid(&self, what: &str) -> String {
        let c = &self.exec.caller;
        match callerid_field(what) {
            Some(Field::Pres) => c.presentation.as_str().to_string(),
            Some(Field::Num) => c.number.clone(),
            Some(Field::Name) => c.name.clone(),
            Some(Field::All) => match (c.name.is_empty(), c.number.is_empty()) {
                (false, false) => format!("\"{}\" <{}>", c.name, c.number),
                (false, true) => c.name.clone(),
                _ => c.number.clone(),
            },
            None => {
                warn!("Unknown callerid data type '{what}'.");
                String::new()
            }
        }
    }

    /// `DIALPLAN_EXISTS(context[,exten[,priority]])`: 1 or 0; the priority may be a label.
    fn dialplan_exists(&self, args: &str) -> String {
        let mut parts = args.splitn(3, ',').map(str::trim);
        let context = parts.next().unwrap_or_default();
        let exten = parts.next().filter(|s| !s.is_empty());
        let priority = parts.next().filter(|s| !s.is_empty()).unwrap_or("1");
        let Some(exten) = exten else {
            return flag(self.dialplan.context(context).is_some());
        };
        let found = match priority.parse::<u32>() {
            Ok(n) => self.exec.exists(self.dialplan, context, exten, n),
            Err(_) => self
                .dialplan
                .lookup(context, exten, self.exec.caller_id())
                .is_some_and(|f| f.extension.label(priority).is_some()),
        };
        flag(found)
    }
}

fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

/// Asterisk's `IF(cond?true[:false])`; quotes around the parts are removed.
fn func_if(args: &str) -> String {
    let Some((cond, branches)) = args.split_once('?') else {
        warn!(
            "Syntax IF(<expr>?[<true>][:<false>])  (expr must be non-null, and either <true> or <false> must be non-null)"
        );
        return String::new();
    };
    let (yes, no) = branches.split_once(':').unwrap_or((branches, ""));
    let pick = if check_condition(strip_quoted(cond.trim())) {
        yes
    } else {
        no
    };
    strip_quoted(pick.trim()).to_string()
}

fn strip_quoted(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// Asterisk's `pbx_checkcondition`: empty is false, a leading integer is its truth, any
/// other text is true.
pub fn check_condition(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    match leading_int(text) {
        Some(n) => n != 0,
        None => true,
    }
}

/// `sscanf("%d")`: optional blanks and sign, then digits; `None` without a digit.
fn leading_int(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let n = digits[..end].parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg { -n } else { n })
}

enum Field {
    Num,
    Name,
    All,
    /// `pres`, `num-pres`, `name-pres`: one presentation for both here.
    Pres,
}

/// CALLERID's data types, matched by prefix as func_callerid does.
fn callerid_field(what: &str) -> Option<Field> {
    let w = what.trim().to_ascii_lowercase();
    if w == "pres" || w.ends_with("-pres") {
        Some(Field::Pres)
    } else if w.starts_with("all") {
        Some(Field::All)
    } else if w.starts_with("name") {
        Some(Field::Name)
    } else if w.starts_with("num") {
        Some(Field::Num)
    } else {
        None
    }
}

/// Splits `"Name" <number>` (or a bare number, or a bare name) into (name, number).
pub fn parse_callerid(value: &str) -> (String, String) {
    let v = value.trim();
    if let (Some(lt), Some(gt)) = (v.find('<'), v.rfind('>'))
        && lt < gt
    {
        let name = strip_quoted(v[..lt].trim()).to_string();
        return (name, v[lt + 1..gt].trim().to_string());
    }
    let phone = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_digit() || "+*#-() .".contains(c));
    if phone {
        (String::new(), v.to_string())
    } else {
        (strip_quoted(v).to_string(), String::new())
    }
}

/// `NAME(args)`: the name before the first `(`, the arguments up to the last `)`.
pub(super) fn split_call(call: &str) -> (&str, &str) {
    let Some((name, rest)) = call.split_once('(') else {
        return (call, "");
    };
    match rest.rfind(')') {
        Some(end) => (name, &rest[..end]),
        None => {
            warn!("Can't find trailing parenthesis for function '{name}(' ?");
            (name, rest)
        }
    }
}

/// The position of the next `${` or `$[`.
fn find_open(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(1)).find(|&i| b[i] == b'$' && matches!(b[i + 1], b'{' | b'['))
}

/// Scans a `${`/`$[` body: returns it, whether it holds nested `${`/`$[`, and the offset
/// just past the closing bracket (`None` when it is missing: the body runs to the end).
fn scan(text: &str, open: u8, close: u8) -> (&str, bool, Option<usize>) {
    let b = text.as_bytes();
    let mut depth = 1usize;
    let mut needs_sub = false;
    for (i, &c) in b.iter().enumerate() {
        if c == b'$' && matches!(b.get(i + 1), Some(b'{' | b'[')) {
            needs_sub = true;
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return (&text[..i], needs_sub, Some(i + 1));
            }
        }
    }
    (text, needs_sub, None)
}

/// Splits `NAME:offset[:length]` at the first `:` outside parentheses.
fn split_offset(body: &str) -> (&str, Option<(i64, i64)>) {
    let mut depth = 0i32;
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth == 0 => {
                let spec = &body[i + 1..];
                // sscanf("%d:%d"): a missing offset stops there (offset 0, whole length).
                let Some(offset) = leading_int(spec) else {
                    return (&body[..i], Some((0, i64::MAX)));
                };
                let after = spec.trim_start();
                let after = after
                    .trim_start_matches(['-', '+'])
                    .trim_start_matches(|c: char| c.is_ascii_digit());
                let length = after
                    .strip_prefix(':')
                    .and_then(leading_int)
                    .unwrap_or(i64::MAX);
                return (&body[..i], Some((offset, length)));
            }
            _ => {}
        }
    }
    (body, None)
}

/// Asterisk's `substring()`, on characters.
pub fn substring(value: &str, offset: i64, length: i64) -> String {
    let chars: Vec<char> = value.chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let mut start = offset;
    if start < 0 {
        start = (len + start).max(0);
    }
    if start >= len {
        return String::new();
    }
    let avail = len - start;
    let take = if length >= 0 {
        length.min(avail)
    } else {
        (avail + length).max(0)
    };
    let (s, t) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(take).unwrap_or(0),
    );
    chars.iter().skip(s).take(t).collect()
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        warn!("Substituted text longer than {max} bytes; cut");
        s.truncate(cut);
    }
}
