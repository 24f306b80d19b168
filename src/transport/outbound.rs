//! Sending: a [`Transmit`] goes out of the UDP socket of its transport, or into the writer
//! queue of its connection. Synchronous (never waits): a queue task must not stall on one
//! slow peer. A UDP send that would block is dropped (the peer retransmits); a connection
//! whose peer stopped reading is reported and the message dropped.

use foldhash::HashMap;
use std::sync::Arc;

use std::net::UdpSocket;

use super::connections::{Connections, SendError};
use super::flow::Transmit;
use super::logger::SipLogger;

/// The sending side of every transport. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    udp: Arc<HashMap<Arc<str>, Arc<UdpSocket>>>,
    connections: Connections,
    logger: SipLogger,
    /// Where TCP messages without a connection go to have one opened.
    connector: Arc<std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Transmit>>>,
}

impl Outbound {
    /// Over these UDP sockets (by transport id) and connections.
    pub fn new(
        udp: std::collections::HashMap<Arc<str>, Arc<UdpSocket>>,
        connections: Connections,
        logger: SipLogger,
    ) -> Self {
        Self {
            udp: Arc::new(udp.into_iter().collect()),
            connections,
            logger,
            connector: Arc::default(),
        }
    }

    /// Hands TCP messages that have no connection to `connector`, which opens one.
    pub(super) fn connect_with(&self, connector: tokio::sync::mpsc::UnboundedSender<Transmit>) {
        let _ = self.connector.set(connector);
    }

    /// The connection registry.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Sends `t` now or drops it (logged at debug).
    pub fn send(&self, t: Transmit) {
        let flow = &t.flow;
        self.logger
            .transmitted(flow.protocol_name(), flow.remote, &t.bytes);
        if flow.is_reliable() {
            match self.connections.send(
                flow.connection,
                &flow.transport,
                flow.remote,
                t.bytes.clone(),
            ) {
                Ok(()) => {}
                // A request of ours opens a connection; a response never does (its
                // client's connection is gone, and its source port listens to nobody).
                Err(SendError::Gone)
                    if flow.protocol == crate::config::types::TransportProtocol::Tcp
                        && !t.bytes.starts_with(b"SIP/2.0 ")
                        && self
                            .connector
                            .get()
                            .is_some_and(|c| c.send(t.clone()).is_ok()) => {}
                Err(SendError::Gone) => tracing::debug!(
                    "transport '{}': no connection to {} any more; message dropped",
                    flow.transport,
                    flow.remote
                ),
                Err(SendError::Backlog) => tracing::warn!(
                    "transport '{}': {} does not read; message dropped",
                    flow.transport,
                    flow.remote
                ),
            }
            return;
        }
        match self.udp.get(&flow.transport) {
            Some(socket) => {
                if let Err(e) = socket.send_to(&t.bytes, flow.remote) {
                    tracing::debug!(
                        "transport '{}': send to {} failed: {e}",
                        flow.transport,
                        flow.remote
                    );
                }
            }
            None => tracing::debug!("transport '{}' is gone", flow.transport),
        }
    }
}
