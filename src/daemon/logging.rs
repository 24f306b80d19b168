//! Logging to stderr (journald captures it), text or JSON, with a level that a reload can
//! change.

use std::sync::{Mutex, PoisonError};

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, fmt, reload};

use super::settings::{LogFormat, LogLevel, LogSettings};

/// Changes the log level of the running daemon.
pub(crate) struct LogControl {
    /// None when another subscriber was installed first (tests): nothing to change.
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    /// `RUST_LOG` was set: it wins over `pjsipd.toml`, on reload too.
    from_env: bool,
    /// The format chosen at start; changing it needs a restart.
    format: LogFormat,
    /// The level from `pjsipd.toml` in force.
    level: Mutex<LogLevel>,
}

impl LogControl {
    /// Applies `settings` from a reloaded `pjsipd.toml`. Returns a note for the operator when
    /// something could not be applied.
    pub(crate) fn apply(&self, settings: &LogSettings) -> Option<String> {
        let mut notes = Vec::new();
        if settings.format != self.format {
            notes.push("pjsipd.toml: the log format changes only at restart".to_string());
        }
        if self.from_env {
            // Deliberate: an operator debugging with RUST_LOG does not want a reload to undo it.
            tracing::debug!("log level set by RUST_LOG; [log] level not applied");
        } else if let Some(handle) = &self.handle {
            let mut level = self.level.lock().unwrap_or_else(PoisonError::into_inner);
            if *level != settings.level {
                match handle.reload(EnvFilter::new(settings.level.as_str())) {
                    Ok(()) => {
                        tracing::info!("log level changed from {} to {}", *level, settings.level);
                        *level = settings.level;
                    }
                    Err(e) => notes.push(format!("cannot change the log level: {e}")),
                }
            }
        }
        if notes.is_empty() {
            None
        } else {
            Some(notes.join("\n"))
        }
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set and valid, overrides the level.
pub(crate) fn init(settings: &LogSettings) -> LogControl {
    let (filter, from_env, bad_env) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, true, None),
            Err(e) => (
                level_filter(settings.level),
                false,
                Some(format!("{spec:?}: {e}")),
            ),
        },
        _ => (level_filter(settings.level), false, None),
    };
    let (filter, handle) = reload::Layer::new(filter);
    // Two optional layers rather than a boxed one: the format is fixed for the process life.
    let (text, json) = match settings.format {
        LogFormat::Text => {
            // journald and log files get plain text; colours only on a terminal.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            (
                Some(fmt::layer().with_ansi(ansi).with_writer(std::io::stderr)),
                None,
            )
        }
        LogFormat::Json => (None, Some(fmt::layer().json().with_writer(std::io::stderr))),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .is_ok();
    if let Some(why) = bad_env {
        tracing::warn!("RUST_LOG ignored, it is invalid: {why}");
    }
    LogControl {
        handle: installed.then_some(handle),
        from_env,
        format: settings.format,
        level: Mutex::new(settings.level),
    }
}

fn level_filter(level: LogLevel) -> EnvFilter {
    EnvFilter::new(level.as_str())
}
