use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::*;
use crate::config::build::{build, to_config_text};
use crate::config::diagnostic::Diagnostic;
use crate::config::ini::{MemFs, read_str};
use crate::config::types::Acl;
use crate::testing::snapshot;
use Action::{Deny, Permit};

fn ip(s: &str) -> IpAddr {
    match s.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("{s}: {e}"),
    }
}

/// Rules from `(action, value)` lines.
fn rules(lines: &[(Action, &str)]) -> HaRules {
    let mut r = HaRules::default();
    for (action, value) in lines {
        if let Err(e) = r.push_line(*action, value) {
            panic!("{value}: {e}");
        }
    }
    r
}

fn named(text: &str) -> NamedAcls {
    let fs = MemFs::new().with("/c/acl.conf", text);
    match NamedAcls::load(&fs, Path::new("/c/acl.conf")) {
        Ok(load) => {
            assert!(load.diagnostics.is_empty(), "{:?}", load.diagnostics);
            load.acls
        }
        Err(e) => panic!("{e}"),
    }
}

fn acl_object(text: &str) -> Acl {
    let snap = snapshot(text);
    match snap.all(Kind::Acl).next().map(|o| &o.object) {
        Some(Object::Acl(a)) => a.clone(),
        other => panic!("no acl: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rule evaluation
// ---------------------------------------------------------------------------------------------

#[test]
fn no_rules_permit_everything() {
    let r = HaRules::default();
    assert!(r.allows(ip("10.0.0.1")));
    assert!(r.allows(ip("2001:db8::1")));
    assert_eq!(r.evaluate(ip("0.0.0.0")), Permit);
}

#[test]
fn an_address_no_rule_matches_is_permitted() {
    let r = rules(&[(Deny, "10.0.0.0/8")]);
    assert!(!r.allows(ip("10.1.2.3")));
    assert!(r.allows(ip("192.168.1.1")));
}

#[test]
fn deny_all_then_permit_lets_in_the_permitted_network_only() {
    let r = rules(&[(Deny, "0.0.0.0/0.0.0.0"), (Permit, "10.0.0.0/8")]);
    assert!(r.allows(ip("10.20.30.40")));
    assert!(!r.allows(ip("192.168.1.1")));
    assert!(!r.allows(ip("11.0.0.1")));
}

#[test]
fn the_order_matters_the_last_match_wins() {
    let permit_then_deny = rules(&[(Permit, "10.0.0.0/8"), (Deny, "10.1.0.0/16")]);
    assert!(!permit_then_deny.allows(ip("10.1.2.3")));
    assert!(permit_then_deny.allows(ip("10.2.0.1")));

    let deny_then_permit = rules(&[(Deny, "10.1.0.0/16"), (Permit, "10.0.0.0/8")]);
    assert!(deny_then_permit.allows(ip("10.1.2.3")));

    // Deny all, permit a network, deny a host inside it.
    let r = rules(&[
        (Deny, "0.0.0.0/0"),
        (Permit, "192.168.0.0/16"),
        (Deny, "192.168.1.66"),
    ]);
    assert!(r.allows(ip("192.168.1.65")));
    assert!(!r.allows(ip("192.168.1.66")));
    assert!(!r.allows(ip("8.8.8.8")));
}

#[test]
fn masks_in_prefix_and_dotted_notation_agree() {
    for (a, b) in [
        ("10.0.0.0/8", "10.0.0.0/255.0.0.0"),
        ("192.168.0.0/16", "192.168.0.0/255.255.0.0"),
        ("172.16.0.0/12", "172.16.0.0/255.240.0.0"),
        ("0.0.0.0/0", "0.0.0.0/0.0.0.0"),
        ("1.2.3.4", "1.2.3.4/255.255.255.255"),
        ("2001:db8::/32", "2001:db8::/ffff:ffff::"),
    ] {
        assert_eq!(rules(&[(Deny, a)]), rules(&[(Deny, b)]), "{a} vs {b}");
    }
    let r = rules(&[(Deny, "0.0.0.0/0"), (Permit, "192.168.0.0/255.255.0.0")]);
    assert!(r.allows(ip("192.168.77.1")));
    assert!(!r.allows(ip("192.169.0.1")));
}

#[test]
fn the_address_is_masked_to_its_network() {
    // Asterisk applies the mask to the written address: 10.1.2.3/8 is 10.0.0.0/8.
    let r = rules(&[(Deny, "10.1.2.3/8")]);
    assert_eq!(r.0[0].net.to_string(), "10.0.0.0/8");
    assert!(!r.allows(ip("10.200.0.1")));
}

#[test]
fn a_bare_address_is_a_single_host() {
    let r = rules(&[(Deny, "10.0.0.1"), (Deny, "2001:db8::1")]);
    assert!(!r.allows(ip("10.0.0.1")));
    assert!(r.allows(ip("10.0.0.2")));
    assert!(!r.allows(ip("2001:db8::1")));
    assert!(r.allows(ip("2001:db8::2")));
}

#[test]
fn ipv4_rules_never_match_ipv6_addresses_and_the_other_way_round() {
    let v4_deny_all = rules(&[(Deny, "0.0.0.0/0")]);
    assert!(v4_deny_all.allows(ip("2001:db8::1")));
    assert!(v4_deny_all.allows(ip("::")));
    assert!(!v4_deny_all.allows(ip("203.0.113.5")));

    let v6_deny_all = rules(&[(Deny, "::/0")]);
    assert!(v6_deny_all.allows(ip("203.0.113.5")));
    assert!(!v6_deny_all.allows(ip("2001:db8::1")));

    let both = rules(&[(Deny, "0.0.0.0/0,::/0"), (Permit, "2001:db8::/32")]);
    assert!(both.allows(ip("2001:db8:1::1")));
    assert!(!both.allows(ip("2001:db9::1")));
    assert!(!both.allows(ip("10.0.0.1")));
}

#[test]
fn ipv4_mapped_addresses_are_checked_as_ipv4() {
    let r = rules(&[(Deny, "0.0.0.0/0"), (Permit, "10.0.0.0/8")]);
    assert!(r.allows(ip("::ffff:10.1.2.3")));
    assert!(!r.allows(ip("::ffff:192.168.1.1")));
    // An IPv6 rule does not match an IPv4-mapped address.
    let v6 = rules(&[(Deny, "::/0")]);
    assert!(v6.allows(ip("::ffff:10.1.2.3")));
    // A mapped address written in a rule is an IPv4 rule.
    let mapped = rules(&[(Deny, "::ffff:10.0.0.1")]);
    assert_eq!(mapped.0[0].net.to_string(), "10.0.0.1/32");
    assert!(!mapped.allows(ip("10.0.0.1")));
}

#[test]
fn bracketed_ipv6_is_accepted() {
    let r = rules(&[(Deny, "[2001:db8::]/32"), (Deny, "[::1]")]);
    assert!(!r.allows(ip("2001:db8::5")));
    assert!(!r.allows(ip("::1")));
}

#[test]
fn a_line_may_hold_a_list() {
    let r = rules(&[(Deny, "10.0.0.1, 10.0.0.2 ,10.0.0.0/31")]);
    assert_eq!(r.0.len(), 3);
    assert!(r.iter().all(|rule| rule.action == Deny));
    assert!(!r.allows(ip("10.0.0.2")));
}

#[test]
fn a_bang_flips_the_action_of_an_entry() {
    // Asterisk's `!`: `deny=!x` is `permit=x`, not "deny everything outside x".
    let r = rules(&[(Deny, "0.0.0.0/0"), (Deny, "!10.0.0.0/8")]);
    assert_eq!(r.0[1].action, Permit);
    assert!(r.allows(ip("10.9.9.9")));
    assert!(!r.allows(ip("11.0.0.1")));
    let p = rules(&[(Permit, "!192.168.0.0/16, 10.0.0.1")]);
    assert_eq!(p.0[0].action, Deny);
    assert_eq!(p.0[1].action, Permit);
    assert!(!p.allows(ip("192.168.3.3")));
}

#[test]
fn bad_entries_are_refused_and_add_nothing() {
    let mut r = HaRules::default();
    for bad in [
        "10.0.0.0/33",
        "2001:db8::/129",
        "10.0.0.0/x",
        "10.0.0.0/255.0.255.0",
        "10.0.0.0/ffff::",
        "2001:db8::/255.0.0.0",
        "host.example.com",
        "10.0.0.1:5060",
        "[::1]:5060",
        "!",
        "10.0.0.1, nonsense",
    ] {
        let e = r.push_line(Deny, bad).expect_err(bad);
        assert!(e.contains("not an IP"), "{bad}: {e}");
        assert!(r.is_empty(), "{bad}");
    }
    assert!(r.push_line(Permit, "").is_ok() && r.push_line(Permit, " , ").is_ok());
    assert!(r.is_empty());
}

#[test]
fn deny_as_permit_flips_each_entry() {
    use crate::config::options::deny_as_permit;
    assert_eq!(deny_as_permit("10.0.0.0/8"), "!10.0.0.0/8");
    assert_eq!(deny_as_permit(" a , !b,, ! c "), "!a,b,c");
    assert_eq!(deny_as_permit(""), "");
    assert_eq!(deny_as_permit("!"), "!");
}

// ---------------------------------------------------------------------------------------------
// Named ACLs
// ---------------------------------------------------------------------------------------------

#[test]
fn named_acls_load_from_acl_conf_in_order() {
    let n = named(
        "[general]\n\
         systemname=x\n\
         [office]\n\
         deny=0.0.0.0/0.0.0.0\n\
         permit=10.0.0.0/255.0.0.0\n\
         deny=10.66.0.0/16\n\
         [v6](!)\n\
         deny=::/0\n\
         [v6only](v6)\n\
         permit=2001:db8::/32\n\
         [empty]\n",
    );
    assert_eq!(n.names().collect::<Vec<_>>(), ["empty", "office", "v6only"]);
    let Some(office) = n.get("office") else {
        panic!("no office");
    };
    assert_eq!(
        office.iter().map(|r| r.action).collect::<Vec<_>>(),
        [Deny, Permit, Deny]
    );
    assert!(office.allows(ip("10.1.1.1")));
    assert!(!office.allows(ip("10.66.1.1")));
    assert!(!office.allows(ip("192.0.2.1")));
    let Some(v6) = n.get("v6only") else {
        panic!("no v6only");
    };
    assert!(v6.allows(ip("2001:db8::9")) && !v6.allows(ip("2001:db9::9")));
    assert!(n.get("empty").is_some_and(HaRules::is_empty));
    assert!(n.get("Office").is_none(), "names are case-sensitive");
}

#[test]
fn a_missing_acl_conf_is_no_named_acls() {
    let load = NamedAcls::load(&MemFs::new(), Path::new("/c/acl.conf"));
    let Ok(load) = load else {
        panic!("{load:?}");
    };
    assert!(load.acls.is_empty() && load.diagnostics.is_empty() && load.files.is_empty());
}

#[test]
fn a_missing_include_is_an_error_of_the_whole_file() {
    let fs = MemFs::new().with("/c/acl.conf", "#include nothere.conf\n[a]\ndeny=::/0\n");
    let e = NamedAcls::load(&fs, Path::new("/c/acl.conf")).expect_err("missing include");
    assert!(e.to_string().contains("nothere.conf"), "{e}");
}

#[test]
fn bad_sections_are_rejected_alone_naming_file_and_line() {
    let fs = MemFs::new().with(
        "/c/acl.conf",
        "[good]\n\
         deny=10.0.0.0/8\n\
         [bad]\n\
         permit=10.0.0.0/8\n\
         deny=10.0.0.0/40\n\
         [typo]\n\
         permitt=10.0.0.1\n\
         [empty_value]\n\
         deny=\n\
         [good]\n\
         permit=0.0.0.0/0\n",
    );
    let load = match NamedAcls::load(&fs, Path::new("/c/acl.conf")) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(load.acls.names().collect::<Vec<_>>(), ["good"]);
    assert_eq!(load.acls.get("good"), Some(&rules(&[(Deny, "10.0.0.0/8")])));
    let messages: Vec<String> = load.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(load.diagnostics.iter().all(Diagnostic::is_error));
    assert!(
        messages[0].starts_with("/c/acl.conf:5: error: named_acl 'bad': option 'deny': bad value")
            && messages[0].contains("0 to 32"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].starts_with("/c/acl.conf:7:") && messages[1].contains("did you mean 'permit'"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].starts_with("/c/acl.conf:9:") && messages[2].contains("empty value"),
        "{}",
        messages[2]
    );
    assert!(
        messages[3].starts_with("/c/acl.conf:10:") && messages[3].contains("already defined"),
        "{}",
        messages[3]
    );
}

// ---------------------------------------------------------------------------------------------
// type=acl objects
// ---------------------------------------------------------------------------------------------

const SOURCE: &str = "192.0.2.10";

#[test]
fn no_acl_objects_allow_everything() {
    let snap = snapshot("[6001]\ntype=aor\n");
    let v = check_request(&snap, &NamedAcls::new(), ip(SOURCE), &[ip("198.51.100.1")]);
    assert_eq!(v, AclVerdict::Allowed);
    assert!(v.is_allowed() && v.denial().is_none());
}

#[test]
fn an_acl_object_refuses_sources_by_its_rules_in_order() {
    let snap = snapshot(
        "[office]\ntype=acl\ndeny=0.0.0.0/0.0.0.0\npermit=192.0.2.0/24\ndeny=192.0.2.66\n",
    );
    let n = NamedAcls::new();
    assert!(check_request(&snap, &n, ip("192.0.2.10"), &[]).is_allowed());
    let v = check_request(&snap, &n, ip("192.0.2.66"), &[]);
    let Some(d) = v.denial() else {
        panic!("allowed");
    };
    assert_eq!(
        d,
        &Denial {
            acl_object: Some("office".into()),
            target: AclTarget::Source,
            by: DeniedBy::Rules,
            address: ip("192.0.2.66"),
        }
    );
    assert_eq!(d.option(), "permit/deny");
    let from: SocketAddr = match "192.0.2.66:5060".parse() {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        d.request_warning(from),
        "Incoming SIP message from 192.0.2.66:5060 did not pass ACL test"
    );
    assert_eq!(
        d.to_string(),
        "acl 'office': SIP ACL: Rejecting '192.0.2.66' due to a failure to pass ACL '(BASELINE)'"
    );
    // IPv6 sources pass IPv4-only rules.
    assert!(check_request(&snap, &n, ip("2001:db8::1"), &[]).is_allowed());
}

#[test]
fn every_acl_object_must_allow() {
    let snap = snapshot(
        "[a]\ntype=acl\ndeny=10.0.0.0/8\n\
         [b]\ntype=acl\ndeny=172.16.0.0/12\n",
    );
    let n = NamedAcls::new();
    assert!(check_request(&snap, &n, ip("192.168.0.1"), &[]).is_allowed());
    let deny_a = check_request(&snap, &n, ip("10.0.0.1"), &[]);
    assert_eq!(
        deny_a.denial().and_then(|d| d.acl_object.as_deref()),
        Some("a")
    );
    let deny_b = check_request(&snap, &n, ip("172.16.0.1"), &[]);
    assert_eq!(
        deny_b.denial().and_then(|d| d.acl_object.as_deref()),
        Some("b")
    );
}

#[test]
fn named_acls_of_an_acl_object_must_each_allow() {
    let snap = snapshot("[x]\ntype=acl\nacl=lan,nolab\n");
    let n = named(
        "[lan]\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\n\
         [nolab]\ndeny=10.99.0.0/16\n",
    );
    assert!(check_request(&snap, &n, ip("10.1.1.1"), &[]).is_allowed());
    let outside = check_request(&snap, &n, ip("192.0.2.1"), &[]);
    assert_eq!(
        outside.denial().map(|d| d.by.clone()),
        Some(DeniedBy::Named("lan".into()))
    );
    let lab = check_request(&snap, &n, ip("10.99.1.1"), &[]);
    let Some(d) = lab.denial() else {
        panic!("allowed");
    };
    assert_eq!(d.by, DeniedBy::Named("nolab".into()));
    assert_eq!(d.option(), "acl");
    assert!(
        d.to_string().ends_with("failure to pass ACL 'nolab'"),
        "{d}"
    );
}

#[test]
fn the_own_rules_and_the_named_acls_are_separate_lists() {
    // The named ACL is not spliced in at its line: each list must permit on its own.
    // Here the own rules permit 10.0.0.0/8 (after a deny-all written *after* `acl=`), and
    // the named ACL denies 10.5.0.0/16: both apply wherever `acl=` is written.
    let n = named("[no5]\ndeny=10.5.0.0/16\n");
    for text in [
        "[x]\ntype=acl\nacl=no5\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\n",
        "[x]\ntype=acl\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\nacl=no5\n",
        "[x]\ntype=acl\ndeny=0.0.0.0/0\nacl=no5\npermit=10.0.0.0/8\n",
    ] {
        let snap = snapshot(text);
        assert!(
            check_request(&snap, &n, ip("10.1.0.1"), &[]).is_allowed(),
            "{text}"
        );
        assert_eq!(
            check_request(&snap, &n, ip("10.5.0.1"), &[])
                .denial()
                .map(|d| d.by.clone()),
            Some(DeniedBy::Named("no5".into())),
            "{text}"
        );
        assert_eq!(
            check_request(&snap, &n, ip("192.0.2.1"), &[])
                .denial()
                .map(|d| d.by.clone()),
            Some(DeniedBy::Rules),
            "{text}"
        );
    }
}

#[test]
fn an_undefined_named_acl_refuses_everything() {
    let snap = snapshot("[x]\ntype=acl\nacl=nosuch\n");
    let v = check_request(&snap, &NamedAcls::new(), ip("10.0.0.1"), &[]);
    let Some(d) = v.denial() else {
        panic!("allowed");
    };
    assert_eq!(d.by, DeniedBy::Undefined("nosuch".into()));
    assert!(d.to_string().contains("invalid ACL 'nosuch'"), "{d}");
    // ...for IPv6 too, and for Contact hosts through contact_acl.
    assert!(!check_request(&snap, &NamedAcls::new(), ip("::1"), &[]).is_allowed());
    let contact = snapshot("[x]\ntype=acl\ncontact_acl=nosuch\n");
    assert!(check_request(&contact, &NamedAcls::new(), ip("10.0.0.1"), &[]).is_allowed());
    assert!(
        !check_request(
            &contact,
            &NamedAcls::new(),
            ip("10.0.0.1"),
            &[ip("10.0.0.1")]
        )
        .is_allowed()
    );
}

#[test]
fn an_empty_named_acl_allows_everything() {
    let snap = snapshot("[x]\ntype=acl\nacl=empty\n");
    let n = named("[empty]\n");
    assert!(check_request(&snap, &n, ip("10.0.0.1"), &[]).is_allowed());
}

#[test]
fn contact_rules_apply_to_every_contact_host() {
    let snap = snapshot(
        "[c]\ntype=acl\ncontact_deny=0.0.0.0/0\ncontact_permit=10.0.0.0/8\n\
         contact_deny=10.0.0.66\n",
    );
    let n = NamedAcls::new();
    // The source is not subject to the contact rules.
    assert!(check_request(&snap, &n, ip("192.0.2.1"), &[]).is_allowed());
    assert!(check_request(&snap, &n, ip("192.0.2.1"), &[ip("10.0.0.1")]).is_allowed());
    let v = check_request(
        &snap,
        &n,
        ip("192.0.2.1"),
        &[ip("10.0.0.1"), ip("198.51.100.7"), ip("10.0.0.66")],
    );
    let Some(d) = v.denial() else {
        panic!("allowed");
    };
    assert_eq!(d.target, AclTarget::Contact);
    assert_eq!(d.by, DeniedBy::Rules);
    assert_eq!(d.address, ip("198.51.100.7"), "the first refused host");
    assert_eq!(d.option(), "contact_permit/contact_deny");
    let from: SocketAddr = match "192.0.2.1:5060".parse() {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        d.request_warning(from),
        "Incoming SIP message from 198.51.100.7 did not pass ACL test"
    );
    assert!(
        d.to_string()
            .contains("SIP Contact ACL: Rejecting '198.51.100.7'")
    );
}

#[test]
fn contact_named_acls_apply_to_contact_hosts() {
    let snap = snapshot("[c]\ntype=acl\ncontact_acl=lan\n");
    let n = named("[lan]\ndeny=0.0.0.0/0,::/0\npermit=10.0.0.0/8\n");
    assert!(check_request(&snap, &n, ip("203.0.113.1"), &[ip("10.2.2.2")]).is_allowed());
    let v = check_request(&snap, &n, ip("10.2.2.2"), &[ip("2001:db8::1")]);
    assert_eq!(
        v.denial().map(|d| (d.target, d.by.clone(), d.option())),
        Some((
            AclTarget::Contact,
            DeniedBy::Named("lan".into()),
            "contact_acl"
        ))
    );
}

#[test]
fn the_source_is_checked_before_the_contacts() {
    let snap = snapshot("[c]\ntype=acl\ndeny=10.0.0.1\ncontact_deny=10.0.0.2\n");
    let v = check_request(&snap, &NamedAcls::new(), ip("10.0.0.1"), &[ip("10.0.0.2")]);
    assert_eq!(v.denial().map(|d| d.target), Some(AclTarget::Source));
}

#[test]
fn contact_hosts_that_are_names_are_left_out() {
    assert_eq!(
        contact_ips([
            "10.0.0.1",
            "pbx.example.com",
            "[2001:db8::1]",
            " ::1 ",
            "[bad"
        ]),
        vec![ip("10.0.0.1"), ip("2001:db8::1"), ip("::1")]
    );
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

fn endpoint(text: &str) -> Endpoint {
    let snap = snapshot(text);
    match snap.endpoint("6001") {
        Some(e) => e.clone(),
        None => panic!("no endpoint 6001"),
    }
}

#[test]
fn endpoint_without_acl_options_allows_everything() {
    let e = endpoint("[6001]\ntype=endpoint\n");
    let v = check_endpoint(&e, &NamedAcls::new(), ip("203.0.113.9"), &[ip("::1")]);
    assert!(v.is_allowed());
}

#[test]
fn endpoint_source_rules_and_named_acls() {
    let e = endpoint(
        "[6001]\ntype=endpoint\ndeny=0.0.0.0/0.0.0.0\npermit=192.168.0.0/255.255.0.0\n\
         acl=nolab\n",
    );
    let n = named("[nolab]\ndeny=192.168.66.0/24\n");
    assert!(check_endpoint(&e, &n, ip("192.168.1.10"), &[]).is_allowed());
    let outside = check_endpoint(&e, &n, ip("10.0.0.1"), &[]);
    let Some(d) = outside.denial() else {
        panic!("allowed");
    };
    assert_eq!(d.acl_object, None);
    assert_eq!((d.target, &d.by), (AclTarget::Source, &DeniedBy::Rules));
    assert_eq!(d.endpoint_reason(), "Not match Endpoint ACL");
    let lab = check_endpoint(&e, &n, ip("192.168.66.1"), &[]);
    assert_eq!(
        lab.denial().map(|d| d.by.clone()),
        Some(DeniedBy::Named("nolab".into()))
    );
    // Undefined named ACL: refused.
    assert_eq!(
        check_endpoint(&e, &NamedAcls::new(), ip("192.168.1.10"), &[])
            .denial()
            .map(|d| d.by.clone()),
        Some(DeniedBy::Undefined("nolab".into()))
    );
}

#[test]
fn endpoint_contact_rules() {
    let e = endpoint(
        "[6001]\ntype=endpoint\ncontact_deny=::/0\ncontact_permit=2001:db8::/32\n\
         contact_acl=lan\n",
    );
    let n = named("[lan]\ndeny=10.0.0.0/8\n");
    assert!(check_endpoint(&e, &n, ip("10.0.0.1"), &[ip("2001:db8::5")]).is_allowed());
    assert!(check_endpoint(&e, &n, ip("10.0.0.1"), &[ip("192.0.2.1")]).is_allowed());
    let v6 = check_endpoint(&e, &n, ip("10.0.0.1"), &[ip("2001:db9::5")]);
    let Some(d) = v6.denial() else {
        panic!("allowed");
    };
    assert_eq!((d.target, &d.by), (AclTarget::Contact, &DeniedBy::Rules));
    assert_eq!(d.endpoint_reason(), "Not match Endpoint Contact ACL");
    let named_refusal = check_endpoint(&e, &n, ip("192.0.2.1"), &[ip("10.1.1.1")]);
    assert_eq!(
        named_refusal.denial().map(|d| d.by.clone()),
        Some(DeniedBy::Named("lan".into()))
    );
}

#[test]
fn endpoint_rules_come_from_templates_first() {
    let e = endpoint(
        "[t](!)\ntype=endpoint\ndeny=0.0.0.0/0\n\
         [6001](t)\npermit=10.0.0.0/8\n",
    );
    assert!(check_endpoint(&e, &NamedAcls::new(), ip("10.0.0.1"), &[]).is_allowed());
    assert!(!check_endpoint(&e, &NamedAcls::new(), ip("11.0.0.1"), &[]).is_allowed());
}

// ---------------------------------------------------------------------------------------------
// Configuration round trip
// ---------------------------------------------------------------------------------------------

const INTERLEAVED: &str = "[office]\n\
    type=acl\n\
    deny=0.0.0.0/0.0.0.0\n\
    permit=10.0.0.0/255.0.0.0, 192.168.0.0/16\n\
    deny=10.66.0.0/16\n\
    acl=lan\n\
    permit=10.66.1.1\n\
    deny=!172.16.0.0/12\n\
    contact_deny=::/0\n\
    contact_permit=2001:db8::/32\n\
    contact_deny=2001:db8:bad::/48\n";

#[test]
fn interleaved_permit_and_deny_lines_keep_their_order() {
    let a = acl_object(INTERLEAVED);
    let got: Vec<(Action, String)> = a
        .source_rules
        .iter()
        .map(|r| (r.action, r.net.to_string()))
        .collect();
    let want = [
        (Deny, "0.0.0.0/0"),
        (Permit, "10.0.0.0/8"),
        (Permit, "192.168.0.0/16"),
        (Deny, "10.66.0.0/16"),
        (Permit, "10.66.1.1/32"),
        (Permit, "172.16.0.0/12"),
    ];
    assert_eq!(
        got,
        want.map(|(a, n)| (a, n.to_string())).to_vec(),
        "source rules"
    );
    let contact: Vec<(Action, String)> = a
        .contact_rules
        .iter()
        .map(|r| (r.action, r.net.to_string()))
        .collect();
    assert_eq!(
        contact,
        [
            (Deny, "::/0".to_string()),
            (Permit, "2001:db8::/32".to_string()),
            (Deny, "2001:db8:bad::/48".to_string()),
        ]
    );
    assert_eq!(
        a.acl.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["lan"]
    );
    let n = named("[lan]\n");
    let snap = snapshot(INTERLEAVED);
    assert!(check_request(&snap, &n, ip("10.66.1.1"), &[]).is_allowed());
    assert!(!check_request(&snap, &n, ip("10.66.1.2"), &[]).is_allowed());
    assert!(check_request(&snap, &n, ip("172.20.0.1"), &[]).is_allowed());
    assert!(!check_request(&snap, &n, ip("8.8.8.8"), &[]).is_allowed());
}

#[test]
fn to_config_text_prints_the_rules_in_order_and_reads_back_the_same() {
    let fs = MemFs::new();
    let read = match read_str(&fs, Path::new("/c/pjsip.conf"), INTERLEAVED) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let built = build(&read.document);
    assert!(!built.has_errors(), "{:?}", built.diagnostics);
    let text = to_config_text(built.objects.iter().map(|o| (o.id.as_str(), &o.object)));
    let rule_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("permit") || l.contains("deny"))
        .collect();
    assert_eq!(
        rule_lines,
        [
            "deny = 0.0.0.0/0",
            "permit = 10.0.0.0/8",
            "permit = 192.168.0.0/16",
            "deny = 10.66.0.0/16",
            "permit = 10.66.1.1/32",
            "permit = 172.16.0.0/12",
            "contact_deny = ::/0",
            "contact_permit = 2001:db8::/32",
            "contact_deny = 2001:db8:bad::/48",
        ],
        "{text}"
    );
    let again = match read_str(&fs, Path::new("/c/pjsip.conf"), &text) {
        Ok(r) => build(&r.document),
        Err(e) => panic!("{e}"),
    };
    assert!(!again.has_errors(), "{:?}", again.diagnostics);
    assert_eq!(
        again.objects.iter().map(|o| &o.object).collect::<Vec<_>>(),
        built.objects.iter().map(|o| &o.object).collect::<Vec<_>>()
    );
}

#[test]
fn endpoint_rules_print_back_in_order() {
    let text = "[6001]\ntype=endpoint\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\ndeny=10.1.0.0/16\n";
    let e = endpoint(text);
    let o = Object::Endpoint(Box::new(e));
    let printed = to_config_text([("6001", &o)]);
    assert!(
        printed.contains("deny = 0.0.0.0/0\npermit = 10.0.0.0/8\ndeny = 10.1.0.0/16\n"),
        "{printed}"
    );
    assert_eq!(endpoint(&printed), {
        let Object::Endpoint(e) = o else {
            unreachable!()
        };
        *e
    });
}

#[test]
fn bad_rule_values_reject_the_object_with_file_and_line() {
    let fs = MemFs::new();
    let read = match read_str(
        &fs,
        Path::new("/c/pjsip.conf"),
        "[x]\ntype=acl\npermit=10.0.0.0/8\ndeny=10.0.0.0/99\n",
    ) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let built = build(&read.document);
    assert!(built.objects.is_empty());
    let errors: Vec<String> = built
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/c/pjsip.conf:4: error: acl 'x': option 'deny'")
            && errors[0].contains("not an IP"),
        "{}",
        errors[0]
    );
}
