//! Option tables, defaults, value syntax and list semantics of every type.

use super::*;
use crate::config::options::{Groups, OptionValue, Support, Tos};

/// Applies `lines` to a fresh object of `kind`; any line that is not applied is an error.
pub(super) fn build(kind: Kind, lines: &[(&str, &str)]) -> Result<Object, String> {
    let mut o = new_object(kind);
    let mut seen = Vec::new();
    for (n, v) in lines {
        match o.apply_line(n, v, &mut seen) {
            ApplyOutcome::Applied { .. } => {}
            other => return Err(format!("{n}={v}: {other:?}")),
        }
    }
    Ok(o)
}

/// The message of a line that does not apply.
pub(super) fn bad(kind: Kind, name: &str, value: &str) -> String {
    match new_object(kind).apply_line(name, value, &mut Vec::new()) {
        ApplyOutcome::Invalid(e) => e,
        other => panic!("{name}={value} gave {other:?}"),
    }
}

/// Validation errors of an object named `x` built from `lines`.
pub(super) fn errors(kind: Kind, lines: &[(&str, &str)]) -> Vec<String> {
    build(kind, lines).expect("lines apply").validate("x")
}

pub(super) fn has(errors: &[String], needle: &str) -> bool {
    errors.iter().any(|e| e.contains(needle))
}

pub(super) fn endpoint(lines: &[(&str, &str)]) -> Endpoint {
    match build(Kind::Endpoint, lines).expect("lines apply") {
        Object::Endpoint(e) => *e,
        _ => unreachable!(),
    }
}

pub(super) fn auth(lines: &[(&str, &str)]) -> Auth {
    match build(Kind::Auth, lines).expect("lines apply") {
        Object::Auth(a) => a,
        _ => unreachable!(),
    }
}

fn option_table(
    kind: Kind,
) -> (
    &'static [crate::config::options::OptionInfo],
    &'static [Alias],
) {
    fn t<T: ConfigObject>() -> (
        &'static [crate::config::options::OptionInfo],
        &'static [Alias],
    ) {
        (T::OPTIONS, T::ALIASES)
    }
    match kind {
        Kind::Transport => t::<Transport>(),
        Kind::Endpoint => t::<Endpoint>(),
        Kind::Aor => t::<Aor>(),
        Kind::Auth => t::<Auth>(),
        Kind::Contact => t::<Contact>(),
        Kind::Identify => t::<Identify>(),
        Kind::Registration => t::<Registration>(),
        Kind::DomainAlias => t::<DomainAlias>(),
        Kind::Acl => t::<Acl>(),
        Kind::Global => t::<Global>(),
        Kind::System => t::<System>(),
    }
}

#[test]
fn option_counts_and_names_are_unique() {
    let counts = [
        (Kind::Endpoint, 142),
        (Kind::Aor, 16),
        (Kind::Contact, 15),
        (Kind::Auth, 11),
        (Kind::Identify, 5),
        (Kind::Registration, 21),
        (Kind::DomainAlias, 1),
        (Kind::Acl, 4),
        (Kind::Global, 28),
        (Kind::System, 12),
        (Kind::Transport, 29),
    ];
    for (kind, n) in counts {
        let (options, aliases) = option_table(kind);
        assert_eq!(options.len(), n, "{kind}");
        let names = kind.option_names();
        for name in &names {
            assert_eq!(
                names.iter().filter(|x| *x == name).count(),
                1,
                "{kind} {name}"
            );
        }
        for a in aliases {
            assert!(
                options.iter().any(|o| o.name == a.target),
                "{kind} alias {}",
                a.name
            );
        }
    }
}

#[test]
fn only_the_used_options_are_supported() {
    let yes = [
        (Kind::Endpoint, "aors"),
        (Kind::Endpoint, "auth"),
        (Kind::Endpoint, "outbound_auth"),
        (Kind::Endpoint, "transport"),
        (Kind::Endpoint, "permit"),
        (Kind::Endpoint, "acl"),
        (Kind::Endpoint, "contact_permit"),
        (Kind::Endpoint, "contact_acl"),
        (Kind::Acl, "permit"),
        (Kind::Acl, "acl"),
        (Kind::Acl, "contact_permit"),
        (Kind::Acl, "contact_acl"),
        (Kind::Auth, "username"),
        (Kind::Identify, "endpoint"),
        (Kind::Identify, "match"),
        (Kind::Endpoint, "context"),
        (Kind::Endpoint, "identify_by"),
        (Kind::Endpoint, "allow_unauthenticated_options"),
        (Kind::Identify, "match_header"),
        (Kind::Identify, "match_request_uri"),
        (Kind::Global, "endpoint_identifier_order"),
        (Kind::Global, "user_agent"),
        (Kind::Global, "disable_multi_domain"),
        (Kind::Global, "default_realm"),
        (Kind::Global, "ignore_uri_user_options"),
        (Kind::Auth, "auth_type"),
        (Kind::Auth, "password"),
        (Kind::Auth, "realm"),
        (Kind::Auth, "nonce_lifetime"),
        (Kind::Auth, "supported_algorithms_uas"),
        (Kind::DomainAlias, "domain"),
        (Kind::Aor, "contact"),
        (Kind::Aor, "max_contacts"),
        (Kind::Aor, "remove_existing"),
        (Kind::Aor, "remove_unavailable"),
        (Kind::Aor, "minimum_expiration"),
        (Kind::Aor, "maximum_expiration"),
        (Kind::Aor, "default_expiration"),
        (Kind::Aor, "reject_short_expiration"),
        (Kind::Aor, "qualify_frequency"),
        (Kind::Aor, "qualify_timeout"),
        (Kind::Aor, "qualify_2xx_only"),
        (Kind::Aor, "authenticate_qualify"),
        (Kind::Aor, "support_path"),
        (Kind::Endpoint, "allow"),
        (Kind::Endpoint, "dtmf_mode"),
        (Kind::Endpoint, "rtp_symmetric"),
        (Kind::Endpoint, "use_ptime"),
        (Kind::Endpoint, "force_rport"),
        (Kind::Endpoint, "rewrite_contact"),
        (Kind::Endpoint, "outbound_proxy"),
        (Kind::Endpoint, "timers"),
        (Kind::Endpoint, "timers_min_se"),
        (Kind::Endpoint, "timers_sess_expires"),
        (Kind::Endpoint, "media_address"),
        (Kind::Endpoint, "callerid"),
        (Kind::Endpoint, "trust_id_inbound"),
        (Kind::Endpoint, "trust_id_outbound"),
        (Kind::Endpoint, "callerid_privacy"),
        (Kind::Endpoint, "send_pai"),
        (Kind::Endpoint, "send_rpid"),
        (Kind::Endpoint, "rtp_timeout"),
        (Kind::Endpoint, "from_user"),
        (Kind::Endpoint, "from_domain"),
        (Kind::Endpoint, "contact_user"),
        (Kind::Endpoint, "sdp_owner"),
        (Kind::Endpoint, "sdp_session"),
        (Kind::Endpoint, "incoming_call_offer_pref"),
        (Kind::Endpoint, "outgoing_call_offer_pref"),
        (Kind::Transport, "external_signaling_address"),
        (Kind::Transport, "external_signaling_port"),
        (Kind::Transport, "external_media_address"),
        (Kind::Transport, "local_net"),
        (Kind::Endpoint, "direct_media"),
        (Kind::Endpoint, "direct_media_method"),
        (Kind::Endpoint, "100rel"),
        (Kind::System, "timer_t1"),
        (Kind::System, "timer_b"),
        (Kind::Global, "keep_alive_interval"),
        (Kind::Global, "unidentified_request_count"),
        (Kind::Global, "unidentified_request_period"),
        (Kind::Global, "unidentified_request_prune_interval"),
        (Kind::Transport, "protocol"),
        (Kind::Transport, "bind"),
        (Kind::Transport, "ca_list_file"),
        (Kind::Transport, "ca_list_path"),
        (Kind::Transport, "cert_file"),
        (Kind::Transport, "priv_key_file"),
        (Kind::Transport, "password"),
        (Kind::Transport, "verify_client"),
        (Kind::Transport, "require_client_cert"),
        (Kind::Transport, "method"),
        (Kind::Transport, "tcp_keepalive_enable"),
        (Kind::Transport, "tcp_keepalive_idle_time"),
        (Kind::Transport, "tcp_keepalive_interval_time"),
        (Kind::Transport, "tcp_keepalive_probe_count"),
    ];
    for kind in Kind::ALL {
        for o in option_table(kind).0 {
            let expected = if yes.contains(&(kind, o.name)) {
                Support::Yes
            } else {
                Support::NotYet
            };
            assert_eq!(o.support, expected, "{kind} {}", o.name);
        }
    }
}

#[test]
fn every_default_text_parses_to_the_default() {
    for kind in Kind::ALL {
        let defaults = new_object(kind);
        for o in option_table(kind).0 {
            let mut obj = new_object(kind);
            let outcome = obj.apply_line(o.name, o.default, &mut Vec::new());
            assert!(
                matches!(outcome, ApplyOutcome::Applied { .. }),
                "{kind} {}: {outcome:?}",
                o.name
            );
            assert_eq!(obj, defaults, "{kind} {} default '{}'", o.name, o.default);
        }
    }
}

#[test]
fn rendered_defaults_apply_back_to_the_same_object() {
    for kind in Kind::ALL {
        let defaults = new_object(kind);
        let mut obj = new_object(kind);
        let mut seen = Vec::new();
        for (name, lines) in defaults.option_values() {
            for line in lines {
                let outcome = obj.apply_line(name, &line, &mut seen);
                assert!(
                    matches!(outcome, ApplyOutcome::Applied { .. }),
                    "{kind} {name}={line}"
                );
            }
        }
        assert_eq!(obj, defaults, "{kind}");
        assert!(defaults.changed_options().is_empty(), "{kind}");
    }
}

#[test]
fn changed_values_render_back_to_the_same_object() {
    let lines = [
        ("call_group", "1,3-5,7"),
        ("tos_audio", "ef"),
        ("codec_prefs_outgoing_offer", "prefer: configured"),
        ("security_mechanisms", "msrp-tls;q=0.1,sdes-srtp;mediasec"),
        ("set_var", "A=1"),
        ("set_var", "B=x,y"),
        ("disallow", "all"),
        ("allow", "ulaw:20,alaw"),
        ("identify_by", "ip,header"),
        ("callerid", "\"Alice\" <100>"),
    ];
    let o = build(Kind::Endpoint, &lines).expect("applies");
    let mut back = new_object(Kind::Endpoint);
    let mut seen = Vec::new();
    for (name, values) in o.changed_options() {
        for v in values {
            assert!(matches!(
                back.apply_line(name, &v, &mut seen),
                ApplyOutcome::Applied { .. }
            ));
        }
    }
    assert_eq!(back, o);
}

#[test]
fn endpoint_defaults_match_asterisk() {
    let e = Endpoint::default();
    assert_eq!(e.context, "default");
    assert!(e.allow.0.is_empty());
    assert!(e.force_rport && e.direct_media && e.send_diversion && e.aggregate_mwi);
    assert!(e.allow_subscribe && e.allow_transfer && e.allow_overlap && e.refer_blind_progress);
    assert!(e.trust_connected_line && e.send_connected_line && e.follow_early_media_fork);
    assert!(!e.rewrite_contact && !e.rtp_symmetric && !e.ice_support && !e.webrtc);
    assert_eq!(
        e.identify_by.0,
        vec![IdentifyMethod::Username, IdentifyMethod::Ip]
    );
    assert_eq!((e.timers_min_se, e.timers_sess_expires), (90, 1800));
    assert_eq!((e.timers, e.rel100), (Timers::Yes, Rel100::Yes));
    assert_eq!(e.dtmf_mode, DtmfMode::Rfc4733);
    assert_eq!(e.direct_media_method, DirectMediaMethod::Invite);
    assert_eq!(e.direct_media_glare_mitigation, GlareMitigation::None);
    assert_eq!(e.callerid_privacy, CallerIdPrivacy::AllowedNotScreened);
    assert_eq!(e.media_encryption, MediaEncryption::No);
    assert_eq!(e.redirect_method, RedirectMethod::User);
    assert_eq!(e.t38_udptl_ec, T38ErrorCorrection::None);
    assert_eq!(e.stir_shaken, StirShaken::Off);
    assert_eq!(e.incoming_call_offer_pref, IncomingCallOfferPref::Local);
    assert_eq!(
        e.outgoing_call_offer_pref,
        OutgoingCallOfferPref::RemoteMerge
    );
    assert_eq!(
        (e.dtls_setup, e.dtls_fingerprint),
        (DtlsSetup::Active, DtlsFingerprint::Sha256)
    );
    assert_eq!(
        (e.sdp_owner.as_str(), e.sdp_session.as_str()),
        ("-", "Asterisk")
    );
    assert_eq!(
        (e.moh_suggest.as_str(), e.rtp_engine.as_str()),
        ("default", "asterisk")
    );
    assert_eq!(e.record_on_feature, "automixmon");
    assert_eq!((e.max_audio_streams, e.max_video_streams), (1, 1));
    assert_eq!(
        (e.tos_audio, e.cos_audio, e.call_group),
        (Tos(0), 0, Groups(0))
    );
    let p = e
        .codec_prefs_outgoing_offer
        .or_defaults(CodecOperation::Intersect);
    assert_eq!(p.1, CodecOperation::Union);
    assert_eq!(e.codec_prefs_incoming_answer.transcode, None);
    assert!(e.validate("x").is_empty(), "{:?}", e.validate("x"));
}

#[test]
fn small_type_defaults_match_asterisk() {
    let a = Aor::default();
    assert_eq!(
        (a.max_contacts, a.minimum_expiration, a.maximum_expiration),
        (0, 60, 7200)
    );
    assert_eq!(
        (a.default_expiration, a.qualify_frequency, a.qualify_timeout),
        (3600, 0, 3.0)
    );
    assert!(!a.remove_existing && !a.remove_unavailable && !a.qualify_2xx_only);
    assert!(!a.authenticate_qualify && !a.support_path && a.contact.is_empty());
    assert!(
        a.outbound_proxy.0.is_empty() && a.mailboxes.is_empty() && a.voicemail_extension.is_empty()
    );

    let au = Auth::default();
    assert_eq!((au.auth_type, au.nonce_lifetime), (AuthType::Userpass, 32));
    assert!(au.username.is_empty() && au.password.is_empty() && au.realm.is_empty());
    assert!(au.password_digest.is_empty() && au.supported_algorithms_uas.is_empty());
    assert!(au.supported_algorithms_uac.is_empty() && au.refresh_token.is_empty());
    assert!(au.oauth_clientid.is_empty() && au.oauth_secret.is_empty());

    let i = Identify::default();
    assert!(i.srv_lookups && i.endpoint.is_empty() && i.r#match.is_empty());
    assert!(i.match_header.is_empty() && i.match_request_uri.is_empty());

    let r = Registration::default();
    assert_eq!(
        (
            r.contact_user.as_str(),
            r.expiration,
            r.max_random_initial_delay
        ),
        ("s", 3600, 10)
    );
    assert_eq!(
        (
            r.retry_interval,
            r.forbidden_retry_interval,
            r.fatal_retry_interval
        ),
        (60, 0, 0)
    );
    assert_eq!(r.max_retries, 10);
    assert!(r.auth_rejection_permanent && !r.support_path && !r.support_outbound && !r.line);
    assert_eq!(r.security_negotiation, SecurityNegotiation::No);

    let g = Global::default();
    assert_eq!(
        (
            g.max_forwards,
            g.keep_alive_interval,
            g.max_initial_qualify_time
        ),
        (70, 90, 0)
    );
    assert_eq!(g.default_outbound_endpoint, "default_outbound_endpoint");
    assert_eq!((g.debug.as_str(), g.user_agent.as_str()), ("no", "pjsipd"));
    use IdentifyMethod::{Anonymous, Ip, Username};
    assert_eq!(g.endpoint_identifier_order.0, vec![Ip, Username, Anonymous]);
    assert_eq!(
        (g.default_from_user.as_str(), g.default_realm.as_str()),
        ("asterisk", "asterisk")
    );
    assert_eq!(g.contact_expiration_check_interval, 30);
    assert_eq!(
        (g.unidentified_request_count, g.unidentified_request_period),
        (5, 5)
    );
    assert_eq!(g.unidentified_request_prune_interval, 30);
    assert_eq!((g.mwi_tps_queue_high, g.mwi_tps_queue_low), (500, -1));
    assert_eq!(g.taskprocessor_overload_trigger, OverloadTrigger::Global);
    assert!(g.norefersub && !g.disable_multi_domain && !g.ignore_uri_user_options);
    assert!(!g.mwi_disable_initial_unsolicited && !g.allow_sending_180_after_183);
    assert!(!g.use_callerid_contact && !g.send_contact_status_on_update_registration);
    assert!(!g.all_codecs_on_empty_reinvite && g.regcontext.is_empty());
    assert_eq!(g.default_auth_algorithms_uas.0, vec![DigestAlgorithm::Md5]);
    assert_eq!(g.default_auth_algorithms_uac.0, vec![DigestAlgorithm::Md5]);

    let s = System::default();
    assert_eq!((s.timer_t1, s.timer_b), (500, 32000));
    assert_eq!((s.taskpool_minimum_size, s.taskpool_initial_size), (4, 4));
    assert_eq!(
        (
            s.taskpool_auto_increment,
            s.taskpool_idle_timeout,
            s.taskpool_max_size
        ),
        (1, 60, 50)
    );
    assert!(!s.compact_headers && s.disable_tcp_switch && s.follow_early_media_fork);
    assert!(!s.accept_multiple_sdp_answers && !s.disable_rport);

    let t = Transport::default();
    assert_eq!(
        (t.protocol, t.method, t.async_operations),
        (TransportProtocol::Udp, TlsMethod::Default, 1)
    );
    assert_eq!((t.external_signaling_port, t.tos, t.cos), (0, Tos(0), 0));
    assert_eq!(
        (t.websocket_write_timeout, t.tcp_keepalive_idle_time),
        (100, 30)
    );
    assert_eq!(
        (t.tcp_keepalive_interval_time, t.tcp_keepalive_probe_count),
        (1, 5)
    );
    assert!(!t.allow_reload && !t.symmetric_transport && !t.tcp_keepalive_enable);
    assert!(
        !t.verify_server && !t.verify_client && !t.require_client_cert && !t.allow_wildcard_certs
    );
    assert!(t.bind.0.is_none() && t.local_net.0.is_empty() && t.cipher.is_empty());

    let c = Contact::default();
    assert_eq!(
        (
            c.qualify_frequency,
            c.qualify_timeout,
            c.expiration_time,
            c.via_port
        ),
        (0, 3.0, 0, 0)
    );
    assert!(!c.qualify_2xx_only && !c.authenticate_qualify && !c.prune_on_boot);

    assert!(DomainAlias::default().domain.is_empty());
    let acl = Acl::default();
    assert!(acl.acl.is_empty() && acl.source_rules.is_empty());
    assert!(acl.contact_acl.is_empty() && acl.contact_rules.is_empty());
}

#[test]
fn bad_values_are_refused() {
    assert!(bad(Kind::Endpoint, "direct_media", "maybe").contains("not a boolean"));
    assert!(bad(Kind::Endpoint, "timers_min_se", "abc").contains("whole number"));
    assert!(bad(Kind::Endpoint, "rtp_port_start", "70000").contains("0 to 65535"));
    assert!(bad(Kind::Global, "max_forwards", "-1").contains("whole number"));
    assert!(bad(Kind::Aor, "qualify_timeout", "soon").contains("not a number"));
    assert!(bad(Kind::Endpoint, "dtmf_mode", "rfc4734").contains("did you mean 'rfc4733'"));
    assert!(bad(Kind::Endpoint, "timers", "require").contains("did you mean 'required'"));
    assert!(bad(Kind::Endpoint, "media_encryption", "sdess").contains("did you mean 'sdes'"));
    assert!(bad(Kind::Global, "taskprocessor_overload_trigger", "pjsip").contains("did you mean"));
    assert!(bad(Kind::Transport, "protocol", "tcpp").contains("did you mean"));
    assert!(bad(Kind::Endpoint, "identify_by", "ip,usrname").contains("did you mean 'username'"));
    assert!(bad(Kind::Endpoint, "aors", "a b").contains("spaces"));
    assert!(bad(Kind::Endpoint, "outbound_proxy", "proxy.example.com").contains("sip:"));
    assert!(bad(Kind::Endpoint, "permit", "10.0.0.0/33").contains("not an IP"));
    assert!(bad(Kind::Endpoint, "tos_audio", "eff").contains("did you mean 'ef'"));
    assert!(bad(Kind::Endpoint, "tos_video", "256").contains("ToS"));
    assert!(bad(Kind::Endpoint, "call_group", "64").contains("0 to 63"));
    assert!(bad(Kind::Endpoint, "pickup_group", "5-3").contains("starts after"));
    assert!(
        bad(
            Kind::Endpoint,
            "codec_prefs_incoming_offer",
            "prefer: pendin"
        )
        .contains("did you mean")
    );
    assert!(bad(Kind::Endpoint, "codec_prefs_incoming_answer", "keeps: all").contains("'keep'"));
    assert!(bad(Kind::Endpoint, "security_mechanisms", "tls-srtp").contains("did you mean"));
    assert!(bad(Kind::Endpoint, "security_mechanisms", "sdes-srtp;q=2").contains("0 to 1"));
    assert!(bad(Kind::Auth, "password_digest", "SHA256:abcd").contains("did you mean"));
    assert!(bad(Kind::Auth, "password_digest", "MD5:xyz").contains("hexadecimal"));
    assert!(bad(Kind::Registration, "server_uri", "http://x").contains("sip:"));
    assert!(bad(Kind::Identify, "match", "not a host!").contains("not an IP"));
    assert!(matches!(
        new_object(Kind::Endpoint).apply_line("bogus", "1", &mut Vec::new()),
        ApplyOutcome::Unknown
    ));
}

#[test]
fn asterisk_alternative_spellings_are_accepted() {
    let e = endpoint(&[
        ("dtmf_mode", "RFC2833"),
        ("timers", "forced"),
        ("direct_media_method", "reinvite"),
        ("connected_line_method", "update"),
        ("callerid_privacy", "32"),
        ("100rel", "peer_supported"),
        ("dtls_fingerprint", "SHA-1"),
    ]);
    assert_eq!(e.dtmf_mode, DtmfMode::Rfc4733);
    assert_eq!(e.timers, Timers::Always);
    assert_eq!(e.direct_media_method, DirectMediaMethod::Invite);
    assert_eq!(e.connected_line_method, DirectMediaMethod::Update);
    assert_eq!(e.callerid_privacy, CallerIdPrivacy::ProhibNotScreened);
    assert_eq!(e.rel100, Rel100::PeerSupported);
    assert_eq!(e.dtls_fingerprint, DtlsFingerprint::Sha1);
    let t = build(
        Kind::Transport,
        &[("method", "TLSv1_2"), ("bind", "0.0.0.0")],
    )
    .expect("applies");
    assert!(matches!(t, Object::Transport(t) if t.method == TlsMethod::Tlsv1_2));
}

#[test]
fn list_options_replace_the_default_then_accumulate() {
    let e = endpoint(&[("identify_by", "ip")]);
    assert_eq!(e.identify_by.0, vec![IdentifyMethod::Ip]);
    let e = endpoint(&[("identify_by", "ip"), ("identify_by", "username,header")]);
    use IdentifyMethod::{Header, Ip, Username};
    assert_eq!(e.identify_by.0, vec![Ip, Username, Header]);
    let e = endpoint(&[("aors", "a,b"), ("aors", "c")]);
    assert_eq!(
        e.aors.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let o = build(
        Kind::Aor,
        &[("contact", "sip:a@h,sip:b@h"), ("contact", "sip:c@h")],
    )
    .expect("applies");
    assert!(matches!(o, Object::Aor(a) if a.contact.0.len() == 3));
    // A scalar-valued list (numbered groups) is replaced by a later line, as in Asterisk.
    let e = endpoint(&[("call_group", "1,3-5"), ("call_group", "7")]);
    assert_eq!(e.call_group, Groups(1 << 7));
    let e = endpoint(&[("set_var", "A=1"), ("set_var", "B=2,3"), ("set_var", "A=4")]);
    assert_eq!(e.channel_vars(), vec![("A", "4"), ("B", "2,3")]);
}

#[test]
fn disallow_all_then_allow_keeps_the_allowed_order() {
    let e = endpoint(&[("disallow", "all"), ("allow", "ulaw,alaw")]);
    let names: Vec<&str> = e.allow.0.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ulaw", "alaw"]);
    let e = endpoint(&[("allow", "all"), ("disallow", "g729")]);
    assert!(!e.allow.0.iter().any(|c| c.name == "g729") && e.allow.0.len() > 10);
}

#[test]
fn value_types_parse_asterisk_syntax() {
    let e = endpoint(&[
        ("tos_audio", "ef"),
        ("tos_video", "AF41"),
        ("call_group", "1,3-5"),
    ]);
    assert_eq!(
        (e.tos_audio, e.tos_audio.dscp(), e.tos_video),
        (Tos(184), 46, Tos(136))
    );
    assert!(e.call_group.contains(4) && !e.call_group.contains(2));
    assert_eq!(
        OptionValue::render(&e.call_group),
        vec!["1,3-5".to_string()]
    );
    let e = endpoint(&[("tos_audio", "0x10"), ("pickup_group", "")]);
    assert_eq!((e.tos_audio, e.pickup_group.is_empty()), (Tos(16), true));
    let e = endpoint(&[(
        "codec_prefs_incoming_offer",
        "transcode: prevent, prefer: configured",
    )]);
    let p = e.codec_prefs_incoming_offer;
    assert_eq!(
        (p.prefer, p.transcode, p.keep),
        (
            Some(CodecPrefer::Configured),
            Some(CodecTranscode::Prevent),
            None
        )
    );
    assert_eq!(
        OptionValue::render(&p),
        vec!["prefer: configured, transcode: prevent".to_string()]
    );
    let e = endpoint(&[("security_mechanisms", "msrp-tls;q=0.1, sdes-srtp;mediasec")]);
    let m = &e.security_mechanisms.0;
    assert_eq!(
        (m[0].mechanism, m[0].qvalue),
        (SecurityMechanismType::MsrpTls, Some(0.1))
    );
    assert_eq!(
        (m[1].mechanism, m[1].params.as_slice()),
        (
            SecurityMechanismType::SdesSrtp,
            &["mediasec".to_string()][..]
        )
    );
    assert_eq!(m[1].to_string(), "sdes-srtp;mediasec");
    let e = endpoint(&[("follow_redirect_methods", "MESSAGE")]);
    assert_eq!(
        e.follow_redirect_methods.0,
        vec![FollowRedirectMethod::Message]
    );
}
