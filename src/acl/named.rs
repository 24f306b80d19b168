//! Named ACLs: the sections of `acl.conf` (Asterisk's `main/named_acl.c`).
//!
//! Each `[name]` section (except `[general]`) is one named ACL made of `permit=` and
//! `deny=` lines, applied in the order written, with the value syntax of `pjsip.conf`'s
//! `permit`/`deny` (comma-separated lists, `/len` or `/netmask`, IPv6, `!`). Templates and
//! inheritance work as in every Asterisk file. Stricter than Asterisk, which refuses the
//! whole file: a section with an unknown option, an empty or a bad value is rejected alone
//! (with a diagnostic naming file:line), and an ACL referring to it then refuses every
//! address, as an undefined one does. A second section of the same name is rejected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::diagnostic::Diagnostic;
use crate::config::ini::{self, ConfigFs, Document, did_you_mean};
use crate::config::options::{Action, HaRules};
use crate::config::source::Location;

/// The file name of the named ACLs, in the configuration directory next to `pjsip.conf`.
pub const ACL_CONF: &str = "acl.conf";

/// The options of an `acl.conf` section.
const OPTIONS: [&str; 2] = ["permit", "deny"];

/// Type name used in diagnostics (Asterisk's config type).
const KIND: &str = "named_acl";

/// The named ACLs of `acl.conf`, by name (names are case-sensitive, as in Asterisk).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedAcls {
    acls: BTreeMap<String, HaRules>,
}

/// The result of loading `acl.conf`.
#[derive(Clone, Debug, Default)]
pub struct NamedAclsLoad {
    /// The named ACLs that loaded.
    pub acls: NamedAcls,
    /// Problems found; each error rejected one section.
    pub diagnostics: Vec<Diagnostic>,
    /// Files read (none when `acl.conf` does not exist).
    pub files: Vec<PathBuf>,
}

/// `acl.conf` (or a file it includes) exists but cannot be read as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub Box<Diagnostic>);

impl NamedAcls {
    /// No named ACLs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the ACL `name`, returning the rules it replaced.
    pub fn insert(&mut self, name: impl Into<String>, rules: HaRules) -> Option<HaRules> {
        self.acls.insert(name.into(), rules)
    }

    /// The rules of the ACL `name`.
    pub fn get(&self, name: &str) -> Option<&HaRules> {
        self.acls.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.acls.keys().map(String::as_str)
    }

    /// How many named ACLs.
    pub fn len(&self) -> usize {
        self.acls.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.acls.is_empty()
    }

    /// Reads `path` (usually `<config dir>/`[`ACL_CONF`]) with its includes. A file that
    /// does not exist is no named ACLs, not an error.
    pub fn load(fs: &dyn ConfigFs, path: &Path) -> Result<NamedAclsLoad, LoadError> {
        if let Err(e) = fs.canonical(path)
            && e.kind() == std::io::ErrorKind::NotFound
        {
            return Ok(NamedAclsLoad::default());
        }
        let read = ini::read_file(fs, path).map_err(LoadError)?;
        let mut load = Self::from_document(&read.document);
        let mut diagnostics = read.diagnostics;
        diagnostics.append(&mut load.diagnostics);
        load.diagnostics = diagnostics;
        Ok(load)
    }

    /// Builds the named ACLs of an already read document (its own diagnostics not
    /// included).
    pub fn from_document(doc: &Document) -> NamedAclsLoad {
        let mut acls = Self::new();
        let mut diagnostics = Vec::new();
        let mut first_at: BTreeMap<&str, &Location> = BTreeMap::new();
        for section in doc.objects() {
            let name = section.name.as_str();
            if name.eq_ignore_ascii_case("general") {
                continue;
            }
            if let Some(first) = first_at.get(name) {
                diagnostics.push(
                    Diagnostic::error(
                        Some(section.location.clone()),
                        format!(
                            "named ACL '{name}' is already defined at {first}; this section \
                             is ignored"
                        ),
                    )
                    .with_object(KIND, name),
                );
                continue;
            }
            first_at.insert(name, &section.location);
            let mut rules = HaRules::default();
            let mut ok = true;
            for var in &section.variables {
                let problem = match OPTIONS.iter().position(|o| *o == var.name) {
                    None => {
                        let hint = did_you_mean(&var.name, OPTIONS.iter().copied())
                            .map(|s| format!(" (did you mean '{s}'?)"))
                            .unwrap_or_default();
                        Some(format!("unknown option for a named ACL{hint}"))
                    }
                    Some(_) if var.value.trim().is_empty() => {
                        Some("empty value: write an address or a network".to_string())
                    }
                    Some(i) => {
                        let action = if i == 0 { Action::Permit } else { Action::Deny };
                        rules
                            .push_line(action, &var.value)
                            .err()
                            .map(|reason| format!("bad value '{}': {reason}", var.value))
                    }
                };
                if let Some(message) = problem {
                    ok = false;
                    diagnostics.push(
                        Diagnostic::error(Some(var.location.clone()), message)
                            .with_object(KIND, name)
                            .with_option(&var.name),
                    );
                }
            }
            if ok {
                acls.insert(name, rules);
            }
        }
        NamedAclsLoad {
            acls,
            diagnostics,
            files: doc.files.clone(),
        }
    }
}
