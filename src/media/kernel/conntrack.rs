//! Deleting conntrack entries over netlink (ctnetlink), so that a flow's NAT takes effect
//! at once (an entry made before the rules were installed would never be translated) and
//! stops at once when the flow is removed (a translated entry would go on forwarding until
//! it times out).
//!
//! Messages are built sans-IO ([`delete_message`]); [`delete`] sends them.

use std::io;
use std::net::{IpAddr, SocketAddr};

use super::netlink::{self, NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, Socket, attr, nested};

/// (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE.
const CT_DELETE: u16 = (1 << 8) | 2;
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

/// The IPCTNL_MSG_CT_DELETE request for `t`, with sequence number `seq`.
pub fn delete_message(seq: u32, t: Tuple) -> Vec<u8> {
    let family = if t.src.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let mut body = Vec::new();
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
    netlink::message(
        CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        family as u8,
        &body,
    )
}

/// Reads the acknowledgements in one received datagram: (sequence, errno) of each.
pub fn parse_acks(buf: &[u8]) -> Vec<(u32, i32)> {
    netlink::messages(buf)
        .into_iter()
        .filter(|&(kind, _, _)| kind == NLMSG_ERROR)
        .filter_map(|(_, seq, payload)| Some((seq, netlink::error_of(payload)?)))
        .collect()
}

/// Deletes the entries found by `tuples` (missing ones are fine); returns how many were
/// deleted. Waits at most about a second per reply.
pub fn delete(socket: &mut Socket, tuples: &[Tuple]) -> io::Result<usize> {
    let mut deleted = 0;
    let mut buf = vec![0u8; 16384];
    // Netlink's socket buffer holds a few hundred acknowledgements: send in chunks.
    for chunk in tuples.chunks(64) {
        let mut first = None;
        for &t in chunk {
            let seq = socket.next_seq();
            first.get_or_insert(seq);
            socket.send(&delete_message(seq, t))?;
        }
        let first = first.unwrap_or(0);
        let mut pending = chunk.len();
        while pending > 0 {
            let n = socket.recv(&mut buf)?;
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
