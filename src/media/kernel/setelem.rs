//! Reading the per-flow counters of a `counted` set over nf_tables netlink: one dump request
//! (NFT_MSG_GETSETELEM) per set, parsed here (sans-IO) instead of running `nft` and reading
//! its text every second.
//!
//! An element's key is the concatenation `address . port . port`, each field in network
//! order and padded to 4 bytes (4+4+4 bytes for IPv4, 16+4+4 for IPv6); its counter is the
//! element expression `counter` with big-endian byte and packet counts.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::netlink::{self, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, Socket, attr};
use super::nft::Counter;

/// (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM.
const GET_SET_ELEM: u16 = (10 << 8) | 13;
/// (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM: what a dump answers with.
const NEW_SET_ELEM: u16 = (10 << 8) | 12;
const NFPROTO_INET: u8 = 1;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_EXPR: u16 = 7;
const NFTA_SET_ELEM_EXPRESSIONS: u16 = 11;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_COUNTER_BYTES: u16 = 1;
const NFTA_COUNTER_PACKETS: u16 = 2;

fn c_string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// The dump request for the elements of `set` in the inet table `table`.
pub fn dump_request(seq: u32, table: &str, set: &str) -> Vec<u8> {
    let mut body = Vec::new();
    attr(&mut body, NFTA_SET_ELEM_LIST_TABLE, &c_string(table));
    attr(&mut body, NFTA_SET_ELEM_LIST_SET, &c_string(set));
    netlink::message(
        GET_SET_ELEM,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        NFPROTO_INET,
        &body,
    )
}

/// What one received datagram of a dump held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DumpPart {
    /// Counters of the elements in it.
    pub counters: Vec<Counter>,
    /// The dump ended (NLMSG_DONE) in it.
    pub done: bool,
    /// The kernel refused the request (errno).
    pub error: Option<i32>,
}

/// Parses one received datagram of the dump answering request `seq`.
pub fn parse_dump(buf: &[u8], seq: u32) -> DumpPart {
    let mut part = DumpPart::default();
    for (kind, s, payload) in netlink::messages(buf) {
        if s != seq {
            continue;
        }
        match kind {
            NLMSG_DONE => part.done = true,
            NLMSG_ERROR => {
                part.error = netlink::error_of(payload).filter(|&e| e != 0);
                part.done = true;
            }
            NEW_SET_ELEM => {
                // After the 4-byte nfgenmsg.
                let attrs = payload.get(4..).unwrap_or(&[]);
                if let Some(list) = netlink::find(attrs, NFTA_SET_ELEM_LIST_ELEMENTS) {
                    part.counters.extend(
                        netlink::attrs(list)
                            .into_iter()
                            .filter(|&(k, _)| k == NFTA_LIST_ELEM)
                            .filter_map(|(_, elem)| element(elem)),
                    );
                }
            }
            _ => {}
        }
    }
    part
}

fn element(elem: &[u8]) -> Option<Counter> {
    let key = netlink::find(netlink::find(elem, NFTA_SET_ELEM_KEY)?, NFTA_DATA_VALUE)?;
    let (ip, rest): (IpAddr, &[u8]) = match key.len() {
        12 => {
            let a: [u8; 4] = key.get(..4)?.try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(a)), key.get(4..)?)
        }
        24 => {
            let a: [u8; 16] = key.get(..16)?.try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(a)), key.get(16..)?)
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
    let port = u16::from_be_bytes([*rest.get(4)?, *rest.get(5)?]);
    // One expression (NFTA_SET_ELEM_EXPR) or a list of them.
    let counter = match netlink::find(elem, NFTA_SET_ELEM_EXPR) {
        Some(expr) => counter_of(expr),
        None => netlink::attrs(netlink::find(elem, NFTA_SET_ELEM_EXPRESSIONS)?)
            .into_iter()
            .find_map(|(_, expr)| counter_of(expr)),
    }?;
    Some(Counter {
        from: SocketAddr::new(ip, sport),
        port,
        packets: counter.0,
        bytes: counter.1,
    })
}

/// (packets, bytes) of a `counter` expression.
fn counter_of(expr: &[u8]) -> Option<(u64, u64)> {
    if netlink::find(expr, NFTA_EXPR_NAME)? != b"counter\0" {
        return None;
    }
    let data = netlink::find(expr, NFTA_EXPR_DATA)?;
    let be64 = |kind| -> Option<u64> {
        Some(u64::from_be_bytes(
            netlink::find(data, kind)?.get(..8)?.try_into().ok()?,
        ))
    };
    Some((be64(NFTA_COUNTER_PACKETS)?, be64(NFTA_COUNTER_BYTES)?))
}

/// Reads the counters of `set` in `table`. Bounded: each receive waits at most a second,
/// and a dump of more than 1,000 datagrams is cut short.
pub fn read(socket: &mut Socket, table: &str, set: &str) -> io::Result<Vec<Counter>> {
    let seq = socket.next_seq();
    socket.send(&dump_request(seq, table, set))?;
    let mut counters = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..1000 {
        let n = socket.recv(&mut buf)?;
        let part = parse_dump(buf.get(..n).unwrap_or(&[]), seq);
        counters.extend(part.counters);
        if let Some(e) = part.error {
            return Err(io::Error::from_raw_os_error(e));
        }
        if part.done {
            break;
        }
    }
    Ok(counters)
}
