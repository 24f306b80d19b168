//! `type=wizard`: one section that expands into the endpoint, aor, auths, identify and
//! registrations of a trunk or phone, named as Asterisk's `res_pjsip_config_wizard` names them:
//! endpoint and aor `<name>`, identify `<name>-identify`, auths `<name>-iauth` /
//! `<name>-oauth`, registrations `<name>-reg-0`, `<name>-reg-1`, ...
//!
//! One improvement over Asterisk: with `accepts_registrations=yes` and no `aor/max_contacts`,
//! the aor gets `max_contacts=1` (Asterisk leaves 0, which refuses every REGISTER with 403 —
//! a classic trap), and a notice says so.

use super::build::Line;
use super::diagnostic::Diagnostic;
use super::ini::did_you_mean;
use super::options::parse_bool;
use super::source::Location;
use super::types::Kind;

/// An object the wizard generates, as lines to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// Its type.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Lines to apply, in order.
    pub lines: Vec<Line>,
}

/// What a wizard section expands into.
#[derive(Clone, Debug, Default)]
pub struct Expansion {
    /// The objects.
    pub objects: Vec<Generated>,
    /// Problems in the wizard section.
    pub diagnostics: Vec<Diagnostic>,
}

/// Wizard options (besides `type` and the `prefix/option` pass-throughs).
const OPTIONS: &[&str] = &[
    "transport",
    "remote_hosts",
    "outbound_proxy",
    "sends_auth",
    "accepts_auth",
    "sends_registrations",
    "sends_line_with_registrations",
    "accepts_registrations",
    "has_phoneprov",
    "server_uri_pattern",
    "client_uri_pattern",
    "contact_pattern",
    "has_hint",
    "hint_context",
    "hint_exten",
    "hint_application",
];

/// Pass-through prefixes: `endpoint/context=...` sets `context` on the endpoint.
const PREFIXES: &[&str] = &[
    "endpoint",
    "aor",
    "inbound_auth",
    "outbound_auth",
    "identify",
    "registration",
    "phoneprov",
];

/// Options acted on only by later parts of pjsipd (dialplan hints, phone provisioning).
const NOT_YET: &[&str] = &[
    "has_phoneprov",
    "has_hint",
    "hint_context",
    "hint_exten",
    "hint_application",
];

#[derive(Default)]
struct Wizard<'a> {
    scalars: Vec<(&'a str, &'a Line)>,
    passthrough: Vec<(&'a str, Line)>,
}

impl<'a> Wizard<'a> {
    fn get(&self, name: &str) -> Option<&'a Line> {
        self.scalars
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
    }

    fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).map(|l| l.value.as_str())
    }

    fn pass(&self, prefix: &str) -> Vec<Line> {
        self.passthrough
            .iter()
            .filter(|(p, _)| *p == prefix)
            .map(|(_, l)| l.clone())
            .collect()
    }

    fn has_pass(&self, prefix: &str, option: &str) -> bool {
        self.passthrough
            .iter()
            .any(|(p, l)| *p == prefix && l.name == option)
    }

    fn pass_value(&self, prefix: &str, option: &str) -> Option<&str> {
        self.passthrough
            .iter()
            .rev()
            .find(|(p, l)| *p == prefix && l.name == option)
            .map(|(_, l)| l.value.as_str())
    }
}

/// Expands wizard `name` whose lines (templates resolved) are `lines`.
pub fn expand<L: std::borrow::Borrow<Line>>(
    name: &str,
    location: &Location,
    lines: &[L],
) -> Expansion {
    let mut out = Expansion::default();
    let mut w = Wizard::default();
    for line in lines {
        let line: &Line = line.borrow();
        if line.name == "type" {
            continue;
        }
        if let Some((prefix, option)) = line.name.split_once('/') {
            if PREFIXES.contains(&prefix) && !option.is_empty() {
                w.passthrough.push((
                    PREFIXES
                        .iter()
                        .copied()
                        .find(|p| *p == prefix)
                        .unwrap_or(prefix),
                    Line {
                        name: option.to_string(),
                        value: line.value.clone(),
                        location: line.location.clone(),
                    },
                ));
            } else {
                let hint = did_you_mean(prefix, PREFIXES.iter().copied())
                    .map(|s| format!(" (did you mean '{s}/'?)"))
                    .unwrap_or_default();
                out.diagnostics.push(
                    Diagnostic::error(
                        Some(line.location.clone()),
                        format!("unknown wizard prefix '{prefix}/'{hint}"),
                    )
                    .with_object("wizard", name)
                    .with_option(&line.name),
                );
            }
        } else if let Some(opt) = OPTIONS.iter().find(|o| **o == line.name) {
            w.scalars.push((opt, line));
        } else {
            let hint = did_you_mean(&line.name, OPTIONS.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            out.diagnostics.push(
                Diagnostic::error(
                    Some(line.location.clone()),
                    format!("unknown option for type 'wizard'{hint}"),
                )
                .with_object("wizard", name)
                .with_option(&line.name),
            );
        }
    }
    let flag = |out: &mut Expansion, opt: &str| -> bool {
        match w.get(opt) {
            None => false,
            Some(l) => match parse_bool(&l.value) {
                Ok(b) => b,
                Err(e) => {
                    out.diagnostics.push(
                        Diagnostic::error(Some(l.location.clone()), format!("bad value: {e}"))
                            .with_object("wizard", name)
                            .with_option(opt),
                    );
                    false
                }
            },
        }
    };
    let sends_auth = flag(&mut out, "sends_auth");
    let accepts_auth = flag(&mut out, "accepts_auth");
    let sends_registrations = flag(&mut out, "sends_registrations");
    let sends_line = flag(&mut out, "sends_line_with_registrations");
    let accepts_registrations = flag(&mut out, "accepts_registrations");
    for opt in NOT_YET {
        if let Some(l) = w.get(opt) {
            out.diagnostics.push(
                Diagnostic::notice(Some(l.location.clone()), "accepted, not yet supported")
                    .with_object("wizard", name)
                    .with_option(opt),
            );
        }
    }
    if out.diagnostics.iter().any(Diagnostic::is_error) {
        return out;
    }

    let remote_hosts: Vec<String> = w
        .value("remote_hosts")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let at = |n: &str, v: &str| Line {
        name: n.to_string(),
        value: v.to_string(),
        location: w
            .get(n)
            .map(|l| l.location.clone())
            .unwrap_or_else(|| location.clone()),
    };
    let gen_line = |n: &str, v: &str| Line {
        name: n.to_string(),
        value: v.to_string(),
        location: location.clone(),
    };
    let error =
        |msg: String| Diagnostic::error(Some(location.clone()), msg).with_object("wizard", name);

    if remote_hosts.is_empty() && !accepts_registrations {
        out.diagnostics.push(error(format!(
            "Wizard '{name}' must have 'remote_hosts' if it doesn't accept registrations."
        )));
    }
    if sends_registrations && remote_hosts.is_empty() {
        out.diagnostics.push(error(format!(
            "Wizard '{name}' must have 'remote_hosts' if it sends registrations."
        )));
    }
    let oauth_user = w
        .pass_value("outbound_auth", "username")
        .map(str::to_string);
    if sends_auth && oauth_user.is_none() {
        out.diagnostics.push(error(format!(
            "Wizard '{name}' must have 'outbound_auth/username' if it sends authentication."
        )));
    }
    if accepts_auth && !w.has_pass("inbound_auth", "username") {
        out.diagnostics.push(error(format!(
            "Wizard '{name}' must have 'inbound_auth/username' if it accepts authentication."
        )));
    }
    if out.diagnostics.iter().any(Diagnostic::is_error) {
        return out;
    }

    // Endpoint.
    let mut ep = Vec::new();
    if !w.has_pass("endpoint", "aors") {
        ep.push(gen_line("aors", name));
    }
    if let Some(t) = w.value("transport")
        && !w.has_pass("endpoint", "transport")
    {
        ep.push(at("transport", t));
    }
    if let Some(p) = w.value("outbound_proxy")
        && !w.has_pass("endpoint", "outbound_proxy")
    {
        ep.push(at("outbound_proxy", p));
    }
    if accepts_auth && !w.has_pass("endpoint", "auth") {
        ep.push(gen_line("auth", &format!("{name}-iauth")));
    }
    if sends_auth && !w.has_pass("endpoint", "outbound_auth") {
        ep.push(gen_line("outbound_auth", &format!("{name}-oauth")));
    }
    ep.extend(w.pass("endpoint"));
    out.objects.push(Generated {
        kind: Kind::Endpoint,
        id: name.to_string(),
        lines: ep,
    });

    // Aor.
    let mut aor = Vec::new();
    if !accepts_registrations && !w.has_pass("aor", "contact") {
        let pattern = w.value("contact_pattern").unwrap_or("sip:${REMOTE_HOST}");
        for host in &remote_hosts {
            aor.push(at("contact", &pattern.replace("${REMOTE_HOST}", host)));
        }
    }
    if let Some(p) = w.value("outbound_proxy")
        && !w.has_pass("aor", "outbound_proxy")
    {
        aor.push(at("outbound_proxy", p));
    }
    if accepts_registrations && !w.has_pass("aor", "max_contacts") {
        aor.push(gen_line("max_contacts", "1"));
        out.diagnostics.push(
            Diagnostic::notice(
                Some(location.clone()),
                "accepts_registrations without aor/max_contacts: using max_contacts=1 (Asterisk would refuse every REGISTER)",
            )
            .with_object("wizard", name),
        );
    }
    aor.extend(w.pass("aor"));
    out.objects.push(Generated {
        kind: Kind::Aor,
        id: name.to_string(),
        lines: aor,
    });

    // Identify.
    if !accepts_registrations && !sends_line {
        let mut ident = vec![gen_line("endpoint", name)];
        if !w.has_pass("identify", "match") {
            for host in &remote_hosts {
                ident.push(at("match", strip_port(host)));
            }
        }
        ident.extend(w.pass("identify"));
        out.objects.push(Generated {
            kind: Kind::Identify,
            id: format!("{name}-identify"),
            lines: ident,
        });
    }

    // Auths.
    if accepts_auth {
        out.objects.push(Generated {
            kind: Kind::Auth,
            id: format!("{name}-iauth"),
            lines: w.pass("inbound_auth"),
        });
    }
    if sends_auth {
        out.objects.push(Generated {
            kind: Kind::Auth,
            id: format!("{name}-oauth"),
            lines: w.pass("outbound_auth"),
        });
    }

    // Registrations, one per remote host.
    if sends_registrations {
        let server_pattern = w
            .value("server_uri_pattern")
            .unwrap_or("sip:${REMOTE_HOST}");
        let client_pattern = w
            .value("client_uri_pattern")
            .unwrap_or("sip:${USERNAME}@${REMOTE_HOST}");
        let username = oauth_user.unwrap_or_default();
        for (i, host) in remote_hosts.iter().enumerate() {
            let subst = |p: &str| {
                p.replace("${REMOTE_HOST}", host)
                    .replace("${USERNAME}", &username)
            };
            let mut reg = Vec::new();
            if !w.has_pass("registration", "server_uri") {
                reg.push(at("server_uri_pattern", &subst(server_pattern)));
                if let Some(l) = reg.last_mut() {
                    l.name = "server_uri".into();
                }
            }
            if !w.has_pass("registration", "client_uri") {
                reg.push(at("client_uri_pattern", &subst(client_pattern)));
                if let Some(l) = reg.last_mut() {
                    l.name = "client_uri".into();
                }
            }
            if let Some(t) = w.value("transport") {
                reg.push(at("transport", t));
            }
            if let Some(p) = w.value("outbound_proxy") {
                reg.push(at("outbound_proxy", p));
            }
            if sends_auth {
                reg.push(gen_line("outbound_auth", &format!("{name}-oauth")));
            }
            if sends_line {
                reg.push(gen_line("line", "yes"));
                reg.push(gen_line("endpoint", name));
            }
            reg.extend(w.pass("registration"));
            out.objects.push(Generated {
                kind: Kind::Registration,
                id: format!("{name}-reg-{i}"),
                lines: reg,
            });
        }
    }
    if !w.pass("phoneprov").is_empty() {
        out.diagnostics.push(
            Diagnostic::notice(
                Some(location.clone()),
                "phoneprov/ options: accepted, not yet supported",
            )
            .with_object("wizard", name),
        );
    }
    out
}

/// `host:port` → `host`; `[v6]:port` → `v6`; anything else unchanged.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[(&str, &str)]) -> Vec<Line> {
        text.iter()
            .enumerate()
            .map(|(i, (n, v))| Line {
                name: n.to_string(),
                value: v.to_string(),
                location: Location::new(
                    std::sync::Arc::from(std::path::Path::new("t.conf")),
                    i as u32 + 1,
                ),
            })
            .collect()
    }

    fn ids(e: &Expansion) -> Vec<(Kind, String)> {
        e.objects.iter().map(|o| (o.kind, o.id.clone())).collect()
    }

    #[test]
    fn trunk_with_auth_and_registrations_names_objects_like_asterisk() {
        let l = lines(&[
            ("type", "wizard"),
            ("remote_hosts", "sip1.example.com:5060, sip2.example.com"),
            ("sends_auth", "yes"),
            ("sends_registrations", "yes"),
            ("outbound_auth/username", "trunkuser"),
            ("outbound_auth/password", "secret"),
            ("endpoint/context", "from-trunk"),
        ]);
        let e = expand("mytrunk", &l[0].location, &l);
        assert!(
            e.diagnostics.iter().all(|d| !d.is_error()),
            "{:?}",
            e.diagnostics
        );
        assert_eq!(
            ids(&e),
            vec![
                (Kind::Endpoint, "mytrunk".into()),
                (Kind::Aor, "mytrunk".into()),
                (Kind::Identify, "mytrunk-identify".into()),
                (Kind::Auth, "mytrunk-oauth".into()),
                (Kind::Registration, "mytrunk-reg-0".into()),
                (Kind::Registration, "mytrunk-reg-1".into()),
            ]
        );
        let reg = &e.objects[4];
        assert!(
            reg.lines
                .iter()
                .any(|l| l.name == "server_uri" && l.value == "sip:sip1.example.com:5060")
        );
        assert!(reg.lines.iter().any(|l| l.name == "client_uri" && l.value == "sip:trunkuser@sip1.example.com:5060"));
        let ident = &e.objects[2];
        let matches: Vec<&str> = ident
            .lines
            .iter()
            .filter(|l| l.name == "match")
            .map(|l| l.value.as_str())
            .collect();
        assert_eq!(matches, vec!["sip1.example.com", "sip2.example.com"]);
    }

    #[test]
    fn phone_accepting_registrations_has_no_identify_and_gets_max_contacts() {
        let l = lines(&[
            ("type", "wizard"),
            ("accepts_registrations", "yes"),
            ("accepts_auth", "yes"),
            ("inbound_auth/username", "1000"),
            ("inbound_auth/password", "pw"),
        ]);
        let e = expand("1000", &l[0].location, &l);
        assert_eq!(
            ids(&e),
            vec![
                (Kind::Endpoint, "1000".into()),
                (Kind::Aor, "1000".into()),
                (Kind::Auth, "1000-iauth".into()),
            ]
        );
        assert!(
            e.objects[1]
                .lines
                .iter()
                .any(|l| l.name == "max_contacts" && l.value == "1")
        );
        assert!(
            e.objects[0]
                .lines
                .iter()
                .any(|l| l.name == "auth" && l.value == "1000-iauth")
        );
    }

    #[test]
    fn missing_remote_hosts_is_an_error() {
        let l = lines(&[("type", "wizard"), ("sends_auth", "no")]);
        let e = expand("t", &l[0].location, &l);
        assert!(
            e.diagnostics
                .iter()
                .any(|d| d.is_error() && d.message.contains("remote_hosts"))
        );
        assert!(e.objects.is_empty());
    }

    #[test]
    fn unknown_option_and_prefix_suggest_fixes() {
        let l = lines(&[
            ("type", "wizard"),
            ("remote_host", "h"),
            ("endpont/context", "x"),
        ]);
        let e = expand("t", &l[0].location, &l);
        let msgs: Vec<String> = e.diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("did you mean 'remote_hosts'")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("did you mean 'endpoint/'")),
            "{msgs:?}"
        );
    }

    #[test]
    fn line_registrations_create_no_identify() {
        let l = lines(&[
            ("type", "wizard"),
            ("remote_hosts", "h.example.com"),
            ("sends_registrations", "yes"),
            ("sends_line_with_registrations", "yes"),
        ]);
        let e = expand("t", &l[0].location, &l);
        assert!(!ids(&e).iter().any(|(k, _)| *k == Kind::Identify));
        let reg = e
            .objects
            .iter()
            .find(|o| o.kind == Kind::Registration)
            .map(|o| &o.lines);
        assert!(reg.is_some_and(|r| r.iter().any(|l| l.name == "line" && l.value == "yes")));
    }

    #[test]
    fn strip_port_handles_v4_v6_and_names() {
        assert_eq!(strip_port("h.example.com:5060"), "h.example.com");
        assert_eq!(strip_port("[2001:db8::1]:5060"), "2001:db8::1");
        assert_eq!(strip_port("10.0.0.1"), "10.0.0.1");
    }
}
