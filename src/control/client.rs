//! The client side of the control socket: send one command, get the answer.
//!
//! Plain blocking I/O: a client does one exchange at a time and needs no runtime.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ERR, MAX_REQUEST_LEN, OK};

/// How long to wait for the answer. Generous: `pjsip reload` of a large configuration takes
/// a while, and the daemon bounds its own work.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest answer accepted (a listing of 100,000 endpoints fits easily).
const MAX_REPLY_LEN: u64 = 256 * 1024 * 1024;

/// The daemon's answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// True for `OK`, false for `ERR`.
    pub ok: bool,
    /// The command's output.
    pub text: String,
}

/// Why a command could not be exchanged with the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing listens on the socket (Asterisk's wording, which scripts may grep for).
    #[error("Unable to connect to remote pjsipd (does {} exist?)", socket.display())]
    Connect {
        /// The socket path.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The command cannot be sent as one line.
    #[error("invalid command: {0}")]
    BadCommand(&'static str),
    /// The connection failed midway (or timed out).
    #[error("lost the connection to pjsipd: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon's answer did not start with `OK` or `ERR`.
    #[error("pjsipd sent a malformed answer")]
    Protocol,
    /// The interactive console's line editor failed.
    #[error("console: {0}")]
    Console(#[from] rustyline::error::ReadlineError),
}

/// Sends `command` to the daemon listening on `socket` and returns its answer.
pub fn send(socket: &Path, command: &str) -> Result<Answer, ClientError> {
    let command = command.trim_end_matches(['\r', '\n']);
    if command.contains('\n') {
        return Err(ClientError::BadCommand("a command is a single line"));
    }
    if command.len() > MAX_REQUEST_LEN {
        return Err(ClientError::BadCommand("longer than 4096 bytes"));
    }
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        socket: socket.to_path_buf(),
        source,
    })?;
    stream.set_write_timeout(Some(super::WRITE_TIMEOUT))?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut raw = Vec::new();
    stream.take(MAX_REPLY_LEN).read_to_end(&mut raw)?;
    parse_answer(&String::from_utf8_lossy(&raw))
}

fn parse_answer(raw: &str) -> Result<Answer, ClientError> {
    let (status, text) = raw.split_once('\n').unwrap_or((raw, ""));
    let ok = match status.trim_end_matches('\r') {
        OK => true,
        ERR => false,
        _ => return Err(ClientError::Protocol),
    };
    Ok(Answer {
        ok,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed() {
        let a = parse_answer("OK\nhello\nworld\n").unwrap();
        assert!(a.ok);
        assert_eq!(a.text, "hello\nworld\n");
        let a = parse_answer("ERR\nbad\n").unwrap();
        assert!(!a.ok);
        assert_eq!(a.text, "bad\n");
        assert!(parse_answer("OK").unwrap().ok);
        assert!(matches!(parse_answer(""), Err(ClientError::Protocol)));
        assert!(matches!(
            parse_answer("HELLO\n"),
            Err(ClientError::Protocol)
        ));
    }

    #[test]
    fn no_daemon_gives_the_asterisk_message() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("none.ctl");
        let err = send(&socket, "core show version").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Unable to connect to remote pjsipd (does {} exist?)",
                socket.display()
            )
        );
    }

    #[test]
    fn multi_line_commands_are_refused() {
        let err = send(Path::new("/nonexistent"), "a\nb").unwrap_err();
        assert!(matches!(err, ClientError::BadCommand(_)));
    }
}
