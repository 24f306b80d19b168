//! Where the reader gets file contents from: the real file system, or memory in tests.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Largest configuration file read, in bytes. A PBX with 100,000 endpoints writes a
/// few tens of MiB; anything far beyond is a mistake (or an attack) and is refused
/// before it is read into memory.
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// Access to configuration files.
pub trait ConfigFs {
    /// Reads a whole file (refusing ones over [`MAX_FILE_SIZE`]).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// A stable identity for loop detection (canonical path).
    fn canonical(&self, path: &Path) -> io::Result<PathBuf>;
    /// Files matching a glob pattern, sorted. A pattern without glob characters
    /// yields itself when it exists.
    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl ConfigFs for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(io::Error::other(format!(
                "file is {} bytes, larger than the {} bytes allowed",
                meta.len(),
                MAX_FILE_SIZE
            )));
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        // `take` bounds the read even if the file grows while we read it.
        file.take(MAX_FILE_SIZE + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_FILE_SIZE {
            return Err(io::Error::other("file grew beyond the allowed size"));
        }
        Ok(buf)
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        path.canonicalize()
    }

    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let text = pattern.to_string_lossy();
        if !text.contains(['*', '?', '[']) {
            return Ok(if pattern.exists() {
                vec![pattern.to_path_buf()]
            } else {
                Vec::new()
            });
        }
        let paths = glob::glob(&text).map_err(|e| io::Error::other(e.to_string()))?;
        let mut out: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        out.sort();
        Ok(out)
    }
}

/// An in-memory file system for tests and property tests.
#[derive(Clone, Debug, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn with(mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.into(), contents.into());
        self
    }

    /// Adds (or replaces) a file in place.
    pub fn insert(&mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), contents.into());
    }
}

impl ConfigFs for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        if self.files.contains_key(path) {
            Ok(path.to_path_buf())
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
        }
    }

    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let text = pattern.to_string_lossy();
        let Ok(pat) = glob::Pattern::new(&text) else {
            return Ok(Vec::new());
        };
        Ok(self
            .files
            .keys()
            .filter(|p| pat.matches_path(p))
            .cloned()
            .collect())
    }
}
