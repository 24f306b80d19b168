//! Sans-IO parts of kernel forwarding: the nftables text, counter parsing, ctnetlink
//! messages. The forwarding itself is tested with real sockets in network namespaces of
//! its own (`tests/kernel_forwarding.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Flow;
use super::conntrack::{Tuple, delete_message, parse_acks};
use super::nft::{self, Counter};
use super::setelem::{DumpPart, dump_request, parse_dump};

fn a(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
}

fn a6(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(ip.parse::<Ipv6Addr>().expect("IPv6")), port)
}

#[test]
fn setup_script_replaces_the_table_and_hooks_the_port_range_for_both_families() {
    let s = nft::setup_script("pjsipd_10000", 10000, 20000);
    let lines: Vec<&str> = s.lines().map(str::trim).collect();
    // An old table (left by a crash) is replaced: create-if-missing, delete, create.
    assert_eq!(lines[0], "table inet pjsipd_10000");
    assert_eq!(lines[1], "delete table inet pjsipd_10000");
    for (p, h, n) in [("ipv4", "ip", "4"), ("ipv6", "ip6", "6")] {
        let key = format!("{h} saddr . udp sport . udp dport");
        for rule in [
            format!("meta nfproto {p} udp dport 10000-20000 {key} != @counted{n} notrack"),
            format!("meta nfproto {p} udp sport 10000-20000 {key} != @counted{n} notrack"),
            format!("meta nfproto {p} udp dport 10000-20000 {key} @counted{n}"),
            format!("meta nfproto {p} udp dport 10000-20000 dnat {h} to {key} map @forward_to{n}"),
            format!(
                "meta nfproto {p} ct status dnat meta l4proto udp snat {h} to ct original {h} saddr . ct original proto-src . ct original proto-dst map @send_via{n}"
            ),
            format!("map forward_to{n} {{"),
            format!("map send_via{n} {{"),
            format!("set counted{n} {{"),
        ] {
            assert!(lines.contains(&rule.as_str()), "missing {rule:?} in\n{s}");
        }
    }
    assert_eq!(s.matches("hook prerouting").count(), 3);
    assert_eq!(s.matches("hook output").count(), 3);
    assert_eq!(s.matches("hook postrouting").count(), 1);
    assert_eq!(
        nft::teardown_script("pjsipd_10000"),
        "table inet pjsipd_10000\ndelete table inet pjsipd_10000\n"
    );
}

#[test]
fn update_script_deletes_before_it_adds_in_each_familys_maps() {
    let f = Flow {
        from: a([192, 0, 2, 1], 4000),
        local: a([198, 51, 100, 7], 10000),
        to: a([192, 0, 2, 2], 5000),
        via: a([198, 51, 100, 7], 10002),
    };
    let g = Flow {
        from: a([192, 0, 2, 2], 5000),
        local: a([198, 51, 100, 7], 10002),
        to: a([192, 0, 2, 1], 4000),
        via: a([198, 51, 100, 7], 10000),
    };
    let h = Flow {
        from: a6("2001:db8::1", 4000),
        local: a6("2001:db8::7", 10004),
        to: a6("2001:db8::2", 5000),
        via: a6("2001:db8::7", 10006),
    };
    assert_eq!(nft::update_script("t", &[], &[]), "");
    let s = nft::update_script("t", &[f], &[f, g, h]);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines,
        [
            "delete element inet t forward_to4 { 192.0.2.1 . 4000 . 10000 }",
            "delete element inet t send_via4 { 192.0.2.1 . 4000 . 10000 }",
            "delete element inet t counted4 { 192.0.2.1 . 4000 . 10000 }",
            "add element inet t forward_to4 { 192.0.2.1 . 4000 . 10000 : 192.0.2.2 . 5000, 192.0.2.2 . 5000 . 10002 : 192.0.2.1 . 4000 }",
            "add element inet t send_via4 { 192.0.2.1 . 4000 . 10000 : 198.51.100.7 . 10002, 192.0.2.2 . 5000 . 10002 : 198.51.100.7 . 10000 }",
            "add element inet t counted4 { 192.0.2.1 . 4000 . 10000, 192.0.2.2 . 5000 . 10002 }",
            "add element inet t forward_to6 { 2001:db8::1 . 4000 . 10004 : 2001:db8::2 . 5000 }",
            "add element inet t send_via6 { 2001:db8::1 . 4000 . 10004 : 2001:db8::7 . 10006 }",
            "add element inet t counted6 { 2001:db8::1 . 4000 . 10004 }",
        ]
    );
    let flush = nft::flush_script("t");
    assert!(
        flush.contains("flush set inet t counted4") && flush.contains("flush set inet t counted6")
    );
    assert_eq!(nft::counted_set(nft::Family::of(h.from)), "counted6");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn counters_are_read_from_a_kernel_set_element_dump() {
    // Datagrams a 6.18 kernel sent (x86-64) for sequence 7, after 3 packets of 128 bytes
    // from 127.0.0.1:5000 to port 20000 and 2 of 98 from [::1]:5002 to port 20004.
    let v4 = unhex(
        "740000000c0a0200070000006f5100000100000406000100740000000d000200636f756e746564340000\
         0000480003004400010014000100100001007f000001138800004e2000002c0007000c000100636f756e\
         746572001c0002000c00010000000000000001800c0002000000000000000003",
    );
    let v6 = unhex(
        "800000000c0a020007000000985100000100000406000100740000000d000200636f756e746564360000\
         00005400030050000100200001001c00010000000000000000000000000000000001138a00004e240000\
         2c0007000c000100636f756e746572001c0002000c00010000000000000000c40c000200000000000000\
         0002",
    );
    let part = parse_dump(&v4, 7);
    assert_eq!(
        part.counters,
        [Counter {
            from: a([127, 0, 0, 1], 5000),
            port: 20000,
            packets: 3,
            bytes: 384
        }]
    );
    assert!(!part.done && part.error.is_none());
    assert_eq!(
        parse_dump(&v6, 7).counters,
        [Counter {
            from: a6("::1", 5002),
            port: 20004,
            packets: 2,
            bytes: 196
        }]
    );
    // Another request's answer is not ours.
    assert!(parse_dump(&v4, 8).counters.is_empty());
    // The end of the dump, and a refusal (ENOENT: no such set).
    let done = netlink_message(3, 7, &0i32.to_ne_bytes());
    assert_eq!(
        parse_dump(&done, 7),
        DumpPart {
            counters: vec![],
            done: true,
            error: None
        }
    );
    let refused = netlink_message(2, 7, &(-2i32).to_ne_bytes());
    assert_eq!(parse_dump(&refused, 7).error, Some(2));
    // Garbage and truncation end the walk without a panic.
    assert_eq!(parse_dump(&v4[..40], 7), DumpPart::default());
    assert_eq!(parse_dump(&[0xff; 64], 7), DumpPart::default());
}

/// A bare netlink message: header and payload.
fn netlink_message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m
}

#[test]
fn the_dump_request_names_the_inet_table_and_set() {
    let m = dump_request(9, "pjsipd_20000", "counted4");
    assert_eq!(
        u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) as usize,
        m.len()
    );
    // nftables subsystem, GETSETELEM; request and dump flags; inet family.
    assert_eq!(u16::from_ne_bytes([m[4], m[5]]), (10 << 8) | 13);
    assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 0x301);
    assert_eq!(m[16], 1);
    let body = &m[20..];
    let find = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(find(b"\x11\x00\x01\x00pjsipd_20000\x00"));
    assert!(find(b"\x0d\x00\x02\x00counted4\x00"));
}

#[test]
fn conntrack_delete_message_is_a_ctnetlink_request_for_the_udp_tuple() {
    let t = Tuple {
        src: a([127, 0, 0, 1], 6000),
        dst: a([127, 0, 0, 1], 20002),
    };
    let m = delete_message(7, t);
    // nlmsghdr: length, type (ctnetlink << 8 | delete), flags request|ack, sequence, pid.
    assert_eq!(
        u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) as usize,
        m.len()
    );
    assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 0x0102);
    assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 1 | 4);
    assert_eq!(u32::from_ne_bytes([m[8], m[9], m[10], m[11]]), 7);
    // nfgenmsg: AF_INET, version 0.
    assert_eq!(&m[16..20], &[2, 0, 0, 0]);
    // The addresses and the ports (network order) are in the nested tuple.
    let body = &m[20..];
    let find = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(
        find(&[8, 0, 1, 0, 127, 0, 0, 1]),
        "source address attribute"
    );
    assert!(
        find(&[8, 0, 2, 0, 127, 0, 0, 1]),
        "destination address attribute"
    );
    assert!(find(&[5, 0, 1, 0, 17, 0, 0, 0]), "protocol UDP, padded");
    assert!(find(&[6, 0, 2, 0, 0x17, 0x70]), "source port 6000");
    assert!(find(&[6, 0, 3, 0, 0x4e, 0x22]), "destination port 20002");
    assert_eq!(m.len() % 4, 0);
}

#[test]
fn conntrack_delete_message_for_ipv6_carries_the_v6_attributes() {
    let t = Tuple {
        src: a6("::1", 6000),
        dst: a6("2001:db8::7", 20002),
    };
    let m = delete_message(1, t);
    assert_eq!(
        u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) as usize,
        m.len()
    );
    // nfgenmsg: AF_INET6.
    assert_eq!(m[16], 10);
    let body = &m[20..];
    let find = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    let mut src = vec![20, 0, 3, 0];
    src.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    let mut dst = vec![20, 0, 4, 0];
    dst.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().expect("IPv6").octets());
    assert!(find(&src), "CTA_IP_V6_SRC");
    assert!(find(&dst), "CTA_IP_V6_DST");
    assert!(find(&[6, 0, 3, 0, 0x4e, 0x22]), "destination port 20002");
}

#[test]
fn acknowledgements_are_read_with_their_errors() {
    let mut buf = Vec::new();
    for (seq, errno) in [(3u32, 0i32), (4, -2)] {
        buf.extend_from_slice(&36u32.to_ne_bytes());
        buf.extend_from_slice(&2u16.to_ne_bytes());
        buf.extend_from_slice(&0u16.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&errno.to_ne_bytes());
        buf.extend_from_slice(&[0; 16]);
    }
    assert_eq!(parse_acks(&buf), [(3, 0), (4, 2)]);
    // A truncated or zero-length header stops the walk.
    assert!(parse_acks(&buf[..10]).is_empty());
    assert!(parse_acks(&[0u8; 20]).is_empty());
}
