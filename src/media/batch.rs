//! Receiving several datagrams of one socket with one `recvmmsg(2)` call (Linux).
//!
//! Why: a relay thread woken for a socket must read it until it is empty (the poll is
//! edge-triggered). With `recv_from` that is one call per packet plus one that finds the
//! socket empty, and an RTP socket mostly holds a single packet: two system calls per
//! relayed packet. `recvmmsg` with room for several datagrams returns fewer than it had
//! room for only when the socket ran dry, so one call reads the packet and proves the
//! socket empty.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// Datagrams read per call.
pub const BATCH: usize = 8;
/// Room for one datagram (RTP and RTCP packets are far smaller; a longer one is cut).
pub const DATAGRAM: usize = 2048;

/// Buffers for one `recvmmsg` call, reused by a relay thread for every read.
pub struct RecvBatch {
    bufs: Box<[[u8; DATAGRAM]; BATCH]>,
    addrs: [libc::sockaddr_storage; BATCH],
    lens: [usize; BATCH],
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self {
            bufs: Box::new([[0; DATAGRAM]; BATCH]),
            // SAFETY: sockaddr_storage is plain old data; all zeros is a valid value.
            addrs: unsafe { std::mem::zeroed() },
            lens: [0; BATCH],
        }
    }
}

impl RecvBatch {
    /// Reads up to [`BATCH`] datagrams from `socket` without blocking; returns how many
    /// (0 when it had none: `WouldBlock` is not an error here). Fewer than [`BATCH`] means
    /// the socket is now empty.
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        // The iovecs and headers point into `self`; they are rebuilt for each call so that
        // no pointer outlives the borrow.
        let mut iovs: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
            iov_base: self.bufs[i].as_mut_ptr().cast(),
            iov_len: DATAGRAM,
        });
        let addrs = self.addrs.as_mut_ptr();
        let iov_ptr = iovs.as_mut_ptr();
        // SAFETY: mmsghdr is plain old data; all zeros is a valid (empty) header.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, m) in msgs.iter_mut().enumerate() {
            // SAFETY: i < BATCH, the length of both arrays.
            m.msg_hdr.msg_name = unsafe { addrs.add(i) }.cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            // SAFETY: as above.
            m.msg_hdr.msg_iov = unsafe { iov_ptr.add(i) };
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a live buffer of DATAGRAM bytes and a live
        // sockaddr_storage owned by `self` or this frame, for the duration of the call;
        // the kernel writes at most that much into each.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        let n = usize::try_from(n).unwrap_or(0).min(BATCH);
        for (len, m) in self.lens.iter_mut().zip(&msgs).take(n) {
            *len = (m.msg_len as usize).min(DATAGRAM);
        }
        Ok(n)
    }

    /// The `i`th datagram of the last [`RecvBatch::recv`] and its source (`None` for an
    /// address family other than IPv4/IPv6, or past what was read).
    pub fn get(&mut self, i: usize) -> Option<(&mut [u8], SocketAddr)> {
        let src = to_socket_addr(self.addrs.get(i)?)?;
        let len = *self.lens.get(i)?;
        let buf = self.bufs.get_mut(i)?.get_mut(..len)?;
        Some((buf, src))
    }
}

fn to_socket_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // and aligned enough for.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
