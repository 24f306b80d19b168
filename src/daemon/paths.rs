//! Where the daemon's files are, relative to its configuration directory.

use std::path::{Path, PathBuf};

use super::Error;

/// The configuration files, as absolute paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigPaths {
    /// The configuration directory.
    pub dir: PathBuf,
    /// `pjsipd.toml`: the daemon's own settings (optional).
    pub settings: PathBuf,
    /// `pjsip.conf`: SIP objects, in Asterisk syntax (required).
    pub pjsip_conf: PathBuf,
    /// `extensions.conf`: the dialplan (optional for now).
    pub extensions_conf: PathBuf,
}

impl ConfigPaths {
    /// Makes `dir` absolute and checks that it is a directory.
    pub fn resolve(dir: &Path) -> Result<Self, Error> {
        // Absolute, so that diagnostics and logs name files unambiguously whatever the
        // daemon's working directory is.
        let dir = std::path::absolute(dir).map_err(|source| Error::ConfigDir {
            path: dir.to_path_buf(),
            source,
        })?;
        match std::fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::ConfigDir {
                    path: dir,
                    source: std::io::Error::other("not a directory"),
                });
            }
            Err(source) => return Err(Error::ConfigDir { path: dir, source }),
        }
        Ok(Self {
            settings: dir.join("pjsipd.toml"),
            pjsip_conf: dir.join("pjsip.conf"),
            extensions_conf: dir.join("extensions.conf"),
            dir,
        })
    }
}
