//! Overlapping `identify` rules, reported at load so the precedence is never a surprise.

use std::collections::BTreeSet;
use std::fmt;

use foldhash::HashMap;
use ipnet::IpNet;

use crate::config::types::{Kind, MatchTarget, Object};
use crate::sorcery::Snapshot;

/// Two identify rules whose networks overlap and that name different endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    /// The rule that wins where both match (longer prefix, then a port, then the smaller id).
    pub winner: (String, IpNet, Option<u16>),
    /// The rule it shadows there.
    pub shadowed: (String, IpNet, Option<u16>),
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |(id, net, port): &(String, IpNet, Option<u16>)| match port {
            Some(p) => format!("identify '{id}' ({net} port {p})"),
            None => format!("identify '{id}' ({net})"),
        };
        write!(
            f,
            "{} overlaps {}; where both match, {} wins",
            show(&self.shadowed),
            show(&self.winner),
            show(&self.winner)
        )
    }
}

/// Every pair of identify networks where one contains the other and they lead to different
/// endpoints. O(rules × distinct prefix lengths), not O(rules²).
pub fn overlaps(snapshot: &Snapshot) -> Vec<Overlap> {
    struct Rule {
        id: String,
        endpoint: String,
        net: IpNet,
        port: Option<u16>,
    }
    let mut rules = Vec::new();
    for o in snapshot.all(Kind::Identify) {
        if let Object::Identify(i) = &o.object {
            for m in i.r#match.iter() {
                if let MatchTarget::Network { net, port } = m {
                    rules.push(Rule {
                        id: o.id().to_string(),
                        endpoint: i.endpoint.clone(),
                        net: *net,
                        port: *port,
                    });
                }
            }
        }
    }
    let mut by_net: HashMap<IpNet, Vec<usize>> = HashMap::default();
    let mut lengths: BTreeSet<(bool, u8)> = BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        by_net.entry(r.net).or_default().push(i);
        lengths.insert((r.net.addr().is_ipv4(), r.net.prefix_len()));
    }
    // Precedence as the index applies it: longer prefix, then explicit port, then smaller id.
    let rank = |r: &Rule| {
        (
            std::cmp::Reverse(r.net.prefix_len()),
            r.port.is_none(),
            r.id.clone(),
        )
    };
    let mut found = Vec::new();
    for r in &rules {
        for &(v4, len) in &lengths {
            if v4 != r.net.addr().is_ipv4() || len > r.net.prefix_len() {
                continue;
            }
            let Ok(wider) = IpNet::new(r.net.addr(), len) else {
                continue;
            };
            for &j in by_net.get(&wider.trunc()).map(Vec::as_slice).unwrap_or(&[]) {
                let other = &rules[j];
                if other.endpoint == r.endpoint || other.id == r.id {
                    continue;
                }
                // Ports that can never both match a packet do not overlap.
                if let (Some(a), Some(b)) = (r.port, other.port)
                    && a != b
                {
                    continue;
                }
                // Each unordered pair once: from the narrower (or, equal, the lower-ranked) side.
                if r.net.prefix_len() == other.net.prefix_len() && rank(r) > rank(other) {
                    continue;
                }
                let (w, s) = if rank(r) <= rank(other) {
                    (r, other)
                } else {
                    (other, r)
                };
                found.push(Overlap {
                    winner: (w.id.clone(), w.net, w.port),
                    shadowed: (s.id.clone(), s.net, s.port),
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.shadowed.0, &a.winner.0).cmp(&(&b.shadowed.0, &b.winner.0)));
    found.dedup();
    found
}
