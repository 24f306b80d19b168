//! The daemon's own settings: `pjsipd.toml` (optional; every setting has a default).
//!
//! ```toml
//! [daemon]
//! control_socket = "/run/pjsipd/pjsipd.ctl"
//! data_dir = "/var/lib/pjsipd"
//! max_files = 0      # open files limit to set (asterisk.conf maxfiles); 0 = the hard limit
//!
//! [log]
//! level = "info"     # error | warn | info | debug | trace
//! format = "text"    # text | json
//! ```
//!
//! Unknown keys are errors: a misspelt setting silently ignored is worse than a refusal.
//! Relative paths are taken relative to the configuration directory.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the control socket is when `pjsipd.toml` does not say.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/pjsipd/pjsipd.ctl";
/// Where run-time data goes when `pjsipd.toml` does not say.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/pjsipd";

/// All settings of `pjsipd.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[daemon]`.
    pub daemon: DaemonSettings,
    /// `[log]`.
    pub log: LogSettings,
    /// `[sip]`.
    pub sip: SipSettings,
    /// `[media]`.
    pub media: MediaSettings,
}

/// `[media]`: the RTP relay (Asterisk keeps these in rtp.conf).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// First RTP port (even); each call leg takes an RTP port and the next one for RTCP.
    pub rtp_port_start: u16,
    /// Last RTP port.
    pub rtp_port_end: u16,
    /// Relay threads (0: one per CPU).
    pub threads: usize,
    /// Where Playback() finds its sounds (`name.wav`, `name.ulaw`, `name.alaw`...).
    pub sounds_dir: PathBuf,
    /// Let the kernel forward plain bridged RTP (nftables NAT; needs the `nft` program,
    /// CAP_NET_ADMIN and IP forwarding on, else the relay stays in user space).
    pub kernel_forwarding: bool,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            rtp_port_start: 10000,
            rtp_port_end: 20000,
            threads: 0,
            sounds_dir: PathBuf::from("/usr/share/pjsipd/sounds"),
            kernel_forwarding: false,
        }
    }
}

/// `[sip]`: limits of the SIP transports and queues (pjsip.conf has no place for them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSettings {
    /// Serialized queues (Asterisk: 31).
    pub queues: usize,
    /// Messages waiting per queue before new work is refused (503 / drop).
    pub queue_depth: usize,
    /// Threads the queues run on, each keeping its queues (0: one per CPU).
    pub queue_threads: usize,
    /// Milliseconds a new INVITE may wait in its queue before it is refused with 503 and
    /// Retry-After (0: never refused for waiting).
    pub overload_wait_ms: u64,
    /// Seconds a TCP/TLS/WS peer may take to finish a message it started, or to send its
    /// first one; then the connection is closed.
    pub stream_message_timeout: u64,
    /// Seconds a connection may stay silent (keep-alives count) before it is closed.
    pub stream_idle_timeout: u64,
    /// Most TCP/TLS/WS connections at once; further ones are refused.
    pub max_connections: usize,
    /// Receive buffer of each UDP socket, in bytes (capped by `net.core.rmem_max`).
    pub udp_receive_buffer: usize,
}

impl Default for SipSettings {
    fn default() -> Self {
        Self {
            queues: 31,
            queue_depth: 1024,
            queue_threads: 0,
            overload_wait_ms: 1000,
            stream_message_timeout: 30,
            stream_idle_timeout: 600,
            max_connections: 8192,
            udp_receive_buffer: 4 << 20,
        }
    }
}

/// `[daemon]`: process-level paths.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSettings {
    /// The control socket (`pjsipd -r`, `pjsipd -rx`).
    pub control_socket: PathBuf,
    /// Run-time data (created if missing).
    pub data_dir: PathBuf,
    /// Open files limit the daemon sets for itself, soft and hard, as asterisk.conf's
    /// `maxfiles` (each call leg holds two sockets). 0: raise the soft limit to the hard one.
    pub max_files: u64,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_files: 0,
        }
    }
}

/// `[log]`: what is logged and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Most verbose level logged (`RUST_LOG` overrides it).
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
}

/// A log level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Normal operation.
    #[default]
    Info,
    /// Details for troubleshooting.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The name, as written in `pjsipd.toml` and understood by `RUST_LOG`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why `pjsipd.toml` was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file exists but cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a bad value.
    #[error("{}:{line}: error: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// Why, in toml's words (names the key for unknown keys).
        message: String,
    },
}

impl Settings {
    /// Reads `path`; a missing file means all defaults. Relative paths inside are resolved
    /// against `config_dir`.
    pub fn load(path: &Path, config_dir: &Path) -> Result<Self, SettingsError> {
        let text = read_optional(path)?;
        let mut settings = Self::parse(&text, path)?;
        settings.daemon.control_socket = config_dir.join(&settings.daemon.control_socket);
        settings.daemon.data_dir = config_dir.join(&settings.daemon.data_dir);
        Ok(settings)
    }

    /// Parses `text` as the contents of `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, SettingsError> {
        toml::from_str(text).map_err(|e| parse_error(&e, text, path))
    }
}

/// What the clients (`-r`, `-rx`) need: the socket path, read leniently so that a mistake
/// elsewhere in `pjsipd.toml` (say, a bad log level waiting for a reload) does not lock the
/// operator out of the running daemon.
#[derive(Debug, Default, Deserialize)]
struct ClientView {
    #[serde(default)]
    daemon: ClientDaemonView,
}

#[derive(Debug, Default, Deserialize)]
struct ClientDaemonView {
    control_socket: Option<PathBuf>,
}

/// The control socket named by `pjsipd.toml` at `path` (the default when absent), resolved
/// against `config_dir`. Only TOML syntax errors and a bad `control_socket` are errors.
pub fn control_socket(path: &Path, config_dir: &Path) -> Result<PathBuf, SettingsError> {
    let text = read_optional(path)?;
    let view: ClientView = toml::from_str(&text).map_err(|e| parse_error(&e, &text, path))?;
    let socket = view
        .daemon
        .control_socket
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET));
    Ok(config_dir.join(socket))
}

/// The file's text; a missing file reads as empty (all defaults).
fn read_optional(path: &Path) -> Result<String, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(SettingsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn parse_error(e: &toml::de::Error, text: &str, path: &Path) -> SettingsError {
    SettingsError::Parse {
        path: path.to_path_buf(),
        // toml gives a byte span; admins want a line. No span: the problem is the whole
        // file, so point at its start.
        line: e.span().map_or(1, |span| line_of(text, span.start)),
        message: e.message().trim().to_string(),
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("/etc/pjsipd/pjsipd.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let s = parse("").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.daemon.control_socket, Path::new(DEFAULT_CONTROL_SOCKET));
        assert_eq!(s.log.level, LogLevel::Info);
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn every_setting_is_read() {
        let s = parse(
            "[daemon]\ncontrol_socket = \"/tmp/x.ctl\"\ndata_dir = \"/tmp/d\"\nmax_files = 100000\n\n[log]\nlevel = \"debug\"\nformat = \"json\"\n",
        )
        .unwrap();
        assert_eq!(s.daemon.control_socket, Path::new("/tmp/x.ctl"));
        assert_eq!(s.daemon.data_dir, Path::new("/tmp/d"));
        assert_eq!(s.daemon.max_files, 100_000);
        assert_eq!(s.log.level, LogLevel::Debug);
        assert_eq!(s.log.format, LogFormat::Json);
    }

    #[test]
    fn sip_queue_settings_are_read() {
        let s = parse("[sip]\nqueue_threads = 3\noverload_wait_ms = 250\n").unwrap();
        assert_eq!((s.sip.queue_threads, s.sip.overload_wait_ms), (3, 250));
        let d = parse("").unwrap();
        assert_eq!((d.sip.queue_threads, d.sip.overload_wait_ms), (0, 1000));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse("[daemon]\n\ncontrol_sockett = \"/x\"\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/etc/pjsipd/pjsipd.toml:3: error:"),
            "{text}"
        );
        assert!(text.contains("control_sockett"), "{text}");
    }

    #[test]
    fn unknown_table_is_an_error() {
        let err = parse("[deamon]\n").unwrap_err();
        assert!(err.to_string().contains("deamon"), "{err}");
    }

    #[test]
    fn bad_level_is_an_error() {
        let err = parse("[log]\nlevel = \"loud\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains(":2: error:"), "{text}");
        assert!(text.contains("loud"), "{text}");
    }

    #[test]
    fn half_written_file_names_the_line() {
        let err = parse("[log]\nlevel = \"info\"\nformat = \"te").unwrap_err();
        assert!(err.to_string().contains("pjsipd.toml:3: error:"), "{err}");
    }

    #[test]
    fn relative_paths_are_under_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pjsipd.toml");
        std::fs::write(&path, "[daemon]\ncontrol_socket = \"run/ctl\"\n").unwrap();
        let s = Settings::load(&path, dir.path()).unwrap();
        assert_eq!(s.daemon.control_socket, dir.path().join("run/ctl"));
        assert_eq!(s.daemon.data_dir, Path::new(DEFAULT_DATA_DIR));
    }

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load(&dir.path().join("pjsipd.toml"), dir.path()).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn clients_only_need_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pjsipd.toml");
        std::fs::write(
            &path,
            "[daemon]\ncontrol_socket = \"c.ctl\"\n[log]\nlevel = \"loud\"\n",
        )
        .unwrap();
        assert!(Settings::load(&path, dir.path()).is_err());
        assert_eq!(
            control_socket(&path, dir.path()).unwrap(),
            dir.path().join("c.ctl")
        );
        std::fs::write(&path, "[log\n").unwrap();
        assert!(control_socket(&path, dir.path()).is_err());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            control_socket(&path, dir.path()).unwrap(),
            Path::new(DEFAULT_CONTROL_SOCKET)
        );
    }

    #[test]
    fn line_of_counts_newlines() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
