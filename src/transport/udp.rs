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

/// Binds a UDP socket with a receive buffer of `receive_buffer` bytes (the kernel caps it
/// at `net.core.rmem_max`). The default (~200 kB, some 400 requests) overflows in the few
/// milliseconds a busy host may not schedule the receive task, and every datagram lost
/// there costs its sender a 500 ms retransmission.
pub(super) fn bind(
    addr: std::net::SocketAddr,
    receive_buffer: usize,
) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if receive_buffer > 0
        && let Err(e) = socket.set_recv_buffer_size(receive_buffer)
    {
        tracing::warn!("udp {addr}: cannot set a {receive_buffer}-byte receive buffer: {e}");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

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
