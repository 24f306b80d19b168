//! UDP: receive tasks per socket hand each datagram to the distributor.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::Shared;
use super::flow::{Flow, Received};

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// Receives datagrams on `socket` until `stop` turns true. Several of these may share one
/// socket so that parsing spreads over the runtime's threads.
pub(super) async fn receive(
    transport: Arc<str>,
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((len, source)) => {
                    let bytes = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
                    shared.logger.received("udp", source, &bytes);
                    shared.dispatch(Received { flow: Flow::udp(transport.clone(), source), bytes });
                }
                Err(e) => {
                    tracing::debug!("transport '{transport}': receive error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}
