use super::*;
use crate::sip::ContactList;

fn aor(text: &str) -> Aor {
    let store = crate::sorcery::Store::from_config_text(&format!("[a]\ntype=aor\n{text}\n"))
        .expect("config");
    match store
        .snapshot()
        .get(crate::config::types::Kind::Aor, "a")
        .map(|o| &o.object)
    {
        Some(crate::config::types::Object::Aor(a)) => a.clone(),
        _ => panic!("no aor"),
    }
}

fn facts(expires: Option<u32>, now: u64) -> Facts<'static> {
    Facts {
        endpoint: "alice",
        expires_header: expires,
        path: Vec::new(),
        user_agent: "UA".into(),
        via_addr: "10.0.0.9".into(),
        via_port: 5062,
        call_id: "cid".into(),
        cseq: 2,
        source: "192.0.2.7:40000".parse().unwrap(),
        transport: "t".into(),
        protocol: "udp",
        connection: None,
        rewrite_contact: false,
        reject_short_expiration: false,
        unix_now: now,
    }
}

fn contacts(text: &str) -> ContactList {
    ContactList::parse([text.as_bytes()]).expect("contacts")
}

fn register(
    aor: &Aor,
    entries: &mut Vec<Entry>,
    text: &str,
    f: &Facts<'_>,
) -> Result<Applied, Refusal> {
    let mut changes = Vec::new();
    apply("a", aor, &contacts(text), f, entries, &mut changes)
}

#[test]
fn expiry_comes_from_the_param_then_the_header_then_the_default_and_is_clamped() {
    let a =
        aor("max_contacts=5\nminimum_expiration=30\nmaximum_expiration=60\ndefault_expiration=45");
    let mut e = Vec::new();
    let r = register(&a, &mut e, "<sip:a@h1>;expires=15", &facts(Some(20), 1000)).unwrap();
    assert_eq!(r.listed[0].expires, 30, "raised to the minimum");
    assert_eq!(r.expires_header, Some(30));
    let r = register(
        &a,
        &mut e,
        "<sip:a@h2>;expires=120",
        &facts(Some(300), 1000),
    )
    .unwrap();
    assert_eq!(r.listed[1].expires, 60, "lowered to the maximum");
    let r = register(&a, &mut e, "<sip:a@h3>", &facts(None, 1000)).unwrap();
    assert_eq!(r.listed[2].expires, 45, "default");
    assert_eq!(r.expires_header, None);
    let r = register(&a, &mut e, "<sip:a@h4>", &facts(Some(u32::MAX), 1000)).unwrap();
    assert_eq!(r.listed[3].expires, 60, "absurd values are clamped");
    let mut f = facts(Some(10), 1000);
    f.reject_short_expiration = true;
    assert_eq!(
        register(&a, &mut e, "<sip:a@h5>", &f),
        Err(Refusal::IntervalTooBrief { min: 30 })
    );
    assert_eq!(e.len(), 4, "nothing added by the refused request");
}

#[test]
fn max_contacts_refuses_and_remove_existing_evicts_the_soonest_expiring() {
    let a = aor("max_contacts=1");
    let mut e = Vec::new();
    assert!(matches!(
        register(
            &a,
            &mut e,
            "<sip:a@h1>;expires=15, <sip:a@h2>;expires=20",
            &facts(Some(10), 1)
        ),
        Err(Refusal::Forbidden(_))
    ));
    assert!(e.is_empty());
    register(&a, &mut e, "<sip:a@h1>", &facts(Some(100), 1)).unwrap();
    assert!(matches!(
        register(&a, &mut e, "<sip:a@h2>", &facts(Some(100), 1)),
        Err(Refusal::Forbidden(_))
    ));
    // Refreshing the same contact fits.
    register(&a, &mut e, "<sip:a@h1>", &facts(Some(200), 2)).unwrap();
    assert_eq!(e.len(), 1);

    let a = aor("max_contacts=3\nremove_existing=yes");
    let mut e = Vec::new();
    for (i, host) in ["h1", "h2", "h3", "h4"].iter().enumerate() {
        register(
            &a,
            &mut e,
            &format!("<sip:a@{host}>"),
            &facts(Some(100), 10 + i as u64),
        )
        .unwrap();
    }
    let uris: Vec<&str> = e.iter().map(|x| x.binding.uri.as_str()).collect();
    assert_eq!(uris, ["sip:a@h2", "sip:a@h3", "sip:a@h4"]);
    assert!(matches!(
        register(
            &a,
            &mut e,
            "<sip:a@h5>, <sip:a@h6>, <sip:a@h7>, <sip:a@h8>",
            &facts(Some(100), 20)
        ),
        Err(Refusal::Forbidden(_))
    ));
    assert_eq!(e.len(), 3);
}

#[test]
fn remove_unavailable_prefers_unreachable_contacts() {
    let a = aor("max_contacts=2\nremove_unavailable=yes");
    let mut e = Vec::new();
    register(&a, &mut e, "<sip:a@h1>", &facts(Some(100), 1)).unwrap();
    register(&a, &mut e, "<sip:a@h2>", &facts(Some(100), 2)).unwrap();
    e[1].status = Status::Unreachable;
    let r = register(&a, &mut e, "<sip:a@h3>", &facts(Some(100), 3)).unwrap();
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.removed[0].0.uri, "sip:a@h2");
    assert_eq!(r.removed[0].1, "remove unavailable");
}

#[test]
fn star_needs_expires_zero_and_removes_everything() {
    let a = aor("max_contacts=5");
    let mut e = Vec::new();
    register(&a, &mut e, "<sip:a@h1>, <sip:a@h2>", &facts(Some(100), 1)).unwrap();
    assert!(matches!(
        register(&a, &mut e, "*", &facts(None, 2)),
        Err(Refusal::BadRequest(_))
    ));
    assert!(matches!(
        register(&a, &mut e, "*", &facts(Some(60), 2)),
        Err(Refusal::BadRequest(_))
    ));
    let r = register(&a, &mut e, "*", &facts(Some(0), 2)).unwrap();
    assert_eq!(r.removed.len(), 2);
    assert!(e.is_empty() && r.listed.is_empty());
}

#[test]
fn expires_zero_removes_one_contact_and_unknown_ones_are_ignored() {
    let a = aor("max_contacts=5");
    let mut e = Vec::new();
    register(&a, &mut e, "<sip:a@h1>, <sip:a@h2>", &facts(Some(100), 1)).unwrap();
    let r = register(
        &a,
        &mut e,
        "<sip:a@h1>;expires=0, <sip:a@nowhere>;expires=0",
        &facts(None, 2),
    )
    .unwrap();
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.listed.len(), 1);
    assert_eq!(r.listed[0].uri, "sip:a@h2");
}

#[test]
fn a_device_with_the_same_instance_replaces_its_binding() {
    let a = aor("max_contacts=1");
    let mut e = Vec::new();
    let inst = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
    register(
        &a,
        &mut e,
        &format!("<sip:a@10.0.0.1:5060>;+sip.instance={inst};reg-id=1"),
        &facts(Some(100), 1),
    )
    .unwrap();
    let r = register(
        &a,
        &mut e,
        &format!("<sip:a@10.0.0.2:5060>;+sip.instance={inst};reg-id=1"),
        &facts(Some(100), 2),
    )
    .unwrap();
    assert_eq!(r.listed.len(), 1);
    assert_eq!(r.listed[0].uri, "sip:a@10.0.0.2:5060");
}

#[test]
fn rewrite_contact_binds_the_source_and_lists_what_the_device_sent() {
    let a = aor("max_contacts=1");
    let mut e = Vec::new();
    let mut f = facts(Some(100), 1);
    f.rewrite_contact = true;
    f.protocol = "tcp";
    f.connection = Some(ConnectionId(3));
    let r = register(&a, &mut e, "<sip:a@10.1.1.1:5060>", &f).unwrap();
    assert_eq!(e[0].binding.uri, "sip:a@192.0.2.7:40000;transport=tcp");
    assert_eq!(r.listed[0].uri, "sip:a@10.1.1.1:5060");
    assert!(e[0].binding.prune_on_boot);
    assert_eq!(e[0].binding.connection, Some(ConnectionId(3)));
    // A refresh from the device finds the rewritten binding.
    register(&a, &mut e, "<sip:a@10.1.1.1:5060>", &f).unwrap();
    assert_eq!(e.len(), 1);
}

#[test]
fn bad_expires_parameters_are_refused() {
    let a = aor("max_contacts=5");
    let mut e = Vec::new();
    assert!(matches!(
        register(&a, &mut e, "<sip:a@h1>;expires=soon", &facts(None, 1)),
        Err(Refusal::BadRequest(_))
    ));
    assert_eq!(parse_expires(b"99999999999999"), Some(u32::MAX));
    assert_eq!(parse_expires(b"-1"), None);
    assert_eq!(parse_expires(b""), None);
}
