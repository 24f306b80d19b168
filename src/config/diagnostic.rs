//! Problems found while reading and checking configuration.
//!
//! Every problem names where it is (file:line), which object and option it concerns, and why.
//! Errors reject the object they concern; warnings and notices are information only.

use std::fmt;

use super::source::Location;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The object (or file) concerned is rejected.
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
    /// Accepted; for information (e.g. "accepted, not yet supported").
    Notice,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
        })
    }
}

/// The object a problem concerns: its type name and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Type name as written in `type=` (`endpoint`, `aor`, ...).
    pub kind: String,
    /// Object id (section name).
    pub id: String,
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// Where, when it comes from a file.
    pub location: Option<Location>,
    /// Which object, when known.
    pub object: Option<ObjectRef>,
    /// Which option, when it concerns one.
    pub option: Option<String>,
    /// Why, in words.
    pub message: String,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Option<Location>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            location,
            object: None,
            option: None,
            message: message.into(),
        }
    }

    /// A warning at `location`.
    pub fn warning(location: Option<Location>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(location, message)
        }
    }

    /// A notice at `location`.
    pub fn notice(location: Option<Location>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Notice,
            ..Self::error(location, message)
        }
    }

    /// Names the object concerned.
    pub fn with_object(mut self, kind: &str, id: &str) -> Self {
        self.object = Some(ObjectRef {
            kind: kind.to_string(),
            id: id.to_string(),
        });
        self
    }

    /// Names the option concerned.
    pub fn with_option(mut self, option: &str) -> Self {
        self.option = Some(option.to_string());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}: ", self.severity)?;
        if let Some(obj) = &self.object {
            write!(f, "{} '{}': ", obj.kind, obj.id)?;
        }
        if let Some(opt) = &self.option {
            write!(f, "option '{opt}': ")?;
        }
        f.write_str(&self.message)
    }
}

/// True when any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}
