//! Validation rules (Asterisk's apply handlers), aliases and references of every type.

use super::tests::{auth, build, endpoint, errors, has};
use super::*;

#[test]
fn endpoint_validation_follows_asterisk() {
    let ep = Kind::Endpoint;
    let e = errors(ep, &[("timers_min_se", "89")]);
    assert_eq!(
        e,
        ["Session timer minimum expires time must be 90 or greater on endpoint 'x'"]
    );
    let e = errors(
        ep,
        &[("timers_min_se", "120"), ("timers_sess_expires", "100")],
    );
    assert_eq!(
        e,
        ["Session timer expires must be greater than minimum session expires time on endpoint 'x'"]
    );
    assert!(has(
        &errors(ep, &[("rtp_port_start", "10000")]),
        "must be set together"
    ));
    assert!(has(
        &errors(ep, &[("rtp_port_end", "10000")]),
        "must be set together"
    ));
    assert!(has(
        &errors(ep, &[("rtp_port_start", "100"), ("rtp_port_end", "2000")]),
        "1024 or greater"
    ));
    assert!(has(
        &errors(
            ep,
            &[("rtp_port_start", "20000"), ("rtp_port_end", "20000")]
        ),
        "must be greater than"
    ));
    assert!(
        errors(
            ep,
            &[("rtp_port_start", "20000"), ("rtp_port_end", "20100")]
        )
        .is_empty()
    );
    let e = errors(ep, &[("identify_by", "username,anonymous")]);
    assert_eq!(
        e,
        ["Unrecognized identification method anonymous specified for endpoint x"]
    );
    let dtls = [
        ("dtls_auto_generate_cert", "yes"),
        ("dtls_cert_file", "/c.pem"),
    ];
    assert!(has(&errors(ep, &dtls), "dtls_auto_generate_cert"));
    let pco = [
        ("preferred_codec_only", "yes"),
        ("incoming_call_offer_pref", "remote"),
    ];
    assert!(has(
        &errors(ep, &pco),
        "Setting both preferred_codec_only and incoming_call_offer_pref"
    ));
    assert!(errors(ep, &[("preferred_codec_only", "yes")]).is_empty());
    let e = errors(ep, &[("codec_prefs_incoming_offer", "operation: union")]);
    assert!(has(
        &e,
        "Codec preference 'operation' has invalid value 'union'"
    ));
    assert!(errors(ep, &[("codec_prefs_outgoing_offer", "operation: union")]).is_empty());
    let e = errors(ep, &[("from_user", "bob smith")]);
    assert_eq!(
        e,
        ["Error configuring endpoint 'x' - 'from_user' field contains invalid character ' '"]
    );
    assert!(errors(ep, &[("from_user", "+1-555;ext=2")]).is_empty());
    for ok in [
        "\"Alice\" <100>",
        "Alice <100>",
        "<100>",
        "100",
        "Alice",
        "",
    ] {
        assert!(errors(ep, &[("callerid", ok)]).is_empty(), "{ok}");
    }
    for wrong in ["\"Alice <100>", "Alice <100", "Alice 100>", "<100> extra"] {
        assert!(
            has(
                &errors(ep, &[("callerid", wrong)]),
                "is not \"Name\" <number>"
            ),
            "{wrong}"
        );
    }
    assert!(has(
        &errors(ep, &[("set_var", "NOVALUE")]),
        "is not NAME=value"
    ));
    assert!(has(&errors(ep, &[("set_var", "=1")]), "is not NAME=value"));
    assert!(errors(ep, &[("set_var", "__X=")]).is_empty());
}

#[test]
fn webrtc_forcing_is_separate_from_validation() {
    let e = endpoint(&[("webrtc", "yes")]);
    assert!(e.validate("x").is_empty());
    assert!(!e.bundle && !e.rtcp_mux);
    let f = e.with_forced_settings();
    assert!(
        f.bundle && f.rtcp_mux && f.use_avpf && f.ice_support && f.media_use_received_transport
    );
    assert_eq!(
        (f.media_encryption, f.dtls_verify, f.dtls_setup),
        (
            MediaEncryption::Dtls,
            DtlsVerify::Fingerprint,
            DtlsSetup::Actpass
        )
    );
    assert!(f.dtls_auto_generate_cert);
    let f = endpoint(&[("bundle", "yes")]).with_forced_settings();
    assert!(f.rtcp_mux && !f.use_avpf);
}

#[test]
fn auth_validation_follows_asterisk() {
    let md5 = "0123456789abcdef0123456789abcdef";
    let e = errors(Kind::Auth, &[("password", "p")]);
    assert_eq!(e, ["x: No authentication username"]);
    let e = errors(Kind::Auth, &[("username", "u")]);
    assert_eq!(
        e,
        [
            "x: No plain text or digest password found for algorithm MD5 in supported_algorithms_uas",
            "x: No plain text or digest password found for algorithm MD5 in supported_algorithms_uac",
        ]
    );
    assert!(errors(Kind::Auth, &[("username", "u"), ("password_digest", md5)]).is_empty());
    let e = errors(
        Kind::Auth,
        &[("username", "u"), ("password_digest", "MD5:abcd")],
    );
    assert!(has(
        &e,
        "x: password_digest algorithm 'MD5' length (4) must be 32"
    ));
    let e = errors(
        Kind::Auth,
        &[
            ("username", "u"),
            ("password_digest", &format!("SHA-256:{md5}")),
        ],
    );
    assert!(has(
        &e,
        "x: password_digest algorithm 'SHA-256' length (32) must be 64"
    ));
    let lines = [
        ("username", "u"),
        ("md5_cred", md5),
        ("supported_algorithms_uas", "MD5,SHA-256"),
    ];
    assert_eq!(
        errors(Kind::Auth, &lines),
        [
            "x: No plain text or digest password found for algorithm SHA-256 in supported_algorithms_uas",
        ]
    );
    let lines = [
        ("username", "u"),
        ("password", "p"),
        ("supported_algorithms_uac", "sha-512-256"),
    ];
    assert!(errors(Kind::Auth, &lines).is_empty());
    let e = errors(
        Kind::Auth,
        &[
            ("username", "u"),
            ("auth_type", "google_oauth"),
            ("refresh_token", "t"),
        ],
    );
    assert!(has(
        &e,
        "'google_oauth' authentication specified but refresh_token"
    ));
    let oauth = [
        ("username", "u"),
        ("auth_type", "google_oauth"),
        ("refresh_token", "t"),
        ("oauth_clientid", "c"),
        ("oauth_secret", "s"),
    ];
    assert!(errors(Kind::Auth, &oauth).is_empty());
}

#[test]
fn md5_cred_is_an_alias_of_password_digest() {
    let md5 = "0123456789ABCDEF0123456789abcdef";
    let outcome = new_object(Kind::Auth).apply_line("md5_cred", md5, &mut Vec::new());
    assert!(matches!(
        outcome,
        ApplyOutcome::Applied {
            option: "password_digest",
            ..
        }
    ));
    let a = auth(&[("md5_cred", md5)]);
    let d = a.digest(DigestAlgorithm::Md5).expect("md5 digest");
    assert_eq!(
        (d.algorithm, d.hex.as_str()),
        (DigestAlgorithm::Md5, md5.to_ascii_lowercase().as_str())
    );
    assert_eq!(d.to_string(), format!("MD5:{}", md5.to_ascii_lowercase()));
    assert!(auth(&[("md5_cred", "")]).password_digest.is_empty());
    let a = auth(&[
        ("md5_cred", md5),
        ("password_digest", &format!("md5:{}", "f".repeat(32))),
    ]);
    assert_eq!(
        a.digest(DigestAlgorithm::Md5).map(|d| d.hex.clone()),
        Some("f".repeat(32))
    );
}

#[test]
fn threadpool_names_are_aliases_of_taskpool() {
    let outcome = new_object(Kind::System).apply_line("threadpool_max_size", "10", &mut Vec::new());
    assert!(matches!(
        outcome,
        ApplyOutcome::Applied {
            option: "taskpool_max_size",
            ..
        }
    ));
    let lines = [
        ("threadpool_initial_size", "2"),
        ("threadpool_auto_increment", "3"),
        ("threadpool_idle_timeout", "30"),
        ("threadpool_max_size", "10"),
    ];
    let Ok(Object::System(s)) = build(Kind::System, &lines) else {
        panic!("system")
    };
    assert_eq!((s.taskpool_initial_size, s.taskpool_auto_increment), (2, 3));
    assert_eq!((s.taskpool_idle_timeout, s.taskpool_max_size), (30, 10));
}

#[test]
fn identify_validation_follows_asterisk() {
    let e = errors(Kind::Identify, &[]);
    assert_eq!(
        e,
        [
            "Identify 'x' missing required endpoint name.",
            "Identify 'x' is not configured to match anything."
        ]
    );
    assert!(errors(Kind::Identify, &[("endpoint", "e"), ("match", "10.0.0.1")]).is_empty());
    assert!(
        errors(
            Kind::Identify,
            &[("endpoint", "e"), ("match_request_uri", "/^sip:1/")]
        )
        .is_empty()
    );
    let e = errors(
        Kind::Identify,
        &[("endpoint", "e"), ("match_header", "X-Trunk")],
    );
    assert_eq!(
        e,
        ["Identify 'x' missing ':' separator in match_header 'X-Trunk'."]
    );
    let e = errors(
        Kind::Identify,
        &[("endpoint", "e"), ("match_header", ": v")],
    );
    assert_eq!(
        e,
        ["Identify 'x' has no SIP header to match in match_header ': v'."]
    );
    let Ok(Object::Identify(i)) = build(
        Kind::Identify,
        &[("endpoint", "e"), ("match_header", "X-Trunk: /^a.*/")],
    ) else {
        panic!("identify")
    };
    assert!(i.validate("x").is_empty());
    assert_eq!(i.header_match(), Some(("X-Trunk", "/^a.*/")));
}

#[test]
fn registration_transport_aor_contact_global_validation() {
    let r = Kind::Registration;
    assert_eq!(
        errors(r, &[]),
        [
            "No server URI specified on outbound registration 'x'",
            "No client URI specified on outbound registration 'x'",
        ]
    );
    let uris = [
        ("server_uri", "sip:reg.example.com"),
        ("client_uri", "sip:100@reg.example.com"),
    ];
    assert!(errors(r, &uris).is_empty());
    assert!(has(
        &errors(r, &[uris[0], uris[1], ("line", "yes")]),
        "without providing an endpoint"
    ));
    assert!(has(
        &errors(r, &[uris[0], uris[1], ("endpoint", "e")]),
        "without enabling line support"
    ));
    assert!(errors(r, &[uris[0], uris[1], ("endpoint", "e"), ("line", "yes")]).is_empty());

    let t = Kind::Transport;
    assert_eq!(
        errors(t, &[]),
        ["Transport 'x' could not be started as binding not specified"]
    );
    assert!(errors(t, &[("protocol", "flow")]).is_empty());
    assert!(
        errors(
            t,
            &[
                ("protocol", "wss"),
                ("bind", "0.0.0.0"),
                ("cert_file", "/c.pem")
            ]
        )
        .is_empty()
    );
    assert!(has(
        &errors(t, &[("bind", "::"), ("websocket_write_timeout", "0")]),
        "websocket_write_timeout"
    ));

    assert!(has(
        &errors(Kind::Aor, &[("qualify_frequency", "86401")]),
        "86400"
    ));
    assert!(errors(Kind::Aor, &[("qualify_frequency", "86400")]).is_empty());
    assert_eq!(errors(Kind::Contact, &[]), ["Contact 'x' has no uri"]);
    assert!(errors(Kind::Contact, &[("uri", "sip:a@10.0.0.1:5060")]).is_empty());
    assert!(has(&errors(Kind::DomainAlias, &[]), "no domain"));

    let g = Kind::Global;
    assert!(errors(g, &[]).is_empty());
    assert!(has(
        &errors(g, &[("debug", "")]),
        "Global option 'debug' can't be empty."
    ));
    assert!(has(
        &errors(g, &[("default_from_user", "")]),
        "Global option 'default_from_user' can't be empty."
    ));
    let o = build(g, &[("endpoint_identifier_order", "username,ip")]).expect("applies");
    assert!(
        matches!(o, Object::Global(g) if g.endpoint_identifier_order.0 == [IdentifyMethod::Username, IdentifyMethod::Ip])
    );
}

#[test]
fn references_name_every_linked_object() {
    let o = build(
        Kind::Endpoint,
        &[
            ("aors", "a1,a2"),
            ("auth", "in"),
            ("outbound_auth", "out"),
            ("transport", "udp"),
        ],
    )
    .expect("applies");
    let r = o.references();
    assert_eq!(
        r,
        vec![
            Reference::new("aors", Kind::Aor, "a1"),
            Reference::new("aors", Kind::Aor, "a2"),
            Reference::new("auth", Kind::Auth, "in"),
            Reference::new("outbound_auth", Kind::Auth, "out"),
            Reference::new("transport", Kind::Transport, "udp"),
        ]
    );
    let o = build(
        Kind::Registration,
        &[
            ("outbound_auth", "oa"),
            ("transport", "t"),
            ("endpoint", "e"),
        ],
    )
    .expect("applies");
    assert_eq!(
        o.references(),
        vec![
            Reference::new("outbound_auth", Kind::Auth, "oa"),
            Reference::new("transport", Kind::Transport, "t"),
            Reference::new("endpoint", Kind::Endpoint, "e"),
        ]
    );
    let o = build(Kind::Identify, &[("endpoint", "e")]).expect("applies");
    assert_eq!(
        o.references(),
        vec![Reference::new("endpoint", Kind::Endpoint, "e")]
    );
    for kind in [
        Kind::Aor,
        Kind::Contact,
        Kind::Auth,
        Kind::Global,
        Kind::System,
        Kind::Acl,
    ] {
        assert!(new_object(kind).references().is_empty(), "{kind}");
    }
    assert!(new_object(Kind::Endpoint).references().is_empty());
}
