//! The dialplan: Asterisk's `extensions.conf` read into contexts of extensions (sans-IO
//! apart from reading files through a [`ConfigFs`]).
//!
//! Reading follows Asterisk's `pbx_config.c`; looking up follows `pbx_find_extension` in
//! `main/pbx.c` with its default ("classic") matcher:
//! - Every section but `[general]` and `[globals]` (any case) is a context; templates
//!   (`[name](!)`) are not, but their lines are inherited as usual. Two sections of the same
//!   name are one context. `[globals]` is kept as a map (not substituted yet).
//! - `exten => ext[/callerid],priority[(label)],App(args)` and `same => priority,...` (the
//!   extension of the last `exten` line of the section). A priority is a number, `n`/`next`
//!   (the previous line's priority + 1, in the section, as Asterisk counts: even across
//!   extensions), `s`/`same` (the previous line's), `hint`, or a label of the same
//!   extension, each optionally `+N`.
//! - `include => context[,timing]`: searched, in order, after the context's own extensions.
//!   The timing is kept but not evaluated (no clock here): a timed include always applies.
//! - `ignorepat`, `switch`, `lswitch`, `eswitch` are accepted and ignored (a notice).
//! - A line that does not make sense yields a [`Diagnostic`] naming its file:line and is
//!   skipped; everything else still loads. Sections the file reader marked invalid are
//!   loaded too (the reader already reported and dropped their bad lines).
//!
//! Lookup (see [`Dialplan::lookup`]): in a context, extensions are tried in Asterisk's order
//! (see [`pattern`]): literal names first, then patterns from the most to the least
//! specific. The first that matches and has the wanted priority (1 for a call, or the hint)
//! wins; one that matches but lacks it is passed over. Then the includes are searched, in
//! order, recursively, each context at most once per lookup, at most [`MAX_INCLUDE_STACK`]
//! of them (Asterisk's `AST_PBX_MAX_STACK`).
//!
//! Extensions restricted to a caller id (`exten => 100/5551234,...`) are tried before the
//! unrestricted extension of the same name when the caller id is known
//! ([`CallerId::Number`]), exactly as in Asterisk. Lookups without a caller id
//! ([`CallerId::Ignore`], used by [`Dialplan::find`] and [`Dialplan::exists`]) treat such an
//! extension as existing, preferring the unrestricted one of the same name when there is one.
//! (Asterisk itself, asked with no caller id, skips restricted extensions: that is
//! [`CallerId::Number`] with an empty number.)

pub mod exec;
mod load;
pub mod pattern;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use foldhash::HashMap;

use crate::config::diagnostic::Diagnostic;
use crate::config::ini::{ConfigFs, Document, read_file, read_str};
use crate::config::source::Location;

pub use pattern::{Pattern, PatternError};

/// Most contexts one lookup searches through includes (Asterisk's `AST_PBX_MAX_STACK`).
pub const MAX_INCLUDE_STACK: usize = 128;

/// One numbered step of an extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The priority number, 1 or more.
    pub number: u32,
    /// `(label)` after the priority, if any.
    pub label: Option<String>,
    /// The application name, as written (`Dial`).
    pub app: String,
    /// The application arguments as written between the parentheses, unexpanded.
    pub args: String,
    /// Where the line is.
    pub location: Location,
}

/// An extension's `hint` line: the devices whose state it reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// Everything after `hint,` as written (`PJSIP/6001&PJSIP/6002`).
    pub value: String,
    /// Where the line is.
    pub location: Location,
}

/// One extension (or pattern) of a context, with its priorities.
#[derive(Clone, Debug)]
pub struct Extension {
    name: String,
    pattern: Pattern,
    caller_id: Option<String>,
    caller_pattern: Option<Pattern>,
    priorities: Vec<Priority>,
    hint: Option<Hint>,
    location: Location,
}

impl Extension {
    /// The name as first written (`6001`, `_600X`), without the caller-id part.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The compiled name.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// True for a `_` pattern.
    pub fn is_pattern(&self) -> bool {
        self.pattern.is_pattern()
    }

    /// The caller-id restriction of `exten => 100/5551234` (after Asterisk's clean-up:
    /// `(`, `)`, spaces and `-` removed), if any.
    pub fn caller_id(&self) -> Option<&str> {
        self.caller_id.as_deref()
    }

    /// The priorities, in number order.
    pub fn priorities(&self) -> &[Priority] {
        &self.priorities
    }

    /// Priority `number`, if defined.
    pub fn priority(&self, number: u32) -> Option<&Priority> {
        self.priorities
            .binary_search_by_key(&number, |p| p.number)
            .ok()
            .and_then(|i| self.priorities.get(i))
    }

    /// The priority carrying `label` (the first one, if several do).
    pub fn label(&self, label: &str) -> Option<&Priority> {
        self.priorities
            .iter()
            .find(|p| p.label.as_deref() == Some(label))
    }

    /// The `hint` line, if any.
    pub fn hint(&self) -> Option<&Hint> {
        self.hint.as_ref()
    }

    /// Where the extension was first written.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Whether a call with this caller id may use the extension.
    fn allows(&self, caller: CallerId<'_>) -> bool {
        match (caller, &self.caller_pattern) {
            (_, None) | (CallerId::Ignore, Some(_)) => true,
            // Asterisk's matchcid(): no caller id matches only an empty restriction.
            (CallerId::Number(""), Some(_)) => self.caller_id.as_deref() == Some(""),
            (CallerId::Number(n), Some(p)) => p.matches(n),
        }
    }

    fn has(&self, want: Want) -> bool {
        match want {
            Want::Priority(n) => self.priority(n).is_some(),
            Want::Hint => self.hint.is_some(),
        }
    }
}

/// An `include => context` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    /// The included context's name.
    pub context: String,
    /// The time restriction after the first `,` (or `|`), as written; not evaluated.
    pub timing: Option<String>,
    /// Where the line is.
    pub location: Location,
}

/// One `[context]`: its extensions in match order, and its includes.
#[derive(Clone, Debug)]
pub struct Context {
    name: String,
    location: Location,
    /// In Asterisk's match order: literal names, then patterns; restricted to a caller id
    /// before unrestricted within one name.
    extensions: Vec<Extension>,
    includes: Vec<Include>,
    /// Literal name (normalised) -> index of its first extension.
    literals: HashMap<Box<[u8]>, usize>,
    /// Index of the first pattern in `extensions`.
    first_pattern: usize,
}

impl Context {
    /// The context name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its first section header is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The extensions, in the order a lookup tries them.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The includes, in file order.
    pub fn includes(&self) -> &[Include] {
        &self.includes
    }

    /// The extension of this context alone (no includes) that `exten` would use.
    fn find_here(&self, exten: &str, caller: CallerId<'_>, want: Want) -> Option<&Extension> {
        let normalized: Vec<u8> = exten.bytes().filter(|&b| b != b'-').collect();
        if let Some(&start) = self.literals.get(normalized.as_slice()) {
            let end = self.group_end(start);
            if let Some(e) = pick(self.extensions.get(start..end)?, caller, want) {
                return Some(e);
            }
        }
        let mut i = self.first_pattern;
        while i < self.extensions.len() {
            let end = self.group_end(i);
            if self.extensions[i].pattern.matches(exten)
                && let Some(e) = pick(self.extensions.get(i..end)?, caller, want)
            {
                return Some(e);
            }
            i = end;
        }
        None
    }

    /// The end of the run of extensions with the same name as the one at `start`.
    fn group_end(&self, start: usize) -> usize {
        let Some(first) = self.extensions.get(start) else {
            return start;
        };
        self.extensions[start..]
            .iter()
            .position(|e| e.pattern != first.pattern)
            .map_or(self.extensions.len(), |n| start + n)
    }
}

/// Of extensions sharing one name (restricted ones first), the one a lookup uses.
fn pick<'a>(group: &'a [Extension], caller: CallerId<'_>, want: Want) -> Option<&'a Extension> {
    let usable = |e: &&Extension| e.has(want) && e.allows(caller);
    match caller {
        CallerId::Number(_) => group.iter().find(usable),
        CallerId::Ignore => group
            .iter()
            .rev()
            .find(|e| e.caller_id.is_none())
            .filter(usable)
            .or_else(|| group.iter().find(usable)),
    }
}

/// What a lookup wants the extension to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Priority(u32),
    Hint,
}

/// The caller id a lookup is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerId<'a> {
    /// Not considered: extensions restricted to a caller id count too, after an unrestricted
    /// extension of the same name.
    Ignore,
    /// The caller's number, as Asterisk matches it: a restricted extension is used only when
    /// its caller-id pattern matches. An empty number is "no caller id", which only an
    /// empty restriction (`exten => 100/,...`) accepts.
    Number(&'a str),
}

/// Where a lookup ended.
#[derive(Clone, Copy, Debug)]
pub struct Found<'a> {
    /// The context the extension is in (the one asked, or one it includes).
    pub context: &'a Context,
    /// The extension.
    pub extension: &'a Extension,
}

/// The whole dialplan.
#[derive(Clone, Debug, Default)]
pub struct Dialplan {
    /// Contexts in order of first appearance.
    contexts: Vec<Context>,
    by_name: HashMap<String, usize>,
    globals: BTreeMap<String, String>,
}

/// A dialplan and the problems found reading it.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// What could be loaded.
    pub dialplan: Dialplan,
    /// Problems, file reader's first; errors mark lines that were skipped.
    pub diagnostics: Vec<Diagnostic>,
}

impl Dialplan {
    /// Reads `path` (usually `extensions.conf`) and its `#include`s. An unreadable file, a
    /// missing `#include` or an include loop is an `Err`; anything else is a diagnostic.
    pub fn load(fs: &dyn ConfigFs, path: &Path) -> Result<Loaded, Box<Diagnostic>> {
        let read = read_file(fs, path)?;
        Ok(Self::with_reader_diagnostics(
            &read.document,
            read.diagnostics,
        ))
    }

    /// As [`Dialplan::load`], on text held in memory as if it were the file `name`.
    pub fn load_str(fs: &dyn ConfigFs, name: &Path, text: &str) -> Result<Loaded, Box<Diagnostic>> {
        let read = read_str(fs, name, text)?;
        Ok(Self::with_reader_diagnostics(
            &read.document,
            read.diagnostics,
        ))
    }

    /// Builds the dialplan from an already read document.
    pub fn from_document(document: &Document) -> Loaded {
        load::build(document)
    }

    fn with_reader_diagnostics(document: &Document, mut diagnostics: Vec<Diagnostic>) -> Loaded {
        let mut loaded = load::build(document);
        diagnostics.append(&mut loaded.diagnostics);
        loaded.diagnostics = diagnostics;
        loaded
    }

    /// The contexts, in order of first appearance.
    pub fn contexts(&self) -> impl ExactSizeIterator<Item = &Context> {
        self.contexts.iter()
    }

    /// The context called `name` (case-sensitive, as in Asterisk).
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.by_name.get(name).and_then(|&i| self.contexts.get(i))
    }

    /// The `[globals]` variables (later lines override earlier ones).
    pub fn globals(&self) -> &BTreeMap<String, String> {
        &self.globals
    }

    /// The extension a call to `exten` in `context` starts in (its priority 1), searching
    /// includes, with the caller id as given.
    pub fn lookup(&self, context: &str, exten: &str, caller: CallerId<'_>) -> Option<Found<'_>> {
        self.search(context, exten, caller, Want::Priority(1))
    }

    /// The extension that runs priority `priority` of `exten` in `context` (Asterisk looks
    /// it up afresh at each step: the first matching extension that has that priority).
    pub fn lookup_priority(
        &self,
        context: &str,
        exten: &str,
        priority: u32,
        caller: CallerId<'_>,
    ) -> Option<Found<'_>> {
        self.search(context, exten, caller, Want::Priority(priority))
    }

    /// The extension a call to `exten` in `context` starts in, caller id not considered.
    pub fn find(&self, context: &str, exten: &str) -> Option<&Extension> {
        self.lookup(context, exten, CallerId::Ignore)
            .map(|f| f.extension)
    }

    /// Whether `exten` exists in `context` (has a priority 1 there or in an include): what an
    /// out-of-dialog OPTIONS checks.
    pub fn exists(&self, context: &str, exten: &str) -> bool {
        self.find(context, exten).is_some()
    }

    /// The hint for `exten` in `context`, searched like a call (caller id not considered).
    pub fn hint(&self, context: &str, exten: &str) -> Option<&Hint> {
        self.search(context, exten, CallerId::Ignore, Want::Hint)
            .and_then(|f| f.extension.hint())
    }

    fn search(
        &self,
        context: &str,
        exten: &str,
        caller: CallerId<'_>,
        want: Want,
    ) -> Option<Found<'_>> {
        let mut visited = Vec::new();
        self.search_in(context, exten, caller, want, &mut visited)
    }

    fn search_in<'a>(
        &'a self,
        context: &str,
        exten: &str,
        caller: CallerId<'_>,
        want: Want,
        visited: &mut Vec<&'a str>,
    ) -> Option<Found<'a>> {
        // Asterisk compares the include stack case-insensitively.
        if visited.len() >= MAX_INCLUDE_STACK
            || visited.iter().any(|v| v.eq_ignore_ascii_case(context))
        {
            return None;
        }
        let ctx = self.context(context)?;
        if let Some(extension) = ctx.find_here(exten, caller, want) {
            return Some(Found {
                context: ctx,
                extension,
            });
        }
        visited.push(&ctx.name);
        ctx.includes
            .iter()
            .find_map(|inc| self.search_in(&inc.context, exten, caller, want, visited))
    }
}
