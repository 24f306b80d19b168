//! Sans-IO parts of kernel forwarding: the nftables text, counter parsing, ctnetlink
//! messages. The forwarding itself is tested with real sockets in a network namespace of
//! its own (`tests/kernel_forwarding.rs`).

use std::net::{Ipv4Addr, SocketAddrV4};

use super::Flow;
use super::conntrack::{Tuple, delete_message, parse_acks};
use super::nft::{self, Counter};

fn a(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip), port)
}

#[test]
fn setup_script_replaces_the_table_and_hooks_the_port_range() {
    let s = nft::setup_script("pjsipd_10000", 10000, 20000);
    let lines: Vec<&str> = s.lines().map(str::trim).collect();
    // An old table (left by a crash) is replaced: create-if-missing, delete, create.
    assert_eq!(lines[0], "table ip pjsipd_10000");
    assert_eq!(lines[1], "delete table ip pjsipd_10000");
    for rule in [
        "udp dport 10000-20000 ip saddr . udp sport . udp dport != @counted notrack",
        "udp sport 10000-20000 ip saddr . udp sport . udp dport != @counted notrack",
        "udp dport 10000-20000 ip saddr . udp sport . udp dport @counted",
        "udp dport 10000-20000 dnat ip to ip saddr . udp sport . udp dport map @forward_to",
        "ct status dnat meta l4proto udp snat ip to ct original ip saddr . ct original proto-src . ct original proto-dst map @send_via",
    ] {
        assert!(lines.contains(&rule), "missing {rule:?} in\n{s}");
    }
    assert_eq!(s.matches("hook prerouting").count(), 3);
    assert_eq!(s.matches("hook output").count(), 3);
    assert_eq!(s.matches("hook postrouting").count(), 1);
    assert_eq!(
        nft::teardown_script("pjsipd_10000"),
        "table ip pjsipd_10000\ndelete table ip pjsipd_10000\n"
    );
}

#[test]
fn update_script_deletes_before_it_adds() {
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
    assert_eq!(nft::update_script("t", &[], &[]), "");
    let s = nft::update_script("t", &[f], &[f, g]);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines,
        [
            "delete element ip t forward_to { 192.0.2.1 . 4000 . 10000 }",
            "delete element ip t send_via { 192.0.2.1 . 4000 . 10000 }",
            "delete element ip t counted { 192.0.2.1 . 4000 . 10000 }",
            "add element ip t forward_to { 192.0.2.1 . 4000 . 10000 : 192.0.2.2 . 5000, 192.0.2.2 . 5000 . 10002 : 192.0.2.1 . 4000 }",
            "add element ip t send_via { 192.0.2.1 . 4000 . 10000 : 198.51.100.7 . 10002, 192.0.2.2 . 5000 . 10002 : 198.51.100.7 . 10000 }",
            "add element ip t counted { 192.0.2.1 . 4000 . 10000, 192.0.2.2 . 5000 . 10002 }",
        ]
    );
    assert!(nft::flush_script("t").contains("flush set ip t counted"));
}

#[test]
fn counters_are_read_from_nft_list_output() {
    let text = "table ip pjsipd_20000 {\n\tset counted {\n\t\ttype ipv4_addr . inet_service . inet_service\n\t\tcounter\n\t\telements = { 127.0.0.1 . 47480 . 20224 counter packets 237 bytes 47400,\n\t\t\t     10.0.0.9 . 6000 . 20002 counter packets 0 bytes 0,\n\t\t\t     garbage here }\n\t}\n}\n";
    assert_eq!(
        nft::parse_counters(text),
        [
            Counter {
                from: a([127, 0, 0, 1], 47480),
                port: 20224,
                packets: 237,
                bytes: 47400
            },
            Counter {
                from: a([10, 0, 0, 9], 6000),
                port: 20002,
                packets: 0,
                bytes: 0
            },
        ]
    );
    // An empty set prints no `elements` line.
    assert!(nft::parse_counters("table ip t {\n\tset counted {\n\t}\n}\n").is_empty());
    assert!(nft::parse_counters("").is_empty());
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
