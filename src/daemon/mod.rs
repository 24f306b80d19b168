//! The daemon shell: startup, `--check`, reloads, signals, systemd, shutdown.
//!
//! Start-up order (each step can refuse to start with an [`Error`]):
//! 1. resolve the configuration directory and read `pjsipd.toml` ([`Settings`]);
//! 2. start logging (level and format from the settings, `RUST_LOG` wins);
//! 3. create the data directory;
//! 4. load `pjsip.conf` into the store (object-level errors are logged, the valid objects
//!    load), check `extensions.conf`;
//! 5. listen on the control socket ([`crate::control`]), then tell systemd `READY=1`.
//!
//! Then it waits: SIGHUP or `pjsip reload` re-reads `pjsip.conf` (one reload at a time, all or
//! nothing); SIGTERM, SIGINT or `core stop gracefully` stop it (`STOPPING=1`, the control socket
//! is removed, exit status 0).
//!
//! The process-facing entry points are [`run`], [`check`], [`remote_execute`] and
//! [`remote_console`]; `main.rs` only parses arguments and maps results to exit codes.

mod check;
mod instance;
mod logging;
mod notify;
mod paths;
mod run;
mod settings;
mod sounds;
mod tables;

use std::path::{Path, PathBuf};

pub use check::{CheckReport, check};
pub use paths::ConfigPaths;
pub use run::run;
pub use settings::{DaemonSettings, LogFormat, LogLevel, LogSettings, Settings, SettingsError};

use crate::config::Diagnostic;
use crate::control;
use crate::sorcery::TxError;

/// Why the daemon (or a client mode of the binary) could not do its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration directory is missing or unusable.
    #[error("configuration directory {}: {source}", path.display())]
    ConfigDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `pjsipd.toml` cannot be read or is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// `pjsip.conf` is not in the configuration directory.
    #[error("{}: not found (the configuration directory must contain pjsip.conf)", path.display())]
    MissingPjsipConf {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `pjsip.conf` as a whole cannot be read (unreadable file, missing include, include loop).
    #[error("cannot load pjsip.conf: {0}")]
    Load(Box<Diagnostic>),
    /// The objects of `pjsip.conf` were refused by the store as a whole.
    #[error("cannot apply pjsip.conf: {0}")]
    Apply(#[from] TxError),
    /// `extensions.conf` exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Extensions {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory cannot be created.
    #[error("data directory {}: cannot create it: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The control socket cannot be set up.
    #[error(transparent)]
    Socket(#[from] control::Error),
    /// Talking to a running daemon failed.
    #[error(transparent)]
    Client(#[from] control::ClientError),
    /// The async runtime or the signal handlers cannot be set up.
    #[error("cannot start: {what}: {source}")]
    Runtime {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Sends one command to the running daemon found through `config_dir`'s `pjsipd.toml` and
/// returns its answer (`ok` false when the daemon answered `ERR`).
pub fn remote_execute(config_dir: &Path, command: &str) -> Result<control::Answer, Error> {
    let socket = client_socket(config_dir)?;
    Ok(control::client::send(&socket, command)?)
}

/// Runs the interactive console (`pjsipd -r`) against the daemon found through `config_dir`.
pub fn remote_console(config_dir: &Path) -> Result<(), Error> {
    let socket = client_socket(config_dir)?;
    Ok(control::console::run(&socket)?)
}

/// Client modes only need the socket path: a missing configuration directory is reported as
/// such, but `pjsip.conf` is not looked at.
fn client_socket(config_dir: &Path) -> Result<PathBuf, Error> {
    let paths = ConfigPaths::resolve(config_dir)?;
    Ok(settings::control_socket(&paths.settings, &paths.dir)?)
}
