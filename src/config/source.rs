//! Where a piece of configuration came from: a file and a line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a configuration file. Cheap to clone: the path is shared.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as it was opened (absolute when the config dir was).
    pub file: Arc<Path>,
    /// 1-based line number.
    pub line: u32,
}

impl Location {
    /// A location in `file` at `line`.
    pub fn new(file: Arc<Path>, line: u32) -> Self {
        Self { file, line }
    }

    /// A location for objects that did not come from a file (API, tests).
    pub fn synthetic(what: &str) -> Self {
        Self {
            file: Arc::from(PathBuf::from(format!("<{what}>"))),
            line: 0,
        }
    }

    /// The file name without its directory, as Asterisk prints it.
    pub fn file_name(&self) -> String {
        self.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.file.display().to_string())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
