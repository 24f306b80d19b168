//! `dialplan show [context]`, in the layout of Asterisk's `show_dialplan_helper`:
//! a header per context, one line per priority (`  %-17s %-45s [file:line]`; the hint
//! first, as Asterisk sorts it before priority 1), the includes, a blank line, and the
//! totals. Contexts are listed in file order.

use std::fmt::Write;

use crate::dialplan::{Context, Dialplan, Extension};

/// Who Asterisk says created the contexts read from `extensions.conf`.
const REGISTRAR: &str = "pbx_config";

/// The text of `dialplan show` (all contexts) or `dialplan show <context>`.
pub fn dialplan_show(dialplan: &Dialplan, context: Option<&str>) -> String {
    let mut out = String::new();
    let mut counts = Counts::default();
    match context {
        Some(name) => match dialplan.context(name) {
            Some(c) => show_context(&mut out, c, &mut counts),
            None => return format!("There is no existence of '{name}' context\n"),
        },
        None => {
            for c in dialplan.contexts() {
                show_context(&mut out, c, &mut counts);
            }
        }
    }
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let _ = writeln!(
        out,
        "-= {} {} ({} {}) in {} {}. =-",
        counts.extensions,
        plural(counts.extensions, "extension", "extensions"),
        counts.priorities,
        plural(counts.priorities, "priority", "priorities"),
        counts.contexts,
        plural(counts.contexts, "context", "contexts"),
    );
    out
}

#[derive(Default)]
struct Counts {
    contexts: usize,
    extensions: usize,
    priorities: usize,
}

fn show_context(out: &mut String, c: &Context, counts: &mut Counts) {
    counts.contexts += 1;
    let _ = writeln!(out, "[ Context '{}' created by '{REGISTRAR}' ]", c.name());
    for e in c.extensions() {
        show_extension(out, e, counts);
    }
    for inc in c.includes() {
        let name = match &inc.timing {
            Some(t) => format!("'{},{t}'", inc.context),
            None => format!("'{}'", inc.context),
        };
        let _ = writeln!(out, "  Include =>        {name:<45} [{REGISTRAR}]");
    }
    out.push('\n');
}

fn show_extension(out: &mut String, e: &Extension, counts: &mut Counts) {
    let mut lines: Vec<(Option<&str>, String, String)> = Vec::new();
    if let Some(h) = e.hint() {
        lines.push((None, format!("hint: {}", h.value), where_(&h.location)));
    }
    for p in e.priorities() {
        lines.push((
            p.label.as_deref(),
            format!("{}. {}({})", p.number, p.app, p.args),
            where_(&p.location),
        ));
    }
    if lines.is_empty() {
        return;
    }
    counts.extensions += 1;
    counts.priorities += lines.len();
    for (i, (label, text, at)) in lines.iter().enumerate() {
        let head = if i == 0 {
            match e.caller_id() {
                Some(cid) => format!("'{}' (CID match '{cid}') =>", e.name()),
                None => format!("'{}' =>", e.name()),
            }
        } else {
            label.map(|l| format!("   [{l}]")).unwrap_or_default()
        };
        let _ = writeln!(out, "  {head:<17} {text:<45} [{at}]");
    }
}

fn where_(l: &crate::config::source::Location) -> String {
    format!("{}:{}", l.file_name(), l.line)
}
