//! The registrar (RFC 3261 10.3, Asterisk `res_pjsip_registrar.c`): applies a REGISTER's
//! Contact headers to its AOR's bindings with Asterisk's rules, and says what to answer.
//!
//! - Expiry: the Contact's `expires` parameter, else the Expires header, else the AOR's
//!   `default_expiration`; a non-zero value is clamped into `minimum_expiration` ..
//!   `maximum_expiration` (Asterisk answers 200 with the clamped value; with the pjsipd
//!   option `reject_short_expiration` a value below the minimum gets 423 with Min-Expires).
//! - `max_contacts`: counted as Asterisk counts; `remove_existing` evicts the bindings not
//!   named in the request that expire soonest, `remove_unavailable` evicts unreachable
//!   ones first; when the request cannot fit, 403 and nothing changes.
//! - `Contact: *` needs an expiry of 0 and must stand alone (400 otherwise).
//! - `+sip.instance` (and `reg-id`, RFC 5626): a device registering a new URI with the
//!   instance of an existing binding replaces that binding.
//!
//! Sans-IO and pure: it works on the AOR's bindings the location service hands it, locked.

use std::net::SocketAddr;

use crate::config::types::Aor;
use crate::location::{Binding, Change, ContactHash, Entry, Status};
use crate::sip::{ContactList, Host, NameAddr, Uri};
use crate::transport::ConnectionId;

#[cfg(test)]
mod tests;

/// What the REGISTER says, beyond its Contact headers.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    /// The endpoint that sent it.
    pub endpoint: &'a str,
    /// The Expires header (saturated to u32), if present.
    pub expires_header: Option<u32>,
    /// Path values (already checked), stored when the AOR supports Path.
    pub path: Vec<String>,
    /// User-Agent value.
    pub user_agent: String,
    /// Sent-by of the last Via.
    pub via_addr: String,
    /// Port of the last Via (0 when absent).
    pub via_port: u16,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// Where it came from.
    pub source: SocketAddr,
    /// The `type=transport` object it came in on.
    pub transport: String,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub protocol: &'static str,
    /// The connection it came on, when connection-oriented.
    pub connection: Option<ConnectionId>,
    /// Rewrite Contact URIs to the source (`rewrite_contact`, and always on WebSocket).
    pub rewrite_contact: bool,
    /// Answer 423 instead of raising short expiries.
    pub reject_short_expiration: bool,
    /// Wall clock, Unix seconds.
    pub unix_now: u64,
}

/// Why a REGISTER is refused; nothing has changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400, with the reason for the log.
    BadRequest(String),
    /// 403, with the reason for the log.
    Forbidden(String),
    /// 423 Interval Too Brief with Min-Expires.
    IntervalTooBrief {
        /// The AOR's minimum_expiration.
        min: u32,
    },
}

/// A binding as the 200 OK lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The URI the device registered.
    pub uri: String,
    /// Seconds left.
    pub expires: u64,
}

/// What was done.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// Every binding of the AOR now, for the 200 OK.
    pub listed: Vec<Listed>,
    /// The Expires header to answer with: the request's, clamped (only when it had one).
    pub expires_header: Option<u32>,
    /// Bindings added (for logs and qualify).
    pub added: Vec<Binding>,
    /// Bindings refreshed.
    pub refreshed: Vec<Binding>,
    /// Bindings removed, with why.
    pub removed: Vec<(Binding, &'static str)>,
}

/// One Contact of the request, classified.
struct Wanted {
    uri: Uri,
    registered: String,
    expires: u32,
    instance: Option<String>,
    reg_id: Option<u32>,
    /// Index of the existing binding it names (same URI, or same instance).
    existing: Option<usize>,
}

/// Applies a REGISTER's Contacts to `entries` (the AOR's unexpired bindings, locked),
/// recording database changes in `changes`.
pub fn apply(
    aor_name: &str,
    aor: &Aor,
    contacts: &ContactList,
    facts: &Facts<'_>,
    entries: &mut Vec<Entry>,
    changes: &mut Vec<Change>,
) -> Result<Applied, Refusal> {
    let expires_header = facts.expires_header;
    let clamp = |requested: u32| -> Result<u32, Refusal> {
        if requested == 0 {
            return Ok(0);
        }
        if requested < aor.minimum_expiration && facts.reject_short_expiration {
            return Err(Refusal::IntervalTooBrief {
                min: aor.minimum_expiration,
            });
        }
        Ok(requested.clamp(
            aor.minimum_expiration,
            aor.maximum_expiration.max(aor.minimum_expiration),
        ))
    };
    // The header value echoed back: clamped, never refused (423 is judged per contact,
    // on the expiry each one actually gets).
    let mut applied = Applied {
        expires_header: expires_header.map(|e| {
            if e == 0 {
                0
            } else {
                e.clamp(
                    aor.minimum_expiration,
                    aor.maximum_expiration.max(aor.minimum_expiration),
                )
            }
        }),
        ..Applied::default()
    };
    let wanted = match contacts {
        ContactList::Star => {
            // RFC 3261 10.3 step 6: `*` only with an expiry of 0.
            if expires_header != Some(0) {
                return Err(Refusal::BadRequest(
                    "Contact '*' without 'Expires: 0'".to_string(),
                ));
            }
            for e in entries.drain(..) {
                changes.push(delete(&e.binding));
                applied.removed.push((e.binding, "request"));
            }
            return Ok(applied);
        }
        ContactList::Addrs(addrs) => classify(addrs, aor, facts, entries, &clamp)?,
    };

    // Counting, as Asterisk does.
    let added = wanted
        .iter()
        .filter(|w| w.existing.is_none() && w.expires > 0)
        .count();
    let updated = wanted
        .iter()
        .filter(|w| w.existing.is_some() && w.expires > 0)
        .count();
    let deleted = wanted
        .iter()
        .filter(|w| w.existing.is_some() && w.expires == 0)
        .count();
    let max = aor.max_contacts as usize;
    let mut count = if aor.remove_existing {
        updated + added
    } else {
        (entries.len() + added).saturating_sub(deleted)
    };
    let named: Vec<usize> = wanted.iter().filter_map(|w| w.existing).collect();
    // Bindings the request does not name, soonest-expiring first, unreachable first
    // when remove_unavailable.
    let mut others: Vec<usize> = (0..entries.len()).filter(|i| !named.contains(i)).collect();
    others.sort_by_key(|&i| {
        let e = &entries[i];
        let down = aor.remove_unavailable && e.status == Status::Unreachable;
        (!down, e.binding.expires_at)
    });
    let mut evict: Vec<(usize, &'static str)> = Vec::new();
    if count > max && aor.remove_unavailable && !aor.remove_existing {
        let unreachable: Vec<usize> = others
            .iter()
            .copied()
            .filter(|&i| entries[i].status == Status::Unreachable)
            .collect();
        if count - unreachable.len().min(count) <= max {
            for &i in unreachable.iter().take(count - max) {
                evict.push((i, "remove unavailable"));
            }
            count = max;
        }
    }
    if count > max {
        return Err(Refusal::Forbidden(format!(
            "will exceed max contacts of {}",
            aor.max_contacts
        )));
    }

    // Apply: updates and deletions in place first, then additions.
    let mut gone: Vec<(usize, &'static str)> = evict;
    let mut fresh: Vec<Binding> = Vec::new();
    for w in &wanted {
        match (w.existing, w.expires) {
            (Some(i), 0) => gone.push((i, "request")),
            (Some(i), exp) => {
                let e = &mut entries[i];
                let replaced_uri = e.binding.uri != w.uri.to_string();
                let b = new_binding(aor_name, w, exp, facts);
                if replaced_uri {
                    // Same instance, new URI: the old binding goes, the new one comes.
                    gone.push((i, "request"));
                    fresh.push(b);
                } else {
                    e.binding = Binding {
                        hash: e.binding.hash.clone(),
                        ..b
                    };
                    changes.push(Change::Put(Box::new(e.binding.clone())));
                    applied.refreshed.push(e.binding.clone());
                }
            }
            (None, 0) => {
                tracing::debug!(
                    "Attempted to remove non-existent contact '{}' from AOR '{aor_name}'",
                    w.registered
                );
            }
            (None, exp) => fresh.push(new_binding(aor_name, w, exp, facts)),
        }
    }
    if aor.remove_existing {
        let keep_total = entries.len() - gone.len() + fresh.len();
        let mut excess = keep_total.saturating_sub(max);
        for &i in &others {
            if excess == 0 {
                break;
            }
            if gone.iter().any(|(g, _)| *g == i) {
                continue;
            }
            let why = if aor.remove_unavailable && entries[i].status == Status::Unreachable {
                "remove unavailable"
            } else {
                "remove existing"
            };
            gone.push((i, why));
            excess -= 1;
        }
    }
    gone.sort_by_key(|g| std::cmp::Reverse(g.0));
    gone.dedup_by_key(|g| g.0);
    for (i, why) in gone {
        let e = entries.remove(i);
        changes.push(delete(&e.binding));
        applied.removed.push((e.binding, why));
    }
    let qualified = aor.qualify_frequency > 0;
    for b in fresh {
        changes.push(Change::Put(Box::new(b.clone())));
        applied.added.push(b.clone());
        entries.push(Entry::new(b, qualified));
    }
    applied.listed = entries
        .iter()
        .map(|e| Listed {
            uri: e.binding.registered_uri.clone(),
            expires: e.binding.remaining(facts.unix_now),
        })
        .collect();
    Ok(applied)
}

/// Parses and classifies the request's Contacts (400 on a bad one).
fn classify(
    addrs: &[NameAddr],
    aor: &Aor,
    facts: &Facts<'_>,
    entries: &[Entry],
    clamp: &dyn Fn(u32) -> Result<u32, Refusal>,
) -> Result<Vec<Wanted>, Refusal> {
    let mut wanted: Vec<Wanted> = Vec::with_capacity(addrs.len());
    for a in addrs {
        // Non-SIP contacts are skipped, as Asterisk does.
        let Uri::Sip(sip) = &a.uri else { continue };
        if sip.host.to_string().len() > 255 || a.uri.to_string().len() > 2048 {
            return Err(Refusal::BadRequest("contact URI too long".to_string()));
        }
        let requested = match a.params.get("expires") {
            Some(Some(v)) => parse_expires(v.as_bytes())
                .ok_or_else(|| Refusal::BadRequest(format!("bad expires parameter '{v}'")))?,
            Some(None) => {
                return Err(Refusal::BadRequest(
                    "expires parameter without value".into(),
                ));
            }
            None => facts.expires_header.unwrap_or(aor.default_expiration),
        };
        let expires = clamp(requested)?;
        let registered = a.uri.to_string();
        let uri = if facts.rewrite_contact {
            rewrite(&a.uri, facts)
        } else {
            a.uri.clone()
        };
        let instance = a
            .params
            .value("+sip.instance")
            .map(|v| v.trim_matches('"').to_string());
        let reg_id = a.params.value("reg-id").and_then(|v| v.parse().ok());
        let existing = entries
            .iter()
            .position(|e| same_uri(&e.binding.uri, &uri))
            .or_else(|| {
                let inst = instance.as_deref()?;
                entries.iter().position(|e| {
                    e.binding.instance.as_deref() == Some(inst) && e.binding.reg_id == reg_id
                })
            });
        // The same contact twice in one request: the last one wins.
        if let Some(dup) = wanted.iter().position(|w| w.uri.equivalent(&uri)) {
            wanted.remove(dup);
        }
        wanted.push(Wanted {
            uri,
            registered,
            expires,
            instance,
            reg_id,
            existing,
        });
    }
    Ok(wanted)
}

/// An `expires` value: digits, saturated at u32::MAX (absurdly long values are clamped by
/// maximum_expiration afterwards); anything else is invalid.
pub fn parse_expires(v: &[u8]) -> Option<u32> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for d in v {
        n = (n * 10 + u64::from(d - b'0')).min(u64::from(u32::MAX));
    }
    u32::try_from(n).ok()
}

fn same_uri(stored: &str, uri: &Uri) -> bool {
    Uri::parse(stored.as_bytes()).is_ok_and(|s| s.equivalent(uri))
}

/// The Contact URI pointing at the packet's source (res_pjsip_nat's rewrite_contact).
fn rewrite(uri: &Uri, facts: &Facts<'_>) -> Uri {
    let Uri::Sip(sip) = uri else {
        return uri.clone();
    };
    let mut sip = sip.clone();
    sip.host = match facts.source.ip() {
        std::net::IpAddr::V4(ip) => Host::Ipv4(ip),
        std::net::IpAddr::V6(ip) => Host::Ipv6(ip),
    };
    sip.port = Some(facts.source.port());
    if facts.protocol != "udp" {
        sip.params.set("transport", Some(facts.protocol));
    }
    Uri::Sip(sip)
}

fn new_binding(aor: &str, w: &Wanted, expires: u32, facts: &Facts<'_>) -> Binding {
    let uri = w.uri.to_string();
    // Only reachable over this connection: a contact that points at the connection's
    // far end (rewritten, or written so by the device).
    let on_connection = facts.connection.is_some()
        && (facts.rewrite_contact || matches!(&w.uri, Uri::Sip(s) if points_at(s, facts.source)));
    Binding {
        aor: aor.to_string(),
        hash: ContactHash::of(&uri),
        uri,
        registered_uri: w.registered.clone(),
        expires_at: facts.unix_now.saturating_add(u64::from(expires)),
        path: facts.path.clone(),
        user_agent: facts.user_agent.clone(),
        endpoint: facts.endpoint.to_string(),
        via_addr: facts.via_addr.clone(),
        via_port: facts.via_port,
        call_id: facts.call_id.clone(),
        cseq: facts.cseq,
        instance: w.instance.clone(),
        reg_id: w.reg_id,
        source: facts.source,
        transport: facts.transport.clone(),
        protocol: facts.protocol.to_string(),
        connection: if on_connection {
            facts.connection
        } else {
            None
        },
        prune_on_boot: on_connection,
    }
}

fn points_at(uri: &crate::sip::SipUri, source: SocketAddr) -> bool {
    let host_ok = match (&uri.host, source.ip()) {
        (Host::Ipv4(a), std::net::IpAddr::V4(b)) => *a == b,
        (Host::Ipv6(a), std::net::IpAddr::V6(b)) => *a == b,
        _ => false,
    };
    host_ok && uri.port.unwrap_or(5060) == source.port()
}

fn delete(b: &Binding) -> Change {
    Change::Delete {
        aor: b.aor.clone(),
        hash: b.hash.clone(),
    }
}
