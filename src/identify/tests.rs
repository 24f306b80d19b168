//! Identification tests, one rule each, on configurations written as pjsip.conf text.

use super::*;
use crate::testing::snapshot;

fn no_headers(_: &str) -> Vec<String> {
    Vec::new()
}

fn facts<'a>(
    source: &str,
    from: Option<(&'a str, &'a str)>,
    header: &'a dyn Fn(&str) -> Vec<String>,
) -> RequestFacts<'a> {
    RequestFacts {
        source: source
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
        from_user: from.map(|f| f.0),
        from_domain: from.map(|f| f.1),
        auth_users: Vec::new(),
        request_uri: "sip:100@pbx.example.com",
        transport_domain: None,
        header,
    }
}

fn who(snap: &Snapshot, f: &RequestFacts<'_>) -> (Option<String>, Trace) {
    let mut trace = Trace::default();
    let found = identify(snap, f, &mut trace).map(|i| i.endpoint);
    (found, trace)
}

const CONF: &str = "
[alice]
type=endpoint
[trunk]
type=endpoint
[carrier]
type=endpoint
[trunk-identify]
type=identify
endpoint=trunk
match=198.51.100.0/24
[carrier-identify]
type=identify
endpoint=carrier
match=198.51.100.7
";

#[test]
fn default_order_is_ip_username_anonymous_then_the_rest() {
    let snap = snapshot("[global]\n");
    let names: Vec<&str> = identifier_order(&snap).iter().map(|i| i.name()).collect();
    assert_eq!(
        names,
        vec![
            "ip",
            "username",
            "anonymous",
            "auth_username",
            "header",
            "request_uri"
        ]
    );
    let snap = snapshot("[global]\nendpoint_identifier_order=username,ip\n");
    assert_eq!(identifier_order(&snap)[0], Identifier::Username);
}

#[test]
fn ip_identify_with_the_longest_prefix_wins() {
    let snap = snapshot(CONF);
    let h = no_headers;
    assert_eq!(
        who(&snap, &facts("198.51.100.7:5060", None, &h))
            .0
            .as_deref(),
        Some("carrier")
    );
    assert_eq!(
        who(&snap, &facts("198.51.100.9:5060", None, &h))
            .0
            .as_deref(),
        Some("trunk")
    );
}

#[test]
fn username_finds_from_user_when_identify_by_allows_it() {
    let snap = snapshot(CONF);
    let h = no_headers;
    let f = facts("192.0.2.1:5060", Some(("alice", "pbx.example.com")), &h);
    let (found, trace) = who(&snap, &f);
    assert_eq!(found.as_deref(), Some("alice"));
    assert!(
        trace.to_string().contains("matched no identify network"),
        "{trace}"
    );
    let snap = snapshot("[alice]\ntype=endpoint\nidentify_by=ip\n");
    let (found, trace) = who(&snap, &f);
    assert_eq!(found, None);
    assert!(
        trace
            .to_string()
            .contains("identify_by does not include username"),
        "{trace}"
    );
}

#[test]
fn username_tries_user_at_domain_and_domain_aliases_first() {
    let snap = snapshot(
        "[100@acme.example]\ntype=endpoint\n[100]\ntype=endpoint\n\
         [acme.example.net]\ntype=domain_alias\ndomain=acme.example\n",
    );
    let h = no_headers;
    let direct = facts("192.0.2.1:5060", Some(("100", "acme.example")), &h);
    assert_eq!(who(&snap, &direct).0.as_deref(), Some("100@acme.example"));
    let alias = facts("192.0.2.1:5060", Some(("100", "acme.example.net")), &h);
    assert_eq!(who(&snap, &alias).0.as_deref(), Some("100@acme.example"));
    let other = facts("192.0.2.1:5060", Some(("100", "other.example")), &h);
    assert_eq!(who(&snap, &other).0.as_deref(), Some("100"));
}

#[test]
fn header_identifier_compares_match_header() {
    let snap = snapshot(
        "[global]\nendpoint_identifier_order=header\n[pbx2]\ntype=endpoint\n\
         [pbx2-id]\ntype=identify\nendpoint=pbx2\nmatch_header=X-Tenant: acme\n",
    );
    let acme = |name: &str| {
        if name.eq_ignore_ascii_case("x-tenant") {
            vec!["acme".to_string()]
        } else {
            Vec::new()
        }
    };
    assert_eq!(
        who(&snap, &facts("192.0.2.1:5060", None, &acme))
            .0
            .as_deref(),
        Some("pbx2")
    );
    let other = |_: &str| vec!["globex".to_string()];
    let (found, trace) = who(&snap, &facts("192.0.2.1:5060", None, &other));
    assert_eq!(found, None);
    assert!(
        trace.to_string().contains("wants X-Tenant: acme"),
        "{trace}"
    );
}

#[test]
fn request_uri_identifier_compares_match_request_uri() {
    let snap = snapshot(
        "[global]\nendpoint_identifier_order=request_uri\n[did]\ntype=endpoint\n\
         [did-id]\ntype=identify\nendpoint=did\nmatch_request_uri=sip:100@pbx.example.com\n",
    );
    let h = no_headers;
    assert_eq!(
        who(&snap, &facts("192.0.2.1:5060", None, &h)).0.as_deref(),
        Some("did")
    );
}

#[test]
fn anonymous_endpoint_catches_the_rest() {
    let snap = snapshot("[anonymous]\ntype=endpoint\n");
    let h = no_headers;
    let (found, _) = who(&snap, &facts("192.0.2.1:5060", Some(("x", "y")), &h));
    assert_eq!(found.as_deref(), Some("anonymous"));
}

#[test]
fn trace_says_why_nothing_matched() {
    let snap = snapshot(CONF);
    let h = no_headers;
    let (found, trace) = who(&snap, &facts("192.0.2.1:5060", Some(("bob", "pbx")), &h));
    assert_eq!(found, None);
    let text = trace.to_string();
    assert!(
        text.contains("source 192.0.2.1:5060 matched no identify network"),
        "{text}"
    );
    assert!(text.contains("no endpoint named bob@pbx, bob"), "{text}");
    assert!(
        text.contains("no endpoint named anonymous@pbx, anonymous"),
        "{text}"
    );
    assert!(text.contains("no Authorization header"), "{text}");
}

#[test]
fn identify_pointing_at_a_missing_endpoint_matches_nothing() {
    let snap = snapshot("[i]\ntype=identify\nendpoint=ghost\nmatch=10.0.0.0/8\n");
    let h = no_headers;
    let (found, trace) = who(&snap, &facts("10.1.1.1:5060", None, &h));
    assert_eq!(found, None);
    assert!(
        trace.to_string().contains("which could not be found"),
        "{trace}"
    );
}

#[test]
fn overlaps_are_listed_with_their_winner() {
    let snap = snapshot(CONF);
    let found = overlaps(&snap);
    assert_eq!(found.len(), 1, "{found:?}");
    let text = found[0].to_string();
    assert_eq!(
        text,
        "identify 'trunk-identify' (198.51.100.0/24) overlaps identify 'carrier-identify' (198.51.100.7/32); where both match, identify 'carrier-identify' (198.51.100.7/32) wins"
    );
    // Same endpoint, or ports that can never both match: no overlap.
    let snap = snapshot(
        "[e]\ntype=endpoint\n[a]\ntype=identify\nendpoint=e\nmatch=10.0.0.0/8\n\
         [b]\ntype=identify\nendpoint=e\nmatch=10.1.0.0/16\n\
         [f]\ntype=endpoint\n[c]\ntype=identify\nendpoint=f\nmatch=192.0.2.1:5060\n\
         [g]\ntype=endpoint\n[d]\ntype=identify\nendpoint=g\nmatch=192.0.2.1:5070\n",
    );
    assert!(overlaps(&snap).is_empty(), "{:?}", overlaps(&snap));
}
