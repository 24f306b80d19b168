//! REGISTER on a queue: the checks Asterisk's registrar makes before touching the location
//! service (an AOR for the endpoint, a SIP To URI, max_contacts, Path), then
//! [`crate::registrar::apply`] on the AOR's bindings and the answer.

use std::time::Instant;

use bytes::Bytes;

use super::{Core, Responder};
use crate::config::types::{Aor, IdentifyMethod, Kind, Object};
use crate::identify::Identified;
use crate::registrar::{self, Facts, Refusal};
use crate::sip::{HeaderName, Request, Uri};
use crate::sorcery::Snapshot;
use crate::transport::Flow;

impl Core {
    /// Serves an identified and authenticated REGISTER.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn register(
        &mut self,
        now: Instant,
        unix_now: u64,
        snapshot: &Snapshot,
        key: Responder<'_>,
        request: &Request,
        identified: &Identified,
        usernames: &[&str],
        flow: &Flow,
    ) {
        let source = flow.remote;
        let name = identified.endpoint.as_str();
        let Some(endpoint) = snapshot.endpoint(name) else {
            self.answer(now, key, request, 403, &[]);
            return;
        };
        if endpoint.aors.is_empty() {
            tracing::warn!("Endpoint '{name}' ({source}) has no configured AORs");
            self.answer(now, key, request, 403, &[]);
            return;
        }
        let to = match request.to_addr() {
            Ok(to) => to,
            Err(_) => {
                self.answer(now, key, request, 400, &[]);
                return;
            }
        };
        let Uri::Sip(to_uri) = &to.uri else {
            tracing::warn!(
                "Endpoint '{name}' ({source}) attempted to register to an AOR with a non-SIP URI"
            );
            self.answer(now, key, request, 416, &[]);
            return;
        };
        let mut user = to_uri.user_decoded().map(|u| crate::sip::owned_text(&u));
        if crate::identify::global(snapshot).ignore_uri_user_options
            && let Some(u) = user.as_mut()
            && let Some(cut) = u.find(';')
        {
            u.truncate(cut);
        }
        let host = to_uri.host.to_string();
        let by_auth = endpoint
            .identify_by
            .0
            .contains(&IdentifyMethod::AuthUsername);
        let Some((aor_name, aor)) = find_aor(snapshot, &endpoint.aors.0, user.as_deref(), &host)
            .or_else(|| {
                by_auth
                    .then(|| {
                        usernames
                            .iter()
                            .find_map(|u| find_aor(snapshot, &endpoint.aors.0, Some(u), &host))
                    })
                    .flatten()
            })
        else {
            tracing::warn!(
                "AOR '{}' not found for endpoint '{name}' ({source})",
                user.as_deref().unwrap_or_default()
            );
            self.answer(now, key, request, 404, &[]);
            return;
        };
        if aor.max_contacts == 0 {
            tracing::warn!(
                "AOR '{aor_name}' has no configured max_contacts. Endpoint '{name}' ({source}) unable to register"
            );
            self.answer(now, key, request, 403, &[]);
            return;
        }
        let contacts = match request.contacts() {
            Ok(c) => c,
            Err(_) => {
                tracing::warn!("Failed to validate contacts in REGISTER request from '{name}'");
                self.answer(now, key, request, 400, &[]);
                return;
            }
        };
        // A query (no Contact) changes nothing; the same answer lists the bindings.
        let expires_header = match request.headers.get(&HeaderName::Expires) {
            None => None,
            Some(v) => match registrar::parse_expires(v) {
                Some(e) => Some(e),
                None => {
                    tracing::warn!("Invalid Expires header in REGISTER request from '{name}'");
                    self.answer(now, key, request, 400, &[]);
                    return;
                }
            },
        };
        let path = if aor.support_path {
            match request.headers.paths() {
                Ok(p) if p.is_empty() => Vec::new(),
                Ok(p) => {
                    let supported = request
                        .headers
                        .tokens(&HeaderName::Supported)
                        .is_ok_and(|t| t.iter().any(|t| t.eq_ignore_ascii_case("path")));
                    if !supported {
                        tracing::warn!(
                            "Invalid modifications made to REGISTER request from '{name}' by intervening proxy"
                        );
                        self.answer(now, key, request, 420, &[]);
                        return;
                    }
                    p.iter().map(ToString::to_string).collect()
                }
                Err(_) => {
                    tracing::warn!("Invalid Path header in REGISTER request from '{name}'");
                    self.answer(now, key, request, 400, &[]);
                    return;
                }
            }
        } else {
            Vec::new()
        };
        let (via_addr, via_port) = request
            .headers
            .vias()
            .ok()
            .and_then(|v| v.last().map(|v| (v.host.to_string(), v.port.unwrap_or(0))))
            .unwrap_or_default();
        let protocol = flow_protocol(flow);
        let facts = Facts {
            endpoint: name,
            expires_header,
            path,
            user_agent: header_text(request, &HeaderName::UserAgent),
            via_addr,
            via_port,
            call_id: header_text(request, &HeaderName::CallId),
            cseq: request.headers.cseq().map(|c| c.seq).unwrap_or(0),
            source,
            transport: flow.transport.to_string(),
            protocol,
            connection: flow.connection,
            rewrite_contact: endpoint.rewrite_contact || protocol.starts_with("ws"),
            reject_short_expiration: aor.reject_short_expiration,
            unix_now,
        };
        let is_query = matches!(&*contacts, crate::sip::ContactList::Addrs(a) if a.is_empty());
        let location = self.location.clone();
        let result = location.update_aor(&aor_name, unix_now, |entries, changes| {
            if is_query {
                return Ok(registrar::Applied {
                    listed: entries
                        .iter()
                        .map(|e| registrar::Listed {
                            uri: e.binding.registered_uri.clone(),
                            expires: e.binding.remaining(unix_now),
                        })
                        .collect(),
                    ..Default::default()
                });
            }
            registrar::apply(&aor_name, aor, &contacts, &facts, entries, changes)
        });
        match result {
            Err(Refusal::BadRequest(why)) => {
                tracing::warn!(
                    "Failed to validate contacts in REGISTER request from '{name}': {why}"
                );
                self.answer(now, key, request, 400, &[]);
            }
            Err(Refusal::Forbidden(why)) => {
                tracing::warn!(
                    "Registration attempt from endpoint '{name}' ({source}) to AOR '{aor_name}' {why}"
                );
                self.answer(now, key, request, 403, &[]);
            }
            Err(Refusal::IntervalTooBrief { min }) => {
                let h = [(HeaderName::MinExpires, Bytes::from(min.to_string()))];
                self.answer(now, key, request, 423, &h);
            }
            Ok(applied) => {
                for b in &applied.added {
                    tracing::info!(
                        "Added contact '{}' to AOR '{aor_name}' with expiration of {} seconds",
                        b.uri,
                        b.remaining(unix_now)
                    );
                }
                for (b, why) in &applied.removed {
                    tracing::info!(
                        "Removed contact '{}' from AOR '{aor_name}' due to {why}",
                        b.uri
                    );
                }
                for b in &applied.refreshed {
                    tracing::debug!("Refreshed contact '{}' on AOR '{aor_name}'", b.uri);
                }
                let mut headers: Vec<(HeaderName, Bytes)> = Vec::new();
                for l in &applied.listed {
                    headers.push((
                        HeaderName::Contact,
                        Bytes::from(format!("<{}>;expires={}", l.uri, l.expires)),
                    ));
                }
                for c in aor.contact.iter() {
                    headers.push((HeaderName::Contact, Bytes::from(format!("<{c}>"))));
                }
                if let Some(e) = applied.expires_header {
                    headers.push((HeaderName::Expires, Bytes::from(e.to_string())));
                }
                headers.push((HeaderName::Date, Bytes::from(http_date(unix_now))));
                self.answer(now, key, request, 200, &headers);
            }
        }
    }
}

/// The AOR a REGISTER's To names among the endpoint's `aors`: `user@host`, then
/// `user@<domain_alias of host>`, then `user` (Asterisk's find_registrar_aor). Compared in
/// place: this runs for every REGISTER.
fn find_aor<'a>(
    snapshot: &'a Snapshot,
    aors: &[crate::config::options::Name],
    user: Option<&str>,
    host: &str,
) -> Option<(String, &'a Aor)> {
    let user = user.filter(|u| !u.is_empty())?;
    let alias = match snapshot.get(Kind::DomainAlias, host).map(|o| &o.object) {
        Some(Object::DomainAlias(a)) => Some(a.domain.as_str()),
        _ => None,
    };
    let at = |name: &str, domain: &str| {
        name.strip_prefix(user)
            .and_then(|rest| rest.strip_prefix('@'))
            .is_some_and(|d| d == domain)
    };
    let pick = |wanted: &dyn Fn(&str) -> bool| {
        aors.iter()
            .map(|a| a.as_str())
            .find(|a| wanted(a))
            .and_then(
                |name| match snapshot.get(Kind::Aor, name).map(|o| &o.object) {
                    Some(Object::Aor(aor)) => Some((name.to_string(), aor)),
                    _ => None,
                },
            )
    };
    pick(&|a| at(a, host))
        .or_else(|| alias.and_then(|d| pick(&|a| at(a, d))))
        .or_else(|| pick(&|a| a == user))
}

fn header_text(request: &Request, name: &HeaderName) -> String {
    request
        .headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
        .unwrap_or_default()
}

fn flow_protocol(flow: &Flow) -> &'static str {
    use crate::config::types::TransportProtocol as P;
    match flow.protocol {
        P::Udp | P::Flow => "udp",
        P::Tcp => "tcp",
        P::Tls => "tls",
        P::Ws => "ws",
        P::Wss => "wss",
    }
}

/// RFC 1123 date (`Tue, 01 Dec 2026 23:40:00 GMT`) of a Unix time.
pub(crate) fn http_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
