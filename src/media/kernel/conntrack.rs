//! Deleting conntrack entries over netlink (ctnetlink), so that a flow's NAT takes effect
//! at once (an entry made before the rules were installed would never be translated) and
//! stops at once when the flow is removed (a translated entry would go on forwarding until
//! it times out).
//!
//! Messages are built sans-IO ([`delete_message`]); [`Conntrack`] sends them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// NETLINK_NETFILTER.
const NETLINK_NETFILTER: i32 = 12;
/// (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE.
const CT_DELETE: u16 = (1 << 8) | 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPPROTO_UDP: u8 = 17;
/// ENOENT: no such entry, which is fine.
const ENOENT: i32 = 2;

/// A UDP conntrack tuple: the entry is found by it in either direction. Both addresses
/// are of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
}

fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

fn nested(out: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fill(&mut inner);
    attr(out, kind | NLA_F_NESTED, &inner);
}

/// The IPCTNL_MSG_CT_DELETE request for `t`, with sequence number `seq`.
pub fn delete_message(seq: u32, t: Tuple) -> Vec<u8> {
    let family = if t.src.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let mut body = vec![family as u8, 0, 0, 0];
    nested(&mut body, CTA_TUPLE_ORIG, |b| {
        nested(b, CTA_TUPLE_IP, |b| {
            for (ip, v4, v6) in [
                (t.src.ip(), CTA_IP_V4_SRC, CTA_IP_V6_SRC),
                (t.dst.ip(), CTA_IP_V4_DST, CTA_IP_V6_DST),
            ] {
                match ip {
                    IpAddr::V4(a) => attr(b, v4, &a.octets()),
                    IpAddr::V6(a) => attr(b, v6, &a.octets()),
                }
            }
        });
        nested(b, CTA_TUPLE_PROTO, |b| {
            attr(b, CTA_PROTO_NUM, &[IPPROTO_UDP]);
            attr(b, CTA_PROTO_SRC_PORT, &t.src.port().to_be_bytes());
            attr(b, CTA_PROTO_DST_PORT, &t.dst.port().to_be_bytes());
        });
    });
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&CT_DELETE.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// Reads the acknowledgements in one received datagram: (sequence, errno) of each.
pub fn parse_acks(buf: &[u8]) -> Vec<(u32, i32)> {
    let mut acks = Vec::new();
    let mut at = 0usize;
    // Bounded: each message is at least a 16-byte header.
    while let Some(h) = buf.get(at..at + 16) {
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        if len < 16 {
            break;
        }
        if kind == NLMSG_ERROR
            && let Some(e) = buf.get(at + 16..at + 20)
        {
            acks.push((seq, -i32::from_ne_bytes([e[0], e[1], e[2], e[3]])));
        }
        at += len.next_multiple_of(4);
    }
    acks
}

/// A ctnetlink socket.
pub struct Conntrack {
    fd: OwnedFd,
    seq: u32,
}

impl Conntrack {
    /// Opens the socket (needs CAP_NET_ADMIN to delete anything).
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let timeout = libc::timeval {
            tv_sec: REPLY_WAIT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a valid timeval of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { fd, seq: 0 })
    }

    /// Deletes the entries found by `tuples` (missing ones are fine); returns how many were
    /// deleted. Waits at most about a second per reply.
    pub fn delete(&mut self, tuples: &[Tuple]) -> io::Result<usize> {
        let mut deleted = 0;
        // Netlink's socket buffer holds a few hundred acknowledgements: send in chunks.
        for chunk in tuples.chunks(64) {
            let first = self.seq.wrapping_add(1);
            for &t in chunk {
                self.seq = self.seq.wrapping_add(1);
                let msg = delete_message(self.seq, t);
                // SAFETY: sends a buffer we own, of its length.
                let n =
                    unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let mut pending = chunk.len();
            let mut buf = vec![0u8; 16384];
            while pending > 0 {
                // SAFETY: receives into a buffer we own, of its length.
                let n = unsafe {
                    libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
                };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                let n = usize::try_from(n).unwrap_or(0);
                for (seq, errno) in parse_acks(buf.get(..n).unwrap_or(&[])) {
                    if seq.wrapping_sub(first) as usize >= chunk.len() {
                        continue;
                    }
                    pending = pending.saturating_sub(1);
                    match errno {
                        0 => deleted += 1,
                        ENOENT => {}
                        e => return Err(io::Error::from_raw_os_error(e)),
                    }
                }
            }
        }
        Ok(deleted)
    }
}

/// How long [`Conntrack::delete`] waits for each reply.
pub const REPLY_WAIT: Duration = Duration::from_secs(1);
