//! Sans-IO parts of kernel forwarding: the nftables text, counter parsing, ctnetlink
//! messages. The forwarding itself is tested with real sockets in network namespaces of
//! its own (`tests/kernel_forwarding.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Flow;
use super::conntrack::{Tuple, delete_message, parse_acks};
use super::nft::{self, Counter};

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

#[test]
fn counters_are_read_from_nft_list_output() {
    let text = "table inet pjsipd_20000 {\n\tset counted4 {\n\t\ttype ipv4_addr . inet_service . inet_service\n\t\tcounter\n\t\telements = { 127.0.0.1 . 47480 . 20224 counter packets 237 bytes 47400,\n\t\t\t     10.0.0.9 . 6000 . 20002 counter packets 0 bytes 0,\n\t\t\t     garbage here }\n\t}\n}\ntable inet pjsipd_20000 {\n\tset counted6 {\n\t\ttype ipv6_addr . inet_service . inet_service\n\t\tcounter\n\t\telements = { ::1 . 5000 . 20000 counter packets 3 bytes 600 }\n\t}\n}\n";
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
            Counter {
                from: a6("::1", 5000),
                port: 20000,
                packets: 3,
                bytes: 600
            },
        ]
    );
    // An empty set prints no `elements` line.
    assert!(nft::parse_counters("table inet t {\n\tset counted4 {\n\t}\n}\n").is_empty());
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
