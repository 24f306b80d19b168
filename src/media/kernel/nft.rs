//! The nftables side of kernel forwarding: the table's text, element batches, counter
//! parsing (sans-IO), and running `nft -f -` (I/O).
//!
//! One table per engine, `inet pjsipd_<first RTP port>` (so daemons with disjoint port
//! ranges can share a host), holding for each family (suffix `4` and `6`):
//! - `forward_to`: (source, source port, our port) → where the packet goes (DNAT);
//! - `send_via`: the same key → the address and port of our other leg it is sent from (SNAT);
//! - `counted`: the same keys with counters, matched by every forwarded packet (the only
//!   tracked packets to the RTP ports, see below: the first one of an entry included).
//!
//! NAT happens on the first packet of a conntrack entry; later packets, both ways, follow
//! the entry. So one key per direction is installed and either direction may start.
//!
//! Packets to or from the RTP ports that are not forwarded are not tracked (`notrack`):
//! what the relay threads receive and send creates no conntrack entry, so none can be in
//! the way when a flow is installed (NAT would otherwise pick another source port for the
//! reply direction, which would then reach the relay thread instead of the kernel).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use super::{Flow, KernelError};

/// Name of the engine's table.
pub fn table_name(port_start: u16) -> String {
    format!("pjsipd_{port_start}")
}

/// IPv4 or IPv6: each has its own maps and rules in the (inet) table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 (`ip`).
    V4,
    /// IPv6 (`ip6`).
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: SocketAddr) -> Self {
        if addr.is_ipv4() { Self::V4 } else { Self::V6 }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::V4 => "4",
            Self::V6 => "6",
        }
    }

    fn addr_type(self) -> &'static str {
        match self {
            Self::V4 => "ipv4_addr",
            Self::V6 => "ipv6_addr",
        }
    }

    /// nftables' name of the network header (`ip` / `ip6`), as in `ip saddr`.
    fn header(self) -> &'static str {
        match self {
            Self::V4 => "ip",
            Self::V6 => "ip6",
        }
    }

    fn nfproto(self) -> &'static str {
        match self {
            Self::V4 => "ipv4",
            Self::V6 => "ipv6",
        }
    }
}

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

/// Creates the table afresh (an older one, left by a daemon that crashed, is replaced).
pub fn setup_script(table: &str, port_start: u16, port_end: u16) -> String {
    let ports = format!("{port_start}-{port_end}");
    let mut sets = String::new();
    let mut raw_pre = String::new();
    let mut raw_out = String::new();
    let mut count = String::new();
    let mut dnat = String::new();
    let mut snat = String::new();
    for f in FAMILIES {
        let (n, t, h, p) = (f.suffix(), f.addr_type(), f.header(), f.nfproto());
        let key = format!("{h} saddr . udp sport . udp dport");
        let _ = write!(
            sets,
            "\tmap forward_to{n} {{\n\t\ttype {t} . inet_service . inet_service : {t} . inet_service\n\t}}\n\
             \tmap send_via{n} {{\n\t\ttype {t} . inet_service . inet_service : {t} . inet_service\n\t}}\n\
             \tset counted{n} {{\n\t\ttype {t} . inet_service . inet_service\n\t\tcounter\n\t}}\n"
        );
        let not_ours = format!("{key} != @counted{n} notrack");
        let _ = writeln!(raw_pre, "\t\tmeta nfproto {p} udp dport {ports} {not_ours}");
        let _ = writeln!(raw_out, "\t\tmeta nfproto {p} udp dport {ports} {not_ours}");
        let _ = writeln!(raw_out, "\t\tmeta nfproto {p} udp sport {ports} {not_ours}");
        let _ = writeln!(
            count,
            "\t\tmeta nfproto {p} udp dport {ports} {key} @counted{n}"
        );
        let _ = writeln!(
            dnat,
            "\t\tmeta nfproto {p} udp dport {ports} dnat {h} to {key} map @forward_to{n}"
        );
        let _ = writeln!(
            snat,
            "\t\tmeta nfproto {p} ct status dnat meta l4proto udp snat {h} to ct original {h} saddr . ct original proto-src . ct original proto-dst map @send_via{n}"
        );
    }
    let chain = |name: &str, kind: &str, hook: &str, prio: i32, body: &str| {
        format!(
            "\tchain {name} {{\n\t\ttype {kind} hook {hook} priority {prio}; policy accept;\n{body}\t}}\n"
        )
    };
    format!(
        "table inet {table}\ndelete table inet {table}\ntable inet {table} {{\n{sets}{}{}{}{}{}{}{}}}\n",
        chain("raw_pre", "filter", "prerouting", -300, &raw_pre),
        chain("raw_out", "filter", "output", -300, &raw_out),
        chain("count_pre", "filter", "prerouting", -150, &count),
        chain("count_out", "filter", "output", -150, &count),
        chain("nat_pre", "nat", "prerouting", -100, &dnat),
        chain("nat_out", "nat", "output", -100, &dnat),
        chain("nat_post", "nat", "postrouting", 100, &snat),
    )
}

/// Removes the table.
pub fn teardown_script(table: &str) -> String {
    format!("table inet {table}\ndelete table inet {table}\n")
}

fn key(f: &Flow) -> String {
    format!("{} . {} . {}", f.from.ip(), f.from.port(), f.local.port())
}

fn addr(a: SocketAddr) -> String {
    format!("{} . {}", a.ip(), a.port())
}

/// Statements removing `removed` and adding `added` (in that order, so a key can be
/// replaced in one batch), each in its family's maps. Empty when both are.
pub fn update_script(table: &str, removed: &[Flow], added: &[Flow]) -> String {
    let mut s = String::new();
    for f in FAMILIES {
        let n = f.suffix();
        let of = |flows: &[Flow]| -> Vec<Flow> {
            flows
                .iter()
                .copied()
                .filter(|x| Family::of(x.from) == f)
                .collect()
        };
        let (removed, added) = (of(removed), of(added));
        if !removed.is_empty() {
            let keys: Vec<String> = removed.iter().map(key).collect();
            let keys = keys.join(", ");
            for set in ["forward_to", "send_via", "counted"] {
                let _ = writeln!(s, "delete element inet {table} {set}{n} {{ {keys} }}");
            }
        }
        if !added.is_empty() {
            let fwd: Vec<String> = added
                .iter()
                .map(|x| format!("{} : {}", key(x), addr(x.to)))
                .collect();
            let via: Vec<String> = added
                .iter()
                .map(|x| format!("{} : {}", key(x), addr(x.via)))
                .collect();
            let keys: Vec<String> = added.iter().map(key).collect();
            let _ = writeln!(
                s,
                "add element inet {table} forward_to{n} {{ {} }}",
                fwd.join(", ")
            );
            let _ = writeln!(
                s,
                "add element inet {table} send_via{n} {{ {} }}",
                via.join(", ")
            );
            let _ = writeln!(
                s,
                "add element inet {table} counted{n} {{ {} }}",
                keys.join(", ")
            );
        }
    }
    s
}

/// Empties the maps (before re-adding what should be there, after a failed batch).
pub fn flush_script(table: &str) -> String {
    let mut s = String::new();
    for f in FAMILIES {
        let n = f.suffix();
        let _ = write!(
            s,
            "flush map inet {table} forward_to{n}\nflush map inet {table} send_via{n}\nflush set inet {table} counted{n}\n"
        );
    }
    s
}

/// The set holding the counters of `family`'s flows.
pub fn counted_set(family: Family) -> &'static str {
    match family {
        Family::V4 => "counted4",
        Family::V6 => "counted6",
    }
}

/// The counters of one key of a `counted` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// The packet's source.
    pub from: SocketAddr,
    /// Our port it was sent to.
    pub port: u16,
    /// Packets forwarded.
    pub packets: u64,
    /// Bytes forwarded.
    pub bytes: u64,
}

/// Runs `nft` with `args`, feeding `script` on its standard input; returns its output.
pub fn run(nft: &str, args: &[&str], script: &str) -> Result<String, KernelError> {
    let mut child = Command::new(nft)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| KernelError::Nft(format!("cannot run {nft}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| KernelError::Nft(format!("writing to {nft}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| KernelError::Nft(format!("waiting for {nft}: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim().to_string();
        Err(KernelError::Nft(format!(
            "{nft} failed ({}): {first}",
            out.status
        )))
    }
}
