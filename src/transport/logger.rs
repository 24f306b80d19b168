//! `pjsip set logger on|off|host <ip>`: prints SIP traffic as Asterisk's pjsip logger does.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;

/// Which packets are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoggerMode {
    /// None.
    Off,
    /// All.
    On,
    /// Those from or to this address.
    Host(IpAddr),
}

/// The logger switch, shared by the CLI and the transports (lock-free reads per packet).
#[derive(Clone, Debug)]
pub struct SipLogger(Arc<ArcSwap<LoggerMode>>);

impl Default for SipLogger {
    fn default() -> Self {
        Self(Arc::new(ArcSwap::from_pointee(LoggerMode::Off)))
    }
}

impl SipLogger {
    /// Sets the mode.
    pub fn set(&self, mode: LoggerMode) {
        self.0.store(Arc::new(mode));
    }

    /// The mode.
    pub fn mode(&self) -> LoggerMode {
        **self.0.load()
    }

    fn wants(&self, peer: SocketAddr) -> bool {
        match self.mode() {
            LoggerMode::Off => false,
            LoggerMode::On => true,
            LoggerMode::Host(ip) => ip == peer.ip(),
        }
    }

    /// Prints a received message when enabled for its source.
    pub fn received(&self, protocol: &str, source: SocketAddr, bytes: &[u8]) {
        if self.wants(source) {
            tracing::info!(
                target: "pjsip_logger",
                "<--- Received SIP {} ({} bytes) from {}:{} --->\n{}",
                kind(bytes),
                bytes.len(),
                protocol.to_ascii_uppercase(),
                source,
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// Prints a sent message when enabled for its destination.
    pub fn transmitted(&self, protocol: &str, destination: SocketAddr, bytes: &[u8]) {
        if self.wants(destination) {
            tracing::info!(
                target: "pjsip_logger",
                "<--- Transmitting SIP {} ({} bytes) to {}:{} --->\n{}",
                kind(bytes),
                bytes.len(),
                protocol.to_ascii_uppercase(),
                destination,
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

fn kind(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"SIP/2.0 ") {
        "response"
    } else {
        "request"
    }
}
