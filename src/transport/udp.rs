//! UDP: a receive thread per socket hands each datagram to the distributor; queues send
//! on the same plain socket.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
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
    Ok(socket.into())
}

/// Most datagrams read in a row before the stop flag is looked at again.
const READ_BUDGET: usize = 256;

/// Receives datagrams on `socket` on a thread of its own until `stop` turns true, and hands
/// each to the distributor. Why a thread and not runtime tasks: a receive task shared the
/// two runtime threads with the 31 queue tasks it feeds and got its turn only after them,
/// so under load datagrams waited in the socket (a megabyte and more) while queues ran
/// out of work. The thread reads a duplicate of the socket's descriptor through its own
/// poll. The socket is a plain non-blocking one, registered with no runtime: queues send
/// on it directly, and a runtime's poll would be woken by every datagram received
/// (20,000 wake-ups a second at 4,000 calls/s) only to find nobody waiting.
pub(super) fn spawn_receiver(
    transport: Arc<str>,
    socket: &UdpSocket,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let mut socket = mio::net::UdpSocket::from_std(socket.try_clone()?);
    let poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut socket, mio::Token(0), mio::Interest::READABLE)?;
    std::thread::Builder::new()
        .name("pjsipd-udp".into())
        .spawn(move || receive(transport, socket, poll, shared, stop))
}

fn receive(
    transport: Arc<str>,
    socket: mio::net::UdpSocket,
    mut poll: mio::Poll,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    // Checked between polls: the stop is seen within a poll timeout.
    const WAIT: Duration = Duration::from_millis(100);
    let mut events = mio::Events::with_capacity(8);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // Edge-triggered: after a readiness event the socket is read until it is empty; when
    // the budget ran out first, read on without waiting.
    let mut more = false;
    while !*stop.borrow() {
        let timeout = if more { Duration::ZERO } else { WAIT };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::debug!("transport '{transport}': poll error: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        more = false;
        if events.is_empty() && timeout == WAIT {
            continue;
        }
        for n in 0.. {
            if n == READ_BUDGET {
                more = true;
                break;
            }
            match socket.recv_from(&mut buf) {
                Ok((len, source)) => {
                    let bytes = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
                    shared.logger.received("udp", source, &bytes);
                    shared.dispatch(Received {
                        flow: Flow::udp(transport.clone(), source),
                        bytes,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // ICMP errors reported on the socket: carry on reading.
                    tracing::debug!("transport '{transport}': receive error: {e}");
                }
            }
        }
    }
}
