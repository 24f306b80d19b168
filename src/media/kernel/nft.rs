//! The nftables side of kernel forwarding: the table's text, element batches, counter
//! parsing (sans-IO), and running `nft -f -` (I/O).
//!
//! One table per engine, `ip pjsipd_<first RTP port>` (so daemons with disjoint port ranges
//! can share a host), holding:
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
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};

use super::{Flow, KernelError};

/// Name of the engine's table.
pub fn table_name(port_start: u16) -> String {
    format!("pjsipd_{port_start}")
}

const KEY: &str = "ipv4_addr . inet_service . inet_service";
const VALUE: &str = "ipv4_addr . inet_service";

/// Creates the table afresh (an older one, left by a daemon that crashed, is replaced).
pub fn setup_script(table: &str, port_start: u16, port_end: u16) -> String {
    let ports = format!("{port_start}-{port_end}");
    let key = "ip saddr . udp sport . udp dport";
    format!(
        "table ip {table}\n\
         delete table ip {table}\n\
         table ip {table} {{\n\
         \tmap forward_to {{\n\t\ttype {KEY} : {VALUE}\n\t}}\n\
         \tmap send_via {{\n\t\ttype {KEY} : {VALUE}\n\t}}\n\
         \tset counted {{\n\t\ttype {KEY}\n\t\tcounter\n\t}}\n\
         \tchain raw_pre {{\n\t\ttype filter hook prerouting priority -300; policy accept;\n\
         \t\tudp dport {ports} {key} != @counted notrack\n\t}}\n\
         \tchain raw_out {{\n\t\ttype filter hook output priority -300; policy accept;\n\
         \t\tudp dport {ports} {key} != @counted notrack\n\
         \t\tudp sport {ports} {key} != @counted notrack\n\t}}\n\
         \tchain count_pre {{\n\t\ttype filter hook prerouting priority -150; policy accept;\n\
         \t\tudp dport {ports} {key} @counted\n\t}}\n\
         \tchain count_out {{\n\t\ttype filter hook output priority -150; policy accept;\n\
         \t\tudp dport {ports} {key} @counted\n\t}}\n\
         \tchain nat_pre {{\n\t\ttype nat hook prerouting priority -100; policy accept;\n\
         \t\tudp dport {ports} dnat ip to {key} map @forward_to\n\t}}\n\
         \tchain nat_out {{\n\t\ttype nat hook output priority -100; policy accept;\n\
         \t\tudp dport {ports} dnat ip to {key} map @forward_to\n\t}}\n\
         \tchain nat_post {{\n\t\ttype nat hook postrouting priority 100; policy accept;\n\
         \t\tct status dnat meta l4proto udp snat ip to ct original ip saddr . ct original proto-src . ct original proto-dst map @send_via\n\t}}\n\
         }}\n"
    )
}

/// Removes the table.
pub fn teardown_script(table: &str) -> String {
    format!("table ip {table}\ndelete table ip {table}\n")
}

fn key(f: &Flow) -> String {
    format!("{} . {} . {}", f.from.ip(), f.from.port(), f.local.port())
}

fn addr(a: SocketAddrV4) -> String {
    format!("{} . {}", a.ip(), a.port())
}

/// Statements removing `removed` and adding `added` (in that order, so a key can be
/// replaced in one batch). Empty when both are.
pub fn update_script(table: &str, removed: &[Flow], added: &[Flow]) -> String {
    let mut s = String::new();
    if !removed.is_empty() {
        let keys: Vec<String> = removed.iter().map(key).collect();
        let keys = keys.join(", ");
        for set in ["forward_to", "send_via", "counted"] {
            let _ = writeln!(s, "delete element ip {table} {set} {{ {keys} }}");
        }
    }
    if !added.is_empty() {
        let fwd: Vec<String> = added
            .iter()
            .map(|f| format!("{} : {}", key(f), addr(f.to)))
            .collect();
        let via: Vec<String> = added
            .iter()
            .map(|f| format!("{} : {}", key(f), addr(f.via)))
            .collect();
        let keys: Vec<String> = added.iter().map(key).collect();
        let _ = writeln!(
            s,
            "add element ip {table} forward_to {{ {} }}",
            fwd.join(", ")
        );
        let _ = writeln!(
            s,
            "add element ip {table} send_via {{ {} }}",
            via.join(", ")
        );
        let _ = writeln!(
            s,
            "add element ip {table} counted {{ {} }}",
            keys.join(", ")
        );
    }
    s
}

/// Empties the maps (before re-adding what should be there, after a failed batch).
pub fn flush_script(table: &str) -> String {
    format!(
        "flush map ip {table} forward_to\nflush map ip {table} send_via\nflush set ip {table} counted\n"
    )
}

/// The counters of one key of the `counted` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// The packet's source.
    pub from: SocketAddrV4,
    /// Our port it was sent to.
    pub port: u16,
    /// Packets forwarded.
    pub packets: u64,
    /// Bytes forwarded.
    pub bytes: u64,
}

/// Reads the elements of `nft -n list set ip T counted`: `A . P . Q counter packets N bytes M`,
/// separated by commas and line breaks. Anything else is skipped.
pub fn parse_counters(text: &str) -> Vec<Counter> {
    let Some(start) = text.find("elements = {") else {
        return Vec::new();
    };
    let body = text.get(start + "elements = {".len()..).unwrap_or("");
    let body = body.split('}').next().unwrap_or("");
    body.split(',').filter_map(parse_element).collect()
}

fn parse_element(e: &str) -> Option<Counter> {
    let mut t = e.split_whitespace();
    let ip: Ipv4Addr = t.next()?.parse().ok()?;
    (t.next()? == ".").then_some(())?;
    let sport: u16 = t.next()?.parse().ok()?;
    (t.next()? == ".").then_some(())?;
    let port: u16 = t.next()?.parse().ok()?;
    (t.next()? == "counter").then_some(())?;
    (t.next()? == "packets").then_some(())?;
    let packets = t.next()?.parse().ok()?;
    (t.next()? == "bytes").then_some(())?;
    let bytes = t.next()?.parse().ok()?;
    Some(Counter {
        from: SocketAddrV4::new(ip, sport),
        port,
        packets,
        bytes,
    })
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
