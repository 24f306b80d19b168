//! Turns the sections of a read `pjsip.conf` into typed objects.
//!
//! Rules, following Asterisk's sorcery config wizard with stricter validation:
//! - a section's type is its last `type=` line; `[global]` and `[system]` may omit it;
//! - `type=wizard` sections expand into the objects Asterisk's wizard makes;
//! - an unknown option or a bad value rejects that object (every problem is reported with
//!   file:line, object, option, reason and a "did you mean" for near misses); the other objects
//!   still load;
//! - the same (type, id) twice: the later one is rejected, naming both places;
//! - references to objects that do not exist are reported as warnings (the object may be
//!   created later at run time);
//! - options that are accepted but not acted on yet are reported once per option.
//!
//! Reloads are incremental: a [`BuildCache`] from the previous build remembers, by a digest of
//! each section's name and lines, which objects that section made. A section whose digest is
//! unchanged is not rebuilt: its objects are reported as [`BuildResult::kept`] and the store
//! keeps the ones it has. Only changed and new sections are parsed into objects again.

mod cache;

use std::borrow::Borrow;
use std::path::Path;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};

pub use cache::BuildCache;
use cache::{CachedSection, Key, SectionDigest};

use super::diagnostic::Diagnostic;
use super::ini::{self, ConfigFs, Document, Section, Variable, did_you_mean};
use super::options::Support;
use super::source::Location;
use super::types::{ApplyOutcome, Kind, Object, Reference, new_object};
use super::wizard;

/// One object built from configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltObject {
    /// Its type.
    pub kind: Kind,
    /// Its id (section name, or a wizard-generated name).
    pub id: String,
    /// Where its section starts.
    pub location: Location,
    /// The wizard that generated it, if any.
    pub wizard: Option<String>,
    /// The object.
    pub object: Object,
}

/// A line to apply to an object, with where it came from.
pub type Line = Variable;

/// The objects of a configuration and the problems found building them.
#[derive(Clone, Debug, Default)]
pub struct BuildResult {
    /// Objects built from new or changed sections (every object, without a cache), in file
    /// order.
    pub objects: Vec<BuiltObject>,
    /// How many objects come from sections unchanged since the cache's build: not rebuilt,
    /// the same as the ones that build made.
    pub unchanged: usize,
    /// Objects the cache's build made that this configuration no longer makes (their
    /// section vanished or changed). Always empty without a cache.
    pub removed: Vec<(Kind, Arc<str>)>,
    /// Every problem found (reader problems included when built through [`load`]). With a
    /// cache, "not yet supported" notices cover the rebuilt sections only.
    pub diagnostics: Vec<Diagnostic>,
    /// Files read.
    pub files: Vec<std::path::PathBuf>,
    /// What the next reload can reuse.
    pub cache: BuildCache,
}

impl BuildResult {
    /// True when any problem is an error.
    pub fn has_errors(&self) -> bool {
        super::diagnostic::has_errors(&self.diagnostics)
    }

    /// Number of objects in the configuration (built and unchanged).
    pub fn object_count(&self) -> usize {
        self.objects.len() + self.unchanged
    }
}

/// Reads `path` (with its includes) and builds its objects. `Err` only when the file as a
/// whole cannot be read (missing, unreadable, missing include, include loop).
pub fn load(fs: &dyn ConfigFs, path: &Path) -> Result<BuildResult, Box<Diagnostic>> {
    load_with_cache(fs, path, None)
}

/// As [`load`], reusing what `cache` says about unchanged sections.
pub fn load_with_cache(
    fs: &dyn ConfigFs,
    path: &Path,
    cache: Option<&BuildCache>,
) -> Result<BuildResult, Box<Diagnostic>> {
    let mut read = ini::read_file(fs, path)?;
    let files = std::mem::take(&mut read.document.files);
    let mut result = build_owned(read.document, cache);
    let mut diagnostics = read.diagnostics;
    diagnostics.append(&mut result.diagnostics);
    result.diagnostics = diagnostics;
    result.files = files;
    Ok(result)
}

/// As [`build_with_cache`], consuming the document: each section is freed as soon as its
/// objects are built, so the text and the objects are never both fully in memory.
pub fn build_owned(doc: Document, cache: Option<&BuildCache>) -> BuildResult {
    let mut b = Builder::new(cache);
    for section in doc.sections {
        if !section.is_template && !section.invalid {
            b.section(&section);
        }
    }
    b.finish()
}

/// Builds objects from a read document.
pub fn build(doc: &Document) -> BuildResult {
    build_with_cache(doc, None)
}

/// Builds objects from a read document, reusing what `cache` says about unchanged sections.
pub fn build_with_cache(doc: &Document, cache: Option<&BuildCache>) -> BuildResult {
    let mut b = Builder::new(cache);
    for section in doc.objects() {
        b.section(section);
    }
    b.finish()
}

/// First place an unsupported option was used, and how often.
struct Unsupported {
    first: Location,
    first_id: String,
    count: usize,
}

struct Builder<'c> {
    cache: Option<&'c BuildCache>,
    /// Digests of the cache's sections found unchanged, with where they are now.
    matched: HashMap<SectionDigest, Location>,
    unchanged: usize,
    /// Single-kind objects (global, system) of unchanged sections.
    kept_singles: Vec<(Kind, Arc<str>, Location)>,
    /// Clean sections built this time, for the next cache.
    new_sections: Vec<(SectionDigest, CachedSection)>,
    objects: Vec<BuiltObject>,
    /// Objects built this time.
    seen: HashMap<Key, Location>,
    /// References made by the objects built this time.
    references: Vec<(Kind, String, Location, Reference)>,
    unsupported: HashMap<(Kind, &'static str), Unsupported>,
    unsupported_order: Vec<(Kind, &'static str)>,
    diagnostics: Vec<Diagnostic>,
}

impl<'c> Builder<'c> {
    fn new(cache: Option<&'c BuildCache>) -> Self {
        Self {
            cache,
            matched: HashMap::default(),
            unchanged: 0,
            kept_singles: Vec::new(),
            new_sections: Vec::new(),
            objects: Vec::new(),
            seen: HashMap::default(),
            references: Vec::new(),
            unsupported: HashMap::default(),
            unsupported_order: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    fn section(&mut self, section: &Section) {
        let digest = SectionDigest::of(section);
        if self.reuse(digest, section) {
            return;
        }
        let kind_text = match section.last("type") {
            Some(v) => v.value.to_ascii_lowercase(),
            None if section.name == "global" || section.name == "system" => section.name.clone(),
            None => {
                self.diagnostics.push(
                    Diagnostic::warning(
                        Some(section.location.clone()),
                        "section has no 'type=' and is ignored",
                    )
                    .with_object("section", &section.name),
                );
                return;
            }
        };
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let mut made = CachedSection::default();
        if kind_text == "wizard" {
            let expansion = wizard::expand(&section.name, &section.location, &section.variables);
            self.diagnostics.extend(expansion.diagnostics);
            for generated in expansion.objects {
                self.object(
                    generated.kind,
                    &generated.id,
                    &section.location,
                    &generated.lines,
                    Some(&section.name),
                    &mut made,
                );
            }
        } else {
            match kind_text.parse::<Kind>() {
                Ok(kind) => self.object(
                    kind,
                    &section.name,
                    &section.location,
                    &section.variables,
                    None,
                    &mut made,
                ),
                Err(_) => {
                    let names: Vec<&str> = Kind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .chain(["wizard"])
                        .collect();
                    let hint = did_you_mean(&kind_text, names.iter().copied())
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default();
                    let loc = section.last("type").map(|v| v.location.clone());
                    self.diagnostics.push(
                        Diagnostic::error(loc, format!("unknown type '{kind_text}'{hint}"))
                            .with_object("section", &section.name)
                            .with_option("type"),
                    );
                }
            }
        }
        // Only sections that built cleanly are remembered: the others are rebuilt (and their
        // errors reported again) every time.
        let errors_after = self.diagnostics.iter().filter(|d| d.is_error()).count();
        if errors_after == errors_before && !made.objects.is_empty() {
            self.new_sections.push((digest, made));
        }
    }

    /// Accounts for an unchanged section without rebuilding it. False when the section must
    /// be built: not in the cache, already matched once (an identical duplicate section), or
    /// clashing with an object built earlier (the build then reports the clash).
    fn reuse(&mut self, digest: SectionDigest, section: &Section) -> bool {
        let Some(cached) = self.cache.and_then(|c| c.sections.get(&digest)) else {
            return false;
        };
        if self.matched.contains_key(&digest)
            || cached.objects.iter().any(|key| self.seen.contains_key(key))
        {
            return false;
        }
        for (kind, id) in cached.objects.iter().filter(|(k, _)| k.is_single()) {
            if self.seen.keys().any(|(k, _)| k == kind)
                || self.kept_singles.iter().any(|(k, _, _)| k == kind)
            {
                return false;
            }
            self.kept_singles
                .push((*kind, id.clone(), section.location.clone()));
        }
        self.matched.insert(digest, section.location.clone());
        self.unchanged += cached.objects.len();
        true
    }

    /// Where an unchanged object of `key` is, if this build kept one.
    fn kept_at(&self, key: &Key) -> Option<&Location> {
        let digest = self.cache?.keys.get(key)?;
        self.matched.get(digest)
    }

    fn note_unsupported(&mut self, kind: Kind, id: &str, option: &'static str, loc: &Location) {
        let key = (kind, option);
        match self.unsupported.get_mut(&key) {
            Some(u) => u.count += 1,
            None => {
                self.unsupported.insert(
                    key,
                    Unsupported {
                        first: loc.clone(),
                        first_id: id.to_string(),
                        count: 1,
                    },
                );
                self.unsupported_order.push(key);
            }
        }
    }

    fn object<L: Borrow<Line>>(
        &mut self,
        kind: Kind,
        id: &str,
        location: &Location,
        lines: &[L],
        wizard: Option<&str>,
        made: &mut CachedSection,
    ) {
        let built = build_object_in(kind, id, Some(location), lines);
        let ok = built.errors.is_empty();
        self.diagnostics.extend(built.errors);
        for (option, line) in &built.unsupported_lines {
            if let Some(l) = lines.get(*line) {
                self.note_unsupported(kind, id, option, &l.borrow().location);
            }
        }
        if !ok {
            return;
        }
        let key: Key = (kind, Arc::from(id));
        if let Some(first) = self.seen.get(&key).or_else(|| self.kept_at(&key)) {
            self.diagnostics.push(
                Diagnostic::error(
                    Some(location.clone()),
                    format!("duplicate object: '{id}' of type '{kind}' is already defined at {first}; this one is rejected"),
                )
                .with_object(kind.as_str(), id),
            );
            return;
        }
        if kind.is_single() {
            let other = self
                .seen
                .iter()
                .find(|((k, _), _)| *k == kind)
                .map(|((_, other), loc)| (other.clone(), loc.clone()))
                .or_else(|| {
                    self.kept_singles
                        .iter()
                        .find(|(k, _, _)| *k == kind)
                        .map(|(_, other, loc)| (other.clone(), loc.clone()))
                });
            if let Some((other, at)) = other {
                self.diagnostics.push(
                    Diagnostic::error(
                        Some(location.clone()),
                        format!(
                            "configuration contains more than one object of type '{kind}' (the first is '{other}' at {at})"
                        ),
                    )
                    .with_object(kind.as_str(), id),
                );
                return;
            }
        }
        self.seen.insert(key.clone(), location.clone());
        let index = made.objects.len();
        for r in built.object.references() {
            self.references
                .push((kind, id.to_string(), location.clone(), r.clone()));
            made.references.push((index, r));
        }
        made.objects.push(key);
        self.objects.push(BuiltObject {
            kind,
            id: id.to_string(),
            location: location.clone(),
            wizard: wizard.map(str::to_string),
            object: built.object,
        });
    }

    fn finish(mut self) -> BuildResult {
        let (cache, removed) = self.next_cache();
        self.check_references(&cache, &removed);
        for key in &self.unsupported_order {
            if let Some(u) = self.unsupported.get(key) {
                let times = match u.count {
                    1 => String::new(),
                    2 => format!(" (also used by 1 other {})", key.0),
                    n => format!(" (also used by {} other {}s)", n - 1, key.0),
                };
                self.diagnostics.push(
                    Diagnostic::notice(
                        Some(u.first.clone()),
                        format!("accepted, not yet supported{times}"),
                    )
                    .with_object(key.0.as_str(), &u.first_id)
                    .with_option(key.1),
                );
            }
        }
        BuildResult {
            objects: self.objects,
            unchanged: self.unchanged,
            removed,
            diagnostics: self.diagnostics,
            files: Vec::new(),
            cache,
        }
    }

    /// The cache for the next build (the previous one, minus the sections not found again,
    /// plus the sections built cleanly now) and the objects no longer made.
    fn next_cache(&mut self) -> (BuildCache, Vec<Key>) {
        let mut next = self.cache.cloned().unwrap_or_default();
        let mut removed = Vec::new();
        if let Some(old) = self.cache
            && self.matched.len() != old.sections.len()
        {
            // Some sections vanished or changed: only then walk the whole cache.
            let gone: Vec<SectionDigest> = old
                .sections
                .keys()
                .filter(|d| !self.matched.contains_key(*d))
                .copied()
                .collect();
            for digest in gone {
                if let Some(section) = next.remove(&digest) {
                    removed.extend(
                        section
                            .objects
                            .iter()
                            .filter(|key| !self.seen.contains_key(*key))
                            .cloned(),
                    );
                }
            }
        }
        for (digest, section) in self.new_sections.drain(..) {
            next.insert(digest, Arc::new(section));
        }
        (next, removed)
    }

    /// Warns about references to objects that do not exist: those made by the objects built
    /// now, and those of unchanged objects to objects that are gone.
    fn check_references(&mut self, cache: &BuildCache, removed: &[Key]) {
        let exists = |seen: &HashMap<Key, Location>, kind: Kind, id: &str| {
            let key: Key = (kind, Arc::from(id));
            seen.contains_key(&key) || cache.keys.contains_key(&key)
        };
        let mut warnings = Vec::new();
        for (kind, id, location, r) in &self.references {
            if !exists(&self.seen, r.kind, &r.id) {
                warnings.push(dangling(*kind, id, location, r));
            }
        }
        if !removed.is_empty() {
            let gone: HashSet<&Key> = removed.iter().collect();
            for (digest, location) in &self.matched {
                let Some(section) = cache.sections.get(digest) else {
                    continue;
                };
                for (i, r) in &section.references {
                    let target: Key = (r.kind, Arc::from(r.id.as_str()));
                    if gone.contains(&target)
                        && let Some((kind, id)) = section.objects.get(*i)
                    {
                        warnings.push(dangling(*kind, id, location, r));
                    }
                }
            }
        }
        self.diagnostics.extend(warnings);
    }
}

fn dangling(kind: Kind, id: &str, location: &Location, r: &Reference) -> Diagnostic {
    Diagnostic::warning(
        Some(location.clone()),
        format!("{} '{}' does not exist", r.kind, r.id),
    )
    .with_object(kind.as_str(), id)
    .with_option(r.option)
}

/// An object built from lines, with its problems.
pub struct ObjectBuild {
    /// The object (meaningful only when `errors` is empty).
    pub object: Object,
    /// Errors: any of them rejects the object.
    pub errors: Vec<Diagnostic>,
    /// Options set that pjsipd does not act on yet, with the line of their first use.
    pub unsupported: Vec<(&'static str, Location)>,
    /// The same, with the index of that line in the lines given.
    pub unsupported_lines: Vec<(&'static str, usize)>,
}

/// Applies `lines` (the `type` line skipped) to a fresh object of `kind` and validates it.
/// Whole-object problems are reported at the object's last line.
pub fn build_object<L: Borrow<Line>>(kind: Kind, id: &str, lines: &[L]) -> ObjectBuild {
    build_object_in(kind, id, None, lines)
}

/// As [`build_object`], reporting whole-object problems at `section` (the object's
/// `[header]` line) when given.
pub fn build_object_in<L: Borrow<Line>>(
    kind: Kind,
    id: &str,
    section: Option<&Location>,
    lines: &[L],
) -> ObjectBuild {
    let mut object = new_object(kind);
    let mut errors = Vec::new();
    let mut unsupported: Vec<(&'static str, Location)> = Vec::new();
    let mut unsupported_lines: Vec<(&'static str, usize)> = Vec::new();
    let mut seen = Vec::new();
    let mut last_location: Option<&Location> = None;
    for (index, line) in lines.iter().enumerate() {
        let line = line.borrow();
        if line.name == "type" {
            continue;
        }
        last_location = Some(&line.location);
        match object.apply_line(&line.name, &line.value, &mut seen) {
            ApplyOutcome::Applied { option, support } => {
                if support == Support::NotYet
                    && !unsupported_lines.iter().any(|(o, _)| *o == option)
                {
                    unsupported.push((option, line.location.clone()));
                    unsupported_lines.push((option, index));
                }
            }
            ApplyOutcome::Unknown => {
                let names = kind.option_names();
                let hint = did_you_mean(&line.name, names.iter().copied())
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                errors.push(
                    Diagnostic::error(
                        Some(line.location.clone()),
                        format!("unknown option for type '{kind}'{hint}"),
                    )
                    .with_object(kind.as_str(), id)
                    .with_option(&line.name),
                );
            }
            ApplyOutcome::Invalid(reason) => errors.push(
                Diagnostic::error(
                    Some(line.location.clone()),
                    format!("bad value '{}': {reason}", line.value),
                )
                .with_object(kind.as_str(), id)
                .with_option(&line.name),
            ),
        }
    }
    if errors.is_empty() {
        let at = section.or(last_location);
        for problem in object.validate(id) {
            errors.push(Diagnostic::error(at.cloned(), problem).with_object(kind.as_str(), id));
        }
    }
    ObjectBuild {
        object,
        errors,
        unsupported,
        unsupported_lines,
    }
}

/// Writes objects back as `pjsip.conf` text: one section per object, every option that
/// differs from its default. Reading the text back yields the same objects.
pub fn to_config_text<'a>(objects: impl IntoIterator<Item = (&'a str, &'a Object)>) -> String {
    let mut out = String::new();
    for (id, object) in objects {
        out.push_str(&format!(
            "[{}]\ntype = {}\n",
            escape_value(id),
            object.kind()
        ));
        for (name, lines) in object.changed_options() {
            for line in lines {
                let (name, line) = as_written(name, &line);
                // Spaces around `=` keep a value starting with `>` from reading as `=>`.
                out.push_str(&format!("{name} = {}\n", escape_value(line)));
            }
        }
        out.push('\n');
    }
    out
}

/// A rule line as an administrator writes it: deny rules are stored as Asterisk's
/// equivalent negated permits (`permit = !net`, which keeps permit/deny order in one list)
/// and printed back as `deny = net`.
fn as_written<'a>(name: &'a str, value: &'a str) -> (&'a str, &'a str) {
    match (name, value.strip_prefix('!')) {
        ("permit", Some(net)) => ("deny", net),
        ("contact_permit", Some(net)) => ("contact_deny", net),
        _ => (name, value),
    }
}

/// Escapes what the reader would otherwise take as a comment.
fn escape_value(v: &str) -> String {
    v.replace(';', "\\;")
}

#[cfg(test)]
mod tests;
