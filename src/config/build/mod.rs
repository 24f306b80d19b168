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

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::diagnostic::Diagnostic;
use super::ini::{self, ConfigFs, Document, Section, Variable, did_you_mean};
use super::options::Support;
use super::source::Location;
use super::types::{ApplyOutcome, Kind, Object, new_object};
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Option name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Where it was written.
    pub location: Location,
}

impl From<&Variable> for Line {
    fn from(v: &Variable) -> Self {
        Self {
            name: v.name.clone(),
            value: v.value.clone(),
            location: v.location.clone(),
        }
    }
}

/// The objects of a configuration and the problems found building them.
#[derive(Clone, Debug, Default)]
pub struct BuildResult {
    /// Objects that passed validation, in file order.
    pub objects: Vec<BuiltObject>,
    /// Every problem found (reader problems included when built through [`load`]).
    pub diagnostics: Vec<Diagnostic>,
    /// Files read.
    pub files: Vec<std::path::PathBuf>,
}

impl BuildResult {
    /// True when any problem is an error.
    pub fn has_errors(&self) -> bool {
        super::diagnostic::has_errors(&self.diagnostics)
    }
}

/// Reads `path` (with its includes) and builds its objects. `Err` only when the file as a
/// whole cannot be read (missing, unreadable, missing include, include loop).
pub fn load(fs: &dyn ConfigFs, path: &Path) -> Result<BuildResult, Box<Diagnostic>> {
    let read = ini::read_file(fs, path)?;
    let mut result = build(&read.document);
    let mut diagnostics = read.diagnostics;
    diagnostics.append(&mut result.diagnostics);
    result.diagnostics = diagnostics;
    result.files = read.document.files;
    Ok(result)
}

/// Builds objects from a read document.
pub fn build(doc: &Document) -> BuildResult {
    let mut b = Builder::default();
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

#[derive(Default)]
struct Builder {
    objects: Vec<BuiltObject>,
    seen: HashMap<(Kind, String), Location>,
    unsupported: HashMap<(Kind, &'static str), Unsupported>,
    unsupported_order: Vec<(Kind, &'static str)>,
    diagnostics: Vec<Diagnostic>,
}

impl Builder {
    fn section(&mut self, section: &Section) {
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
        let lines: Vec<Line> = section.variables.iter().map(Line::from).collect();
        if kind_text == "wizard" {
            let expansion = wizard::expand(&section.name, &section.location, &lines);
            self.diagnostics.extend(expansion.diagnostics);
            for generated in expansion.objects {
                self.object(
                    generated.kind,
                    &generated.id,
                    &section.location,
                    &generated.lines,
                    Some(&section.name),
                );
            }
            return;
        }
        match kind_text.parse::<Kind>() {
            Ok(kind) => self.object(kind, &section.name, &section.location, &lines, None),
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

    fn object(
        &mut self,
        kind: Kind,
        id: &str,
        location: &Location,
        lines: &[Line],
        wizard: Option<&str>,
    ) {
        let built = build_object_in(kind, id, Some(location), lines);
        let ok = built.errors.is_empty();
        self.diagnostics.extend(built.errors);
        for (option, loc) in built.unsupported {
            let key = (kind, option);
            match self.unsupported.get_mut(&key) {
                Some(u) => u.count += 1,
                None => {
                    self.unsupported.insert(
                        key,
                        Unsupported {
                            first: loc,
                            first_id: id.to_string(),
                            count: 1,
                        },
                    );
                    self.unsupported_order.push(key);
                }
            }
        }
        if !ok {
            return;
        }
        let key = (kind, id.to_string());
        if let Some(first) = self.seen.get(&key) {
            self.diagnostics.push(
                Diagnostic::error(
                    Some(location.clone()),
                    format!("duplicate object: '{id}' of type '{kind}' is already defined at {first}; this one is rejected"),
                )
                .with_object(kind.as_str(), id),
            );
            return;
        }
        if kind.is_single()
            && let Some(other) = self.objects.iter().find(|o| o.kind == kind)
        {
            self.diagnostics.push(
                Diagnostic::error(
                    Some(location.clone()),
                    format!(
                        "configuration contains more than one object of type '{kind}' (the first is '{}' at {})",
                        other.id, other.location
                    ),
                )
                .with_object(kind.as_str(), id),
            );
            return;
        }
        self.seen.insert(key, location.clone());
        self.objects.push(BuiltObject {
            kind,
            id: id.to_string(),
            location: location.clone(),
            wizard: wizard.map(str::to_string),
            object: built.object,
        });
    }

    fn finish(mut self) -> BuildResult {
        self.check_references();
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
            diagnostics: self.diagnostics,
            files: Vec::new(),
        }
    }

    fn check_references(&mut self) {
        let exists: HashSet<(Kind, &str)> = self
            .objects
            .iter()
            .map(|o| (o.kind, o.id.as_str()))
            .collect();
        for o in &self.objects {
            for r in o.object.references() {
                if !exists.contains(&(r.kind, r.id.as_str())) {
                    self.diagnostics.push(
                        Diagnostic::warning(
                            Some(o.location.clone()),
                            format!("{} '{}' does not exist", r.kind, r.id),
                        )
                        .with_object(o.kind.as_str(), &o.id)
                        .with_option(r.option),
                    );
                }
            }
        }
    }
}

/// An object built from lines, with its problems.
pub struct ObjectBuild {
    /// The object (meaningful only when `errors` is empty).
    pub object: Object,
    /// Errors: any of them rejects the object.
    pub errors: Vec<Diagnostic>,
    /// Options set that pjsipd does not act on yet, with the line of their first use.
    pub unsupported: Vec<(&'static str, Location)>,
}

/// Applies `lines` (the `type` line skipped) to a fresh object of `kind` and validates it.
/// Whole-object problems are reported at the object's last line.
pub fn build_object(kind: Kind, id: &str, lines: &[Line]) -> ObjectBuild {
    build_object_in(kind, id, None, lines)
}

/// As [`build_object`], reporting whole-object problems at `section` (the object's
/// `[header]` line) when given.
pub fn build_object_in(
    kind: Kind,
    id: &str,
    section: Option<&Location>,
    lines: &[Line],
) -> ObjectBuild {
    let mut object = new_object(kind);
    let mut errors = Vec::new();
    let mut unsupported: Vec<(&'static str, Location)> = Vec::new();
    let mut seen = Vec::new();
    let mut last_location: Option<Location> = None;
    for line in lines {
        if line.name == "type" {
            continue;
        }
        last_location = Some(line.location.clone());
        match object.apply_line(&line.name, &line.value, &mut seen) {
            ApplyOutcome::Applied { option, support } => {
                if support == Support::NotYet && !unsupported.iter().any(|(o, _)| *o == option) {
                    unsupported.push((option, line.location.clone()));
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
        let at = section.cloned().or(last_location);
        for problem in object.validate(id) {
            errors.push(Diagnostic::error(at.clone(), problem).with_object(kind.as_str(), id));
        }
    }
    ObjectBuild {
        object,
        errors,
        unsupported,
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
                // Spaces around `=` keep a value starting with `>` from reading as `=>`.
                out.push_str(&format!("{name} = {}\n", escape_value(&line)));
            }
        }
        out.push('\n');
    }
    out
}

/// Escapes what the reader would otherwise take as a comment.
fn escape_value(v: &str) -> String {
    v.replace(';', "\\;")
}

#[cfg(test)]
mod tests;
