//! Turning the sections of `extensions.conf` into a [`Dialplan`] (Asterisk's
//! `pbx_load_config`), one diagnostic per line that cannot be used.

use std::collections::BTreeMap;

use foldhash::HashMap;

use super::pattern::{Pattern, shrink_caller_id};
use super::{Context, Dialplan, Extension, Hint, Include, Loaded, Priority};
use crate::config::diagnostic::Diagnostic;
use crate::config::ini::{Document, Section, Variable};
use crate::config::source::Location;

/// Builds the dialplan from a read document.
pub(super) fn build(document: &Document) -> Loaded {
    let mut b = Builder::default();
    for section in document.sections.iter().filter(|s| !s.is_template) {
        if section.name.eq_ignore_ascii_case("general") {
            continue;
        }
        if section.name.eq_ignore_ascii_case("globals") {
            for v in &section.variables {
                b.globals.insert(v.name.clone(), v.value.clone());
            }
            continue;
        }
        b.section(section);
    }
    b.finish()
}

/// The extension an `exten` line named, for the `same` lines after it.
#[derive(Clone, Debug)]
enum Last {
    /// No `exten` line yet in this section.
    None,
    /// The `exten` line at this location had an unusable extension name.
    Broken(Location),
    /// A usable extension.
    Ext(ExtName),
}

/// A parsed `ext[/callerid]`.
#[derive(Clone, Debug)]
struct ExtName {
    name: String,
    pattern: Pattern,
    caller_id: Option<String>,
    caller_pattern: Option<Pattern>,
}

/// A context being filled.
struct ContextBuilder {
    name: String,
    location: Location,
    extensions: Vec<Extension>,
    /// (name, caller-id restriction) -> index in `extensions`.
    index: HashMap<(Pattern, Option<Pattern>), usize>,
    includes: Vec<Include>,
}

#[derive(Default)]
struct Builder {
    contexts: Vec<ContextBuilder>,
    by_name: HashMap<String, usize>,
    globals: BTreeMap<String, String>,
    diagnostics: Vec<Diagnostic>,
}

/// What a priority field resolved to.
enum Resolved {
    Number(u32),
    Hint,
}

impl Builder {
    fn error(&mut self, ctx: usize, loc: &Location, message: String) {
        let d = Diagnostic::error(Some(loc.clone()), message);
        self.push(ctx, d);
    }

    fn warning(&mut self, ctx: usize, loc: &Location, message: String) {
        let d = Diagnostic::warning(Some(loc.clone()), message);
        self.push(ctx, d);
    }

    fn push(&mut self, ctx: usize, d: Diagnostic) {
        let d = match self.contexts.get(ctx) {
            Some(c) => d.with_object("context", &c.name),
            None => d,
        };
        self.diagnostics.push(d);
    }

    fn section(&mut self, section: &Section) {
        let ctx = match self.by_name.get(&section.name) {
            Some(&i) => i,
            None => {
                let i = self.contexts.len();
                self.by_name.insert(section.name.clone(), i);
                self.contexts.push(ContextBuilder {
                    name: section.name.clone(),
                    location: section.location.clone(),
                    extensions: Vec::new(),
                    index: HashMap::default(),
                    includes: Vec::new(),
                });
                i
            }
        };
        // Asterisk resets these at each section, even one continuing a context.
        let mut last = Last::None;
        let mut last_pri: Option<i64> = None;
        for v in &section.variables {
            let name = v.name.as_str();
            if name.eq_ignore_ascii_case("exten") {
                let (head, rest, unclosed) = split_exten(&v.value);
                if unclosed {
                    let shown = v.value.split(',').next().unwrap_or_default().trim();
                    self.error(
                        ctx,
                        &v.location,
                        format!("extension '{shown}': '[' is never closed with ']'; line ignored"),
                    );
                    last = Last::Broken(v.location.clone());
                    continue;
                }
                match self.ext_name(ctx, head.trim(), &v.location) {
                    Some(ext) => {
                        last = Last::Ext(ext.clone());
                        self.priority_line(ctx, &ext, rest, v, &mut last_pri);
                    }
                    None => last = Last::Broken(v.location.clone()),
                }
            } else if name.eq_ignore_ascii_case("same") {
                match &last {
                    Last::None => self.error(
                        ctx,
                        &v.location,
                        "'same' before any 'exten' line in this section: there is no \
                         extension to continue; line ignored"
                            .to_string(),
                    ),
                    Last::Broken(at) => {
                        let at = at.clone();
                        self.error(
                            ctx,
                            &v.location,
                            format!("line ignored: it continues the extension at {at}, which has an error"),
                        );
                    }
                    Last::Ext(ext) => {
                        let ext = ext.clone();
                        self.priority_line(ctx, &ext, Some(&v.value), v, &mut last_pri);
                    }
                }
            } else if name.eq_ignore_ascii_case("include") {
                self.include(ctx, v);
            } else if ["ignorepat", "switch", "lswitch", "eswitch"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k))
            {
                let d = Diagnostic::notice(
                    Some(v.location.clone()),
                    format!("'{name}' is not supported yet; line ignored"),
                );
                self.push(ctx, d);
            } else {
                self.warning(
                    ctx,
                    &v.location,
                    format!(
                        "unknown directive '{name}' (expected exten, same or include); line ignored"
                    ),
                );
            }
        }
    }

    /// Parses `ext[/callerid]`, reporting why it cannot be used.
    fn ext_name(&mut self, ctx: usize, text: &str, loc: &Location) -> Option<ExtName> {
        let (name, cid) = match text.split_once('/') {
            Some((n, c)) => (n.trim(), Some(shrink_caller_id(c))),
            None => (text, None),
        };
        if name.is_empty() {
            self.error(
                ctx,
                loc,
                "no extension name before the priority; line ignored".to_string(),
            );
            return None;
        }
        let (pattern, warnings) = match Pattern::parse_with_warnings(name) {
            Ok(p) => p,
            Err(e) => {
                self.error(ctx, loc, format!("{e}; line ignored"));
                return None;
            }
        };
        for w in warnings {
            self.warning(ctx, loc, w);
        }
        if name.contains("${") || name.contains("$[") {
            self.warning(
                ctx,
                loc,
                format!("extension '{name}': variables in extension names are not substituted"),
            );
        }
        let caller_pattern = match &cid {
            None => None,
            Some(c) => match Pattern::parse_with_warnings(c) {
                Ok((p, warnings)) => {
                    for w in warnings {
                        self.warning(ctx, loc, format!("caller id: {w}"));
                    }
                    Some(p)
                }
                Err(e) => {
                    self.error(ctx, loc, format!("caller id: {e}; line ignored"));
                    return None;
                }
            },
        };
        Some(ExtName {
            name: name.to_string(),
            pattern,
            caller_id: cid,
            caller_pattern,
        })
    }

    /// Handles `priority[(label)][,App(args)]` for `ext`. `rest` is `None` when the line
    /// had nothing after the extension.
    fn priority_line(
        &mut self,
        ctx: usize,
        ext: &ExtName,
        rest: Option<&str>,
        v: &Variable,
        last_pri: &mut Option<i64>,
    ) {
        let loc = &v.location;
        let (pri_text, app_text) = match rest {
            Some(r) => r.split_once(',').unwrap_or((r, "")),
            None => ("", ""),
        };
        let mut pri_text = pri_text.trim();
        if pri_text.is_empty() {
            self.error(
                ctx,
                loc,
                format!("extension '{}': no priority; line ignored", ext.name),
            );
            return;
        }
        let mut label = None;
        if let Some((before, after)) = pri_text.split_once('(') {
            let Some((l, _)) = after.split_once(')') else {
                self.error(
                    ctx,
                    loc,
                    format!("label '{after}' is missing its closing ')'; line ignored"),
                );
                return;
            };
            let l = l.trim();
            if !l.is_empty() {
                label = Some(l.to_string());
            }
            pri_text = before.trim();
        }
        let Some(resolved) = self.resolve_priority(ctx, ext, pri_text, *last_pri, loc) else {
            return;
        };
        let number = match resolved {
            Resolved::Hint => {
                *last_pri = Some(-1);
                self.add_hint(ctx, ext, app_text.trim(), loc);
                return;
            }
            Resolved::Number(n) => n,
        };
        *last_pri = Some(i64::from(number));
        if ext.pattern.is_pattern() && matches!(ext.name.as_str(), "_." | "_!") {
            let rest = &ext.name[1..];
            self.warning(
                ctx,
                loc,
                format!(
                    "the use of '{}' for an extension is strongly discouraged and can have \
                     unexpected behavior; use '_X{rest}' instead",
                    ext.name
                ),
            );
        }
        let (app, args) = match split_app(app_text) {
            Ok(parts) => parts,
            Err((app, args)) => {
                self.warning(
                    ctx,
                    loc,
                    format!("no closing parenthesis in '{app}({args}': arguments taken to the end of the line"),
                );
                (app, args)
            }
        };
        if app.is_empty() {
            self.warning(
                ctx,
                loc,
                format!("extension '{}' priority {number}: no application", ext.name),
            );
        }
        let priority = Priority {
            number,
            label,
            app,
            args,
            location: loc.clone(),
        };
        self.add_priority(ctx, ext, priority);
    }

    /// The number a priority field stands for (Asterisk's rules), or `None` after reporting
    /// why it has none.
    fn resolve_priority(
        &mut self,
        ctx: usize,
        ext: &ExtName,
        text: &str,
        last_pri: Option<i64>,
        loc: &Location,
    ) -> Option<Resolved> {
        let (base, offset) = match text.split_once('+') {
            Some((b, o)) => match o.trim().parse::<u32>() {
                Ok(o) => (b.trim(), i64::from(o)),
                Err(_) => {
                    self.error(
                        ctx,
                        loc,
                        format!("priority '{text}': '+{o}' is not a number; line ignored"),
                    );
                    return None;
                }
            },
            None => (text, 0),
        };
        let relative = |what: &str, step: i64| -> Result<i64, String> {
            match last_pri {
                None => Err(format!(
                    "priority '{what}' on the first line of the section: there is no previous \
                     priority to follow; line ignored"
                )),
                Some(-1) => Err(format!(
                    "priority '{what}' right after a 'hint' line: there is no previous \
                     priority to follow; line ignored"
                )),
                Some(p) => Ok(p + step),
            }
        };
        let number = match base {
            "hint" if offset == 0 => return Some(Resolved::Hint),
            "hint" => Err(format!(
                "priority '{text}': a hint has no number; line ignored"
            )),
            "n" | "next" => relative(base, 1),
            "s" | "same" => relative(base, 0),
            _ => match base.parse::<i64>() {
                Ok(n) => Ok(n),
                Err(_) => self
                    .label_priority(ctx, ext, base)
                    .map(i64::from)
                    .ok_or_else(|| {
                        format!(
                            "priority '{base}' is not a number, 'n', 's', 'hint' or a label of \
                             extension '{}' defined above; line ignored",
                            ext.name
                        )
                    }),
            },
        };
        let number = match number {
            Ok(n) => n.saturating_add(offset),
            Err(message) => {
                self.error(ctx, loc, message);
                return None;
            }
        };
        match u32::try_from(number) {
            Ok(n) if n >= 1 && i32::try_from(n).is_ok() => Some(Resolved::Number(n)),
            _ => {
                self.error(
                    ctx,
                    loc,
                    format!(
                        "priority {number} is out of range (1 to {}); line ignored",
                        i32::MAX
                    ),
                );
                None
            }
        }
    }

    /// The priority number of `label` in the extension `ext` built so far.
    fn label_priority(&self, ctx: usize, ext: &ExtName, label: &str) -> Option<u32> {
        let c = self.contexts.get(ctx)?;
        let key = (ext.pattern.clone(), ext.caller_pattern.clone());
        let e = c.extensions.get(*c.index.get(&key)?)?;
        e.label(label).map(|p| p.number)
    }

    /// The index of `ext` in context `ctx`, created if new.
    fn extension(&mut self, ctx: usize, ext: &ExtName, loc: &Location) -> Option<usize> {
        let c = self.contexts.get_mut(ctx)?;
        let key = (ext.pattern.clone(), ext.caller_pattern.clone());
        if let Some(&i) = c.index.get(&key) {
            return Some(i);
        }
        let i = c.extensions.len();
        c.extensions.push(Extension {
            name: ext.name.clone(),
            pattern: ext.pattern.clone(),
            caller_id: ext.caller_id.clone(),
            caller_pattern: ext.caller_pattern.clone(),
            priorities: Vec::new(),
            hint: None,
            location: loc.clone(),
        });
        c.index.insert(key, i);
        Some(i)
    }

    fn add_hint(&mut self, ctx: usize, ext: &ExtName, value: &str, loc: &Location) {
        let Some(i) = self.extension(ctx, ext, loc) else {
            return;
        };
        let Some(e) = self
            .contexts
            .get_mut(ctx)
            .and_then(|c| c.extensions.get_mut(i))
        else {
            return;
        };
        if let Some(h) = &e.hint {
            let message = format!(
                "extension '{}' already has a hint at {}; line ignored",
                ext.name, h.location
            );
            self.error(ctx, loc, message);
            return;
        }
        e.hint = Some(Hint {
            value: value.to_string(),
            location: loc.clone(),
        });
    }

    fn add_priority(&mut self, ctx: usize, ext: &ExtName, priority: Priority) {
        let loc = priority.location.clone();
        let Some(i) = self.extension(ctx, ext, &loc) else {
            return;
        };
        let Some(e) = self
            .contexts
            .get_mut(ctx)
            .and_then(|c| c.extensions.get_mut(i))
        else {
            return;
        };
        let at = match e
            .priorities
            .binary_search_by_key(&priority.number, |p| p.number)
        {
            Ok(existing) => {
                let first = e.priorities.get(existing).map(|p| p.location.to_string());
                let message = format!(
                    "extension '{}' priority {} is already defined at {}; line ignored",
                    ext.name,
                    priority.number,
                    first.unwrap_or_default()
                );
                self.error(ctx, &loc, message);
                return;
            }
            Err(at) => at,
        };
        let duplicate_label = priority.label.as_deref().and_then(|l| e.label(l)).map(|p| {
            format!(
                "label '{}' is already used by priority {} at {}; lookups by label find that one",
                p.label.as_deref().unwrap_or_default(),
                p.number,
                p.location
            )
        });
        e.priorities.insert(at, priority);
        if let Some(message) = duplicate_label {
            self.warning(ctx, &loc, message);
        }
    }

    fn include(&mut self, ctx: usize, v: &Variable) {
        let value = v.value.trim();
        let (name, timing) = match value.find([',', '|']) {
            Some(i) => (value[..i].trim(), Some(value[i + 1..].trim().to_string())),
            None => (value, None),
        };
        if name.is_empty() {
            self.error(
                ctx,
                &v.location,
                "'include' names no context; line ignored".to_string(),
            );
            return;
        }
        if name.contains("${") || name.contains("$[") {
            self.warning(
                ctx,
                &v.location,
                format!("include '{name}': variables are not substituted"),
            );
        }
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if let Some(prev) = c
            .includes
            .iter()
            .find(|i| i.context.eq_ignore_ascii_case(name) && i.timing == timing)
        {
            let message = format!(
                "context '{name}' is already included at {}; line ignored",
                prev.location
            );
            self.warning(ctx, &v.location, message);
            return;
        }
        c.includes.push(Include {
            context: name.to_string(),
            timing,
            location: v.location.clone(),
        });
    }

    fn finish(mut self) -> Loaded {
        let mut late = Vec::new();
        for c in &self.contexts {
            for inc in &c.includes {
                if !self.by_name.contains_key(&inc.context) {
                    late.push(
                        Diagnostic::warning(
                            Some(inc.location.clone()),
                            format!("includes context '{}', which does not exist", inc.context),
                        )
                        .with_object("context", &c.name),
                    );
                }
            }
            for e in &c.extensions {
                if !e.priorities.is_empty() && e.priority(1).is_none() {
                    late.push(
                        Diagnostic::warning(
                            Some(e.location.clone()),
                            format!(
                                "extension '{}' has no priority 1, so calls never use it \
                                 (its first priority is {})",
                                e.name,
                                e.priorities.first().map_or(0, |p| p.number)
                            ),
                        )
                        .with_object("context", &c.name),
                    );
                }
            }
        }
        self.diagnostics.append(&mut late);
        let contexts = self.contexts.into_iter().map(finish_context).collect();
        Loaded {
            dialplan: Dialplan {
                contexts,
                by_name: self.by_name,
                globals: self.globals,
            },
            diagnostics: self.diagnostics,
        }
    }
}

/// Sorts a context's extensions into match order and indexes its literal names.
fn finish_context(c: ContextBuilder) -> Context {
    let mut extensions = c.extensions;
    // Stable: equal keys cannot occur (the index merged them).
    extensions.sort_by(|a, b| {
        a.pattern
            .cmp(&b.pattern)
            .then_with(|| match (&a.caller_pattern, &b.caller_pattern) {
                (None, None) => std::cmp::Ordering::Equal,
                // Asterisk tries the caller-id restricted variants first.
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            })
    });
    let mut literals = HashMap::default();
    let mut first_pattern = extensions.len();
    for (i, e) in extensions.iter().enumerate() {
        match e.pattern.literal() {
            Some(l) => {
                literals.entry(Box::<[u8]>::from(l)).or_insert(i);
            }
            None => {
                first_pattern = first_pattern.min(i);
            }
        }
    }
    Context {
        name: c.name,
        location: c.location,
        extensions,
        includes: c.includes,
        literals,
        first_pattern,
    }
}

/// Splits `value` at the first `,` outside `[...]` (Asterisk's `pbx_strsep`: a backslash
/// protects the next character). Returns the extension part, the rest (`None` without a
/// comma), and whether a `[` was left open.
fn split_exten(value: &str) -> (&str, Option<&str>, bool) {
    let bytes = value.as_bytes();
    let mut square = 0u32;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'[' => square += 1,
            b']' => square = square.saturating_sub(1),
            b'\\' => i += 1,
            // ',' is ASCII, so `i` is a char boundary.
            b',' if square == 0 => return (&value[..i], value.get(i + 1..), false),
            _ => {}
        }
        i += 1;
    }
    (value, None, square > 0)
}

/// Splits `App(args)` as Asterisk does: the name before the first `(`, the arguments up to
/// the last `)`. Text whose part before `(` holds `${` or `$[` is all name (a hint written
/// with a function). `Err` when the `)` is missing (arguments then run to the end).
fn split_app(text: &str) -> Result<(String, String), (String, String)> {
    let Some((app, rest)) = text.split_once('(') else {
        return Ok((text.trim().to_string(), String::new()));
    };
    if app.contains("${") || app.contains("$[") {
        return Ok((text.trim().to_string(), String::new()));
    }
    match rest.rfind(')') {
        Some(end) => Ok((app.trim().to_string(), rest[..end].to_string())),
        None => Err((app.trim().to_string(), rest.to_string())),
    }
}
