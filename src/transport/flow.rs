//! Where a message came from and how to answer it: the transport object, the protocol, the
//! remote address and, for TCP/TLS/WebSocket, the connection. Plain data shared by the
//! sans-IO layers (distributor, core) and the socket tasks that own the connections.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::types::TransportProtocol;

/// A live connection (TCP, TLS, WS or WSS), unique for the daemon's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The path a message arrived on, and the one its answers take (RFC 3261 18.2.2: a response
/// goes back over the connection its request came on; over UDP, to the source address and
/// port, as RFC 3581 and `force_rport` want).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The `type=transport` object's id.
    pub transport: Arc<str>,
    /// Its protocol.
    pub protocol: TransportProtocol,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// The connection, for connection-oriented protocols.
    pub connection: Option<ConnectionId>,
}

impl Flow {
    /// A UDP flow.
    pub fn udp(transport: impl Into<Arc<str>>, remote: SocketAddr) -> Self {
        Self {
            transport: transport.into(),
            protocol: TransportProtocol::Udp,
            remote,
            connection: None,
        }
    }

    /// True over TCP, TLS, WS and WSS: no retransmissions, and overload is answered (503)
    /// instead of dropped.
    pub fn is_reliable(&self) -> bool {
        is_reliable(self.protocol)
    }

    /// The protocol as the SIP logger and Via write it (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
    pub fn protocol_name(&self) -> &'static str {
        protocol_name(self.protocol)
    }
}

/// True for connection-oriented protocols.
pub fn is_reliable(protocol: TransportProtocol) -> bool {
    !matches!(protocol, TransportProtocol::Udp | TransportProtocol::Flow)
}

/// Upper-case protocol name.
pub fn protocol_name(protocol: TransportProtocol) -> &'static str {
    match protocol {
        TransportProtocol::Udp | TransportProtocol::Flow => "UDP",
        TransportProtocol::Tcp => "TCP",
        TransportProtocol::Tls => "TLS",
        TransportProtocol::Ws => "WS",
        TransportProtocol::Wss => "WSS",
    }
}

/// A message as it arrived: one datagram, one stream frame or one WebSocket message.
#[derive(Clone, Debug)]
pub struct Received {
    /// Where from.
    pub flow: Flow,
    /// The bytes.
    pub bytes: Bytes,
}

/// A message to send over `flow`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Where to.
    pub flow: Flow,
    /// The bytes.
    pub bytes: Bytes,
}
