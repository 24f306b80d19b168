//! Layout helpers reproducing Asterisk's `pjsip show` listings (res_pjsip_cli.h):
//! a row title right-aligned in `2 × level + 9` columns, then `:  `, then fields whose widths
//! derive from the last tab stop (62); headers put `<Label....>` over each field; a row of
//! 90 `=` separates header and body; `Objects found: N` ends a listing.

use std::fmt::Write as _;

/// Where the last flexible column ends (Asterisk's CLI_LAST_TABSTOP).
pub(super) const LAST_TABSTOP: usize = 62;
/// Total width (Asterisk's CLI_MAX_WIDTH).
pub(super) const MAX_WIDTH: usize = 90;

/// Width of the title column at an indent level (Asterisk's CLI_INDENT_TO_SPACES).
pub(super) fn indent(level: usize) -> usize {
    level * 2 + 1 + 8
}

/// A header field: `<Label....>` exactly `width` characters wide.
pub(super) fn header_field(label: &str, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let mut s = String::with_capacity(width);
    s.push('<');
    s.push_str(&label[..label.len().min(inner)]);
    for _ in label.len().min(inner)..inner {
        s.push('.');
    }
    s.push('>');
    s
}

/// Left-aligns `text` in `width` columns, truncating like printf's `%-W.Ws`.
pub(super) fn left(text: &str, width: usize) -> String {
    let t: String = text.chars().take(width).collect();
    format!("{t:<width$}")
}

/// One line: the title right-aligned for `level`, `:  `, then `body`.
pub(super) fn line(out: &mut String, level: usize, title: &str, body: &str) {
    let w = indent(level);
    let _ = writeln!(out, "{title:>w$}:  {body}");
}

/// The `====` separator after headers.
pub(super) fn separator(out: &mut String) {
    out.push_str(&"=".repeat(MAX_WIDTH));
    out.push('\n');
}

/// `ParameterName : ParameterValue` dump of every option, sorted by name, as Asterisk's
/// `pjsip show <type> <id>` prints after the tree.
pub(super) fn parameters(out: &mut String, params: &[(String, String)]) {
    let width = params
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max("ParameterName".len());
    let _ = writeln!(out, "\n {:<width$} : ParameterValue", "ParameterName");
    let _ = writeln!(out, " {}", "=".repeat(width + 3 + "ParameterValue".len()));
    for (n, v) in params {
        let _ = writeln!(out, " {n:<width$} : {v}");
    }
}

/// `1 day, 2 hours, 3 minutes, 4 seconds` as Asterisk prints uptimes.
pub(super) fn duration_words(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "day"),
        (secs / 3_600 % 24, "hour"),
        (secs / 60 % 60, "minute"),
        (secs % 60, "second"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() {
        "0 seconds".to_string()
    } else {
        words.join(", ")
    }
}
