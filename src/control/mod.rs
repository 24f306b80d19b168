//! The control socket: operator commands in, answers out (`pjsipd -r`, `pjsipd -rx`).
//!
//! Protocol, one command per connection (simple to script with `socat`, and nothing to
//! resynchronise when a client misbehaves):
//! - the client sends one command line, UTF-8, ended by `\n`, at most [`MAX_REQUEST_LEN`]
//!   bytes;
//! - the server answers with a first line `OK` or `ERR`, then the command's text, and closes.
//!
//! The socket file is created with mode 0660: whoever may write to it may stop the daemon.
//!
//! - [`server`]: the listener in the daemon.
//! - [`client`]: one command from the command line (`-rx`).
//! - [`console`]: the interactive console (`-r`).

pub mod client;
pub mod console;
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

pub use client::{Answer, ClientError};

/// Longest command line accepted, in bytes (without the `\n`).
pub const MAX_REQUEST_LEN: usize = 4096;
/// How long a client may take to send its command.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to read the answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 32;

/// First line of a successful answer.
pub const OK: &str = "OK";
/// First line of a failed answer.
pub const ERR: &str = "ERR";

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket's directory cannot be created.
    #[error("control socket {}: cannot create its directory: {source}", path.display())]
    CreateDir {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process answers on the socket.
    #[error(
        "control socket {}: another pjsipd is already running and listening on it",
        path.display()
    )]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Something that is not a socket is in the way; it is not ours to delete.
    #[error("control socket {}: exists and is not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// The socket path.
        path: PathBuf,
    },
    /// Checking an existing socket or removing a stale one failed.
    #[error("control socket {}: cannot replace the stale socket: {source}", path.display())]
    Stale {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Listening failed.
    #[error("control socket {}: cannot listen: {source}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
