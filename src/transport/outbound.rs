//! Sending: a [`Transmit`] goes out of the UDP socket of its transport, or into the writer
//! queue of its connection. Synchronous (never waits): a queue task must not stall on one
//! slow peer. A UDP send that would block is dropped (the peer retransmits); a connection
//! whose peer stopped reading is reported and the message dropped.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::connections::{Connections, SendError};
use super::flow::Transmit;
use super::logger::SipLogger;

/// The sending side of every transport. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    udp: Arc<HashMap<Arc<str>, Arc<UdpSocket>>>,
    connections: Connections,
    logger: SipLogger,
}

impl Outbound {
    /// Over these UDP sockets (by transport id) and connections.
    pub fn new(
        udp: HashMap<Arc<str>, Arc<UdpSocket>>,
        connections: Connections,
        logger: SipLogger,
    ) -> Self {
        Self {
            udp: Arc::new(udp),
            connections,
            logger,
        }
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
            match self
                .connections
                .send(flow.connection, &flow.transport, flow.remote, t.bytes)
            {
                Ok(()) => {}
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
                if let Err(e) = socket.try_send_to(&t.bytes, flow.remote) {
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
