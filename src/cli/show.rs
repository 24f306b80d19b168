//! `pjsip show ...` listings, laid out like Asterisk's.

use std::collections::HashMap;
use std::fmt::Write as _;

use md5::{Digest, Md5};

use super::format::{LAST_TABSTOP, header_field, indent, left, line, parameters, separator};
use super::{ContactRow, Live, Reply};
use crate::config::types::{Aor, Kind, Object};
use crate::sorcery::{ObjectRef, Snapshot};

/// Options whose values are secrets: shown as `<hidden>` when set, never in clear.
const SECRET_OPTIONS: &[&str] = &[
    "password",
    "password_digest",
    "md5_cred",
    "oauth_secret",
    "refresh_token",
];

/// Runs `pjsip show <lw...>`; `words` are the same words with their original case.
pub(super) fn run(snap: &Snapshot, live: &Live, lw: &[&str], words: &[&str]) -> Reply {
    let id = words.get(1).copied().unwrap_or("");
    match lw {
        ["endpoints", ..] => list(snap, live, Kind::Endpoint),
        ["aors", ..] => list(snap, live, Kind::Aor),
        ["auths", ..] => list(snap, live, Kind::Auth),
        ["transports", ..] => list(snap, live, Kind::Transport),
        ["identifies", ..] => list(snap, live, Kind::Identify),
        ["registrations", ..] => list(snap, live, Kind::Registration),
        ["contacts", ..] => contacts(snap, live),
        ["settings", ..] => settings(snap),
        ["identifiers", ..] => identifiers(snap),
        ["endpoint", _] => one(snap, live, Kind::Endpoint, id),
        ["aor", _] => one(snap, live, Kind::Aor, id),
        ["auth", _] => one(snap, live, Kind::Auth, id),
        ["transport", _] => one(snap, live, Kind::Transport, id),
        ["identify", _] => one(snap, live, Kind::Identify, id),
        ["registration", _] => one(snap, live, Kind::Registration, id),
        ["contact", _] => one_contact(snap, live, id),
        _ => Reply::fail(
            "Usage: pjsip show {endpoints|endpoint <id>|aors|aor <id>|auths|auth <id>|\
             transports|transport <id>|identifies|identify <id>|registrations|\
             registration <id>|contacts|contact <id>|settings}\n",
        ),
    }
}

/// Pre-computed relations used while printing trees.
struct Relations<'a> {
    identifies_by_endpoint: HashMap<&'a str, Vec<&'a ObjectRef>>,
}

impl<'a> Relations<'a> {
    fn new(snap: &'a Snapshot) -> Self {
        let mut identifies_by_endpoint: HashMap<&str, Vec<&ObjectRef>> = HashMap::new();
        for o in snap.all(Kind::Identify) {
            if let Object::Identify(i) = &o.object {
                identifies_by_endpoint
                    .entry(i.endpoint.as_str())
                    .or_default()
                    .push(o);
            }
        }
        Self {
            identifies_by_endpoint,
        }
    }
}

fn list(snap: &Snapshot, live: &Live, kind: Kind) -> Reply {
    let objects: Vec<&ObjectRef> = snap.all(kind).collect();
    if objects.is_empty() {
        return Reply::ok("No objects found.\n");
    }
    let rel = Relations::new(snap);
    let mut out = String::from("\n");
    header(&mut out, kind);
    for o in &objects {
        out.push('\n');
        tree(&mut out, snap, live, &rel, o);
    }
    let _ = write!(out, "\nObjects found: {}\n", objects.len());
    Reply::ok(out)
}

fn one(snap: &Snapshot, live: &Live, kind: Kind, id: &str) -> Reply {
    let Some(o) = snap.get(kind, id) else {
        return Reply::fail(format!("Unable to find object {id}.\n"));
    };
    let rel = Relations::new(snap);
    let mut out = String::from("\n");
    header(&mut out, kind);
    out.push('\n');
    tree(&mut out, snap, live, &rel, o);
    let mut rows = params(o);
    if kind == Kind::Registration
        && let Some(r) = live.registrations.iter().find(|r| r.name == o.id())
    {
        rows.extend(r.details.iter().cloned());
        rows.sort();
    }
    parameters(&mut out, &rows);
    Reply::ok(out)
}

/// Every option of an object with its one-line value, secrets hidden, sorted by name.
fn params(o: &ObjectRef) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = o
        .object
        .option_values()
        .into_iter()
        .flat_map(|(name, lines)| split_rules(name, lines))
        .map(|(name, lines)| {
            let value = lines.join(",");
            let shown = if SECRET_OPTIONS.contains(&name) && !value.is_empty() {
                "<hidden>".to_string()
            } else {
                value
            };
            (name.to_string(), shown)
        })
        .collect();
    v.push(("type".into(), o.kind().to_string()));
    v.sort();
    v
}

/// ACL rules are stored as one ordered `permit` list (deny rules negated); shown as
/// Asterisk shows them, a `permit` row and a `deny` row (and the same for contact rules).
fn split_rules(name: &'static str, lines: Vec<String>) -> Vec<(&'static str, Vec<String>)> {
    let deny_name = match name {
        "permit" => "deny",
        "contact_permit" => "contact_deny",
        _ => return vec![(name, lines)],
    };
    let (denied, permitted): (Vec<String>, Vec<String>) =
        lines.into_iter().partition(|l| l.starts_with('!'));
    let denied = denied
        .into_iter()
        .map(|l| l.trim_start_matches('!').to_string())
        .collect();
    vec![(name, permitted), (deny_name, denied)]
}

/// One option's value as a single line, by name (robust to the struct's field names).
fn opt(o: &Object, name: &str) -> String {
    o.option_values()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l.join(","))
        .unwrap_or_default()
}

fn header(out: &mut String, kind: Kind) {
    let flex0 = LAST_TABSTOP - indent(0) - 2;
    let flex1 = LAST_TABSTOP - indent(1) - 2;
    match kind {
        Kind::Endpoint => {
            line(
                out,
                0,
                "Endpoint",
                &format!(
                    "{}  {}  {}",
                    header_field("Endpoint/CID", flex0),
                    header_field("State", 12),
                    header_field("Channels", 11)
                ),
            );
            line(out, 1, "I/OAuth", &header_field("AuthId/UserName", flex1));
            aor_header(out, 1);
            transport_header(out, 1);
            identify_header(out, 1);
            line(
                out,
                1,
                "Channel",
                &format!(
                    "{}  {}  {}",
                    header_field("ChannelId", flex1),
                    header_field("State", 12),
                    header_field("Time", 11)
                ),
            );
            let w = indent(2);
            let _ = writeln!(
                out,
                "{:>w$}: {}  CLCID: {}",
                "Exten",
                header_field("DialedExten", 24),
                header_field("ConnectedLineCID", 25)
            );
        }
        Kind::Aor => aor_header(out, 0),
        Kind::Auth => line(out, 0, "I/OAuth", &header_field("AuthId/UserName", flex0)),
        Kind::Transport => transport_header(out, 0),
        Kind::Identify => identify_header(out, 0),
        Kind::Registration => {
            let _ = writeln!(
                out,
                " {}  {}  {}",
                header_field("Registration/ServerURI", 55),
                header_field("Auth", 26),
                header_field("Status", 15)
            );
        }
        Kind::Contact => contact_header(out, 0),
        Kind::Global | Kind::System | Kind::DomainAlias | Kind::Acl => {
            line(out, 0, kind.as_str(), &header_field("Id", flex0));
        }
    }
    separator(out);
}

fn aor_header(out: &mut String, level: usize) {
    let flex = LAST_TABSTOP - indent(level) - 2;
    line(
        out,
        level,
        "Aor",
        &format!(
            "{}  {}",
            header_field("Aor", flex),
            header_field("MaxContact", 12)
        ),
    );
    contact_header(out, level + 1);
}

fn contact_width(level: usize) -> usize {
    LAST_TABSTOP - indent(level) - 2 - 11
}

fn contact_header(out: &mut String, level: usize) {
    line(
        out,
        level,
        "Contact",
        &format!(
            "{} {} {} {}",
            header_field("Aor/ContactUri", contact_width(level)),
            header_field("Hash", 10),
            header_field("Status", 8),
            header_field("RTT(ms)", 11)
        ),
    );
}

fn transport_header(out: &mut String, level: usize) {
    line(
        out,
        level,
        "Transport",
        &format!(
            "{}  {}  {}  {}  {}",
            header_field("TransportId", 21),
            header_field("Type", 6),
            header_field("cos", 5),
            header_field("tos", 5),
            header_field("BindAddress", 31)
        ),
    );
}

fn identify_header(out: &mut String, level: usize) {
    line(
        out,
        level,
        "Identify",
        &header_field("Identify/Endpoint", LAST_TABSTOP - indent(level) - 2),
    );
    line(out, level + 1, "Match", &header_field("criteria", 35));
}

fn tree(out: &mut String, snap: &Snapshot, live: &Live, rel: &Relations<'_>, o: &ObjectRef) {
    match &o.object {
        Object::Endpoint(e) => {
            let cid = callerid_number(&opt(&o.object, "callerid"));
            let name = match cid {
                Some(n) => format!("{}/{n}", o.id()),
                None => o.id().to_string(),
            };
            let reachable = e.aors.iter().any(|a| {
                matches!(snap.get(Kind::Aor, a.as_str()).map(|x| &x.object),
                    Some(Object::Aor(aor)) if aor_contacts(snap, live, a.as_str(), aor)
                        .iter()
                        .any(|c| c.status != "Unavail"))
            });
            let state = if reachable {
                "Not in use"
            } else {
                "Unavailable"
            };
            let busy_at = opt(&o.object, "device_state_busy_at");
            let limit = match busy_at.parse::<u32>() {
                Ok(n) if n > 0 => n.to_string(),
                _ => "inf".to_string(),
            };
            line(
                out,
                0,
                "Endpoint",
                &format!(
                    "{}  {}  0 of {limit}",
                    left(&name, LAST_TABSTOP - indent(0) - 2),
                    left(state, 12)
                ),
            );
            for (title, list) in [("InAuth", &e.auth), ("OutAuth", &e.outbound_auth)] {
                for a in list.iter() {
                    auth_row(out, snap, 1, title, a.as_str());
                }
            }
            for a in e.aors.iter() {
                if let Some(aor) = snap.get(Kind::Aor, a.as_str()) {
                    aor_tree(out, snap, live, 1, aor);
                }
            }
            if !e.transport.is_empty()
                && let Some(t) = snap.get(Kind::Transport, &e.transport)
            {
                transport_row(out, 1, t);
            }
            for i in rel
                .identifies_by_endpoint
                .get(o.id())
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                identify_tree(out, 1, i);
            }
        }
        Object::Aor(_) => aor_tree(out, snap, live, 0, o),
        Object::Auth(_) => auth_row(out, snap, 0, "I/OAuth", o.id()),
        Object::Transport(_) => transport_row(out, 0, o),
        Object::Identify(_) => identify_tree(out, 0, o),
        Object::Registration(r) => {
            let state = live.registrations.iter().find(|x| x.name == o.id());
            let status = match state {
                Some(x) => match x.next_secs {
                    Some(n) if n >= 0 => format!("{:<16} (exp. {n}s)", x.status),
                    Some(n) => format!("{:<16} (exp. {}s ago)", x.status, -n),
                    None => x.status.clone(),
                },
                None => "Unregistered".to_string(),
            };
            let auth = r
                .outbound_auth
                .iter()
                .next()
                .map(|a| a.as_str().to_string())
                .unwrap_or_else(|| "n/a".into());
            let name = format!("{}/{}", o.id(), r.server_uri);
            let _ = writeln!(out, " {}  {}  {status}", left(&name, 55), left(&auth, 26));
        }
        Object::Contact(c) => {
            let (aor, _) = split_contact_id(o.id());
            let row = ContactRow {
                aor: aor.to_string(),
                uri: c.uri.0.clone(),
                hash: contact_hash(o.id(), &c.uri.0),
                status: "NonQual".into(),
                ..ContactRow::default()
            };
            contact_row(out, 0, &row);
        }
        _ => line(out, 0, o.kind().as_str(), o.id()),
    }
}

fn auth_row(out: &mut String, snap: &Snapshot, level: usize, title: &str, id: &str) {
    let user = match snap.get(Kind::Auth, id).map(|o| &o.object) {
        Some(Object::Auth(a)) => a.username.clone(),
        _ => "(missing)".to_string(),
    };
    line(out, level, title, &format!("{id}/{user}"));
}

fn aor_tree(out: &mut String, snap: &Snapshot, live: &Live, level: usize, o: &ObjectRef) {
    let Object::Aor(aor) = &o.object else {
        return;
    };
    line(
        out,
        level,
        "Aor",
        &format!(
            "{}  {:>12}",
            left(o.id(), LAST_TABSTOP - indent(level) - 2),
            aor.max_contacts
        ),
    );
    for row in aor_contacts(snap, live, o.id(), aor) {
        contact_row(out, level + 1, &row);
    }
}

/// The contacts of an AOR: its static `contact=` URIs, `type=contact` objects named
/// `<aor>@@...` or `<aor>;@...`, then its registered contacts, with their live status.
fn aor_contacts(snap: &Snapshot, live: &Live, aor_id: &str, aor: &Aor) -> Vec<ContactRow> {
    let status_of = |hash: &str| {
        live.contacts
            .iter()
            .find(|c| !c.dynamic && c.aor == aor_id && c.hash == hash)
    };
    let row = |uri: &str, hash: String| {
        let live = status_of(&hash);
        ContactRow {
            aor: aor_id.to_string(),
            uri: uri.to_string(),
            hash,
            status: live.map_or_else(|| "NonQual".into(), |r| r.status.clone()),
            rtt_ms: live.and_then(|r| r.rtt_ms),
            ..ContactRow::default()
        }
    };
    let mut v: Vec<ContactRow> = aor
        .contact
        .0
        .iter()
        .map(|u| row(&u.0, md5_hex(&u.0)))
        .collect();
    for c in snap.all(Kind::Contact) {
        if split_contact_id(c.id()).0 == aor_id
            && let Object::Contact(contact) = &c.object
        {
            v.push(row(&contact.uri.0, contact_hash(c.id(), &contact.uri.0)));
        }
    }
    v.extend(
        live.contacts
            .iter()
            .filter(|c| c.dynamic && c.aor == aor_id)
            .cloned(),
    );
    v
}

/// `aor@@hash` / `aor;@hash` → (`aor`, `hash`); anything else is its own AOR.
fn split_contact_id(id: &str) -> (&str, &str) {
    id.split_once("@@")
        .or_else(|| id.split_once(";@"))
        .unwrap_or((id, ""))
}

fn contact_hash(id: &str, uri: &str) -> String {
    match split_contact_id(id).1 {
        "" => md5_hex(uri),
        h => h.to_string(),
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

fn contact_row(out: &mut String, level: usize, row: &ContactRow) {
    let name = format!("{}/{}", row.aor, row.uri);
    let hash: String = row.hash.chars().take(10).collect();
    let rtt = match row.rtt_ms {
        Some(ms) if row.status == "Avail" => format!("{ms:.3}"),
        _ => "nan".to_string(),
    };
    line(
        out,
        level,
        "Contact",
        &format!(
            "{} {:<10} {:<8} {:>11}",
            left(&name, contact_width(level)),
            hash,
            row.status,
            rtt
        ),
    );
}

fn transport_row(out: &mut String, level: usize, o: &ObjectRef) {
    let Object::Transport(t) = &o.object else {
        return;
    };
    let bind = t
        .bind
        .socket_addr(t.protocol.default_port())
        .map(|a| a.to_string())
        .unwrap_or_default();
    line(
        out,
        level,
        "Transport",
        &format!(
            "{}  {}  {:>5}  {:>5}  {bind}",
            left(o.id(), 21),
            left(t.protocol.as_str(), 6),
            t.cos,
            t.tos
        ),
    );
}

fn identify_tree(out: &mut String, level: usize, o: &ObjectRef) {
    let Object::Identify(i) = &o.object else {
        return;
    };
    line(
        out,
        level,
        "Identify",
        &format!("{}/{}", o.id(), i.endpoint),
    );
    for m in i.r#match.iter() {
        line(out, level + 1, "Match", &m.to_string());
    }
    if !i.match_header.is_empty() {
        line(
            out,
            level + 1,
            "Match",
            &format!("header: {}", i.match_header),
        );
    }
    if !i.match_request_uri.is_empty() {
        line(
            out,
            level + 1,
            "Match",
            &format!("request_uri: {}", i.match_request_uri),
        );
    }
}

fn contacts(snap: &Snapshot, live: &Live) -> Reply {
    let mut rows = Vec::new();
    for o in snap.all(Kind::Aor) {
        if let Object::Aor(aor) = &o.object {
            rows.extend(aor_contacts(snap, live, o.id(), aor));
        }
    }
    // Contacts whose AOR is not configured are still listed.
    for c in snap.all(Kind::Contact) {
        let (aor, _) = split_contact_id(c.id());
        if snap.get(Kind::Aor, aor).is_none()
            && let Object::Contact(contact) = &c.object
        {
            rows.push(ContactRow {
                aor: aor.to_string(),
                uri: contact.uri.0.clone(),
                hash: contact_hash(c.id(), &contact.uri.0),
                status: "NonQual".into(),
                ..ContactRow::default()
            });
        }
    }
    rows.extend(
        live.contacts
            .iter()
            .filter(|c| c.dynamic && snap.get(Kind::Aor, &c.aor).is_none())
            .cloned(),
    );
    if rows.is_empty() {
        return Reply::ok("No objects found.\n");
    }
    let mut out = String::from("\n");
    contact_header(&mut out, 0);
    separator(&mut out);
    out.push('\n');
    for row in &rows {
        contact_row(&mut out, 0, row);
    }
    let _ = write!(out, "\nObjects found: {}\n", rows.len());
    Reply::ok(out)
}

fn one_contact(snap: &Snapshot, live: &Live, id: &str) -> Reply {
    if let Some(o) = snap.get(Kind::Contact, id) {
        return one(snap, live, Kind::Contact, o.id());
    }
    // Contacts are addressed as `<aor>@@<hash>` (static), `<aor>;@<hash>` (registered)
    // or `<aor>/<uri>`.
    for o in snap.all(Kind::Aor) {
        if let Object::Aor(aor) = &o.object {
            for row in aor_contacts(snap, live, o.id(), aor) {
                let sep = if row.dynamic { ";@" } else { "@@" };
                let full = format!("{}{sep}{}", o.id(), row.hash);
                let named = format!("{}/{}", o.id(), row.uri);
                if id == full || id == named {
                    let mut out = String::from("\n");
                    contact_header(&mut out, 0);
                    separator(&mut out);
                    out.push('\n');
                    contact_row(&mut out, 0, &row);
                    let mut details = vec![
                        ("aor".into(), o.id().to_string()),
                        ("id".into(), full),
                        ("uri".into(), row.uri.clone()),
                    ];
                    details.extend(row.details.iter().cloned());
                    parameters(&mut out, &details);
                    return Reply::ok(out);
                }
            }
        }
    }
    Reply::fail(format!("Unable to find object {id}.\n"))
}

fn settings(snap: &Snapshot) -> Reply {
    let mut out = String::from("\nGlobal Settings:\n");
    let global = snap
        .all(Kind::Global)
        .next()
        .map(|o| o.object.clone())
        .unwrap_or_else(|| Object::Global(Box::new(snap.global())));
    parameters(&mut out, &plain_params(&global));
    out.push_str("\nSystem Settings:\n");
    let system = snap
        .all(Kind::System)
        .next()
        .map(|o| o.object.clone())
        .unwrap_or_else(|| Object::System(snap.system()));
    parameters(&mut out, &plain_params(&system));
    Reply::ok(out)
}

/// The identifier order (as Asterisk's `pjsip show identifiers`) and the identify rules that
/// overlap, with the one that wins.
fn identifiers(snap: &Snapshot) -> Reply {
    let mut out = String::from("\nIdentifiers (in the order they are tried):\n");
    for (i, id) in crate::identify::identifier_order(snap).iter().enumerate() {
        let _ = writeln!(out, " {:>2}. {}", i + 1, id.name());
    }
    let overlaps = crate::identify::overlaps(snap);
    if overlaps.is_empty() {
        out.push_str("\nNo identify rules overlap.\n");
    } else {
        out.push_str("\nOverlapping identify rules:\n");
        for o in overlaps {
            let _ = writeln!(out, " {o}");
        }
    }
    Reply::ok(out)
}

fn plain_params(o: &Object) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = o
        .option_values()
        .into_iter()
        .map(|(n, l)| (n.to_string(), l.join(",")))
        .collect();
    v.sort();
    v
}

/// The number of a `"Name" <number>` caller id (or the whole value when it has no `<>`).
fn callerid_number(cid: &str) -> Option<String> {
    let cid = cid.trim();
    if cid.is_empty() {
        return None;
    }
    let n = match (cid.rfind('<'), cid.rfind('>')) {
        (Some(a), Some(b)) if a < b => cid[a + 1..b].trim(),
        _ => cid.trim_matches('"').trim(),
    };
    (!n.is_empty()).then(|| n.to_string())
}
