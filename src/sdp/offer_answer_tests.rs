//! Offer/answer, outgoing-leg codec choice, origin versions and attribute relay tests
//! (the asterisk-testsuite `sdp_offer_answer` and `dtmf_sdp` behaviours among them).

use std::net::SocketAddr;

use super::codec::{allowed_names, by_name};
use super::relay::copy_extra_attributes;
use super::*;
use crate::config::options::OptionValue as _;
use crate::config::types::{Endpoint, IncomingCallOfferPref, OutgoingCallOfferPref};

fn local() -> SocketAddr {
    "198.51.100.1:10000".parse().expect("addr")
}

fn offer(body: &str) -> Sdp {
    let text = format!(
        "v=0\r\no=caller 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n{body}"
    );
    Sdp::parse(text.as_bytes()).expect("test offer parses")
}

fn answerer(names: &[&str]) -> Answerer {
    Answerer::new(allowed_names(names), local())
}

fn answer(a: &Answerer, o: &Sdp) -> Answer {
    a.answer(o).expect("answer")
}

fn formats(sdp: &Sdp, i: usize) -> Vec<&str> {
    sdp.media[i].formats.iter().map(String::as_str).collect()
}

const PCMA_PCMU_GSM: &str = "m=audio 6000 RTP/AVP 8 0 3 101\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:3 GSM/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

#[test]
fn codec_mismatch_is_488() {
    // asterisk-testsuite sdp_offer_answer/.../codec-mismatch.
    let o = offer(
        "m=audio 6000 RTP/AVP 3 4 5 101\r\na=rtpmap:3 GSM/8000\r\na=rtpmap:4 G723/8000\r\n\
         a=rtpmap:5 DVI4/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
    );
    let err = answerer(&["ulaw"])
        .answer(&o)
        .expect_err("no codec in common");
    assert_eq!(err, OfferAnswerError::NoCommonCodec);
    assert_eq!(err.sip_status(), 488);
}

#[test]
fn intersection_follows_the_preference() {
    let o = offer(PCMA_PCMU_GSM);
    let mut a = answerer(&["ulaw", "g722", "alaw"]);
    let cases = [
        (IncomingCallOfferPref::Local, vec!["0", "8", "101"]),
        (IncomingCallOfferPref::LocalFirst, vec!["0", "101"]),
        (IncomingCallOfferPref::Remote, vec!["8", "0", "101"]),
        (IncomingCallOfferPref::RemoteFirst, vec!["8", "101"]),
    ];
    for (pref, want) in cases {
        a.pref = pref;
        let ans = answer(&a, &o);
        assert_eq!(formats(&ans.sdp, 0), want, "{pref:?}");
        let first = want.first().and_then(|p| p.parse::<u8>().ok());
        assert_eq!(Some(ans.streams[0].codec.pt), first, "{pref:?}");
    }
}

#[test]
fn answer_body_is_asterisk_shaped() {
    let o = offer(PCMA_PCMU_GSM);
    let mut ans = answer(&answerer(&["ulaw", "alaw"]), &o);
    let mut origin = Origin::new(42, "-", "Asterisk");
    origin.stamp(&mut ans.sdp);
    assert_eq!(
        ans.sdp.to_string(),
        "v=0\r\no=- 42 42 IN IP4 198.51.100.1\r\ns=Asterisk\r\nc=IN IP4 198.51.100.1\r\n\
         t=0 0\r\nm=audio 10000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
         a=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n"
    );
    let n = &ans.streams[0];
    assert_eq!(n.remote_rtp, "192.0.2.10:6000".parse().ok());
    assert_eq!(n.remote_rtcp, "192.0.2.10:6001".parse().ok());
    assert_eq!(n.codec.codec, by_name("ulaw").expect("ulaw"));
    assert_eq!(n.codecs.len(), 2);
    assert_eq!(n.ptime, 20);
    assert!(n.sends() && n.receives());
}

#[test]
fn telephone_event_keeps_the_offerers_payload_type_and_fmtp() {
    // asterisk-testsuite dtmf_sdp/dtmf_sdp_negotiation.
    for (pt, fmtp) in [(96u8, "0-15"), (101, "0-16"), (110, "0-11,16")] {
        let o = offer(&format!(
            "m=audio 6000 RTP/AVP 0 {pt}\r\na=rtpmap:{pt} telephone-event/8000\r\n\
             a=fmtp:{pt} {fmtp}\r\n"
        ));
        let ans = answer(&answerer(&["ulaw"]), &o);
        let te = ans.streams[0].telephone_event.clone().expect("te");
        assert_eq!((te.pt, te.clock, te.fmtp.as_str()), (pt, 8000, fmtp));
        let m = &ans.sdp.media[0];
        assert_eq!(formats(&ans.sdp, 0), vec!["0".to_string(), pt.to_string()]);
        assert_eq!(m.fmtp(pt), Some(fmtp));
        assert_eq!(
            m.rtpmap(pt).map(|r| r.encoding),
            Some("telephone-event".into())
        );
    }
}

#[test]
fn telephone_event_without_fmtp_gets_default_and_can_be_refused() {
    let o = offer("m=audio 6000 RTP/AVP 0 97\r\na=rtpmap:97 telephone-event/8000\r\n");
    let ans = answer(&answerer(&["ulaw"]), &o);
    assert_eq!(ans.sdp.media[0].fmtp(97), Some("0-16"));
    let mut a = answerer(&["ulaw"]);
    a.telephone_event = false;
    let ans = answer(&a, &o);
    assert_eq!(formats(&ans.sdp, 0), vec!["0"]);
    assert_eq!(ans.streams[0].telephone_event, None);
}

#[test]
fn telephone_event_rate_follows_the_codec() {
    let o = offer(
        "m=audio 6000 RTP/AVP 111 0 100 101\r\na=rtpmap:111 opus/48000/2\r\n\
         a=rtpmap:100 telephone-event/48000\r\na=rtpmap:101 telephone-event/8000\r\n",
    );
    let ans = answer(&answerer(&["opus", "ulaw"]), &o);
    assert_eq!(formats(&ans.sdp, 0), vec!["111", "0", "100"]);
    assert_eq!(
        ans.sdp.media[0].rtpmap(111).and_then(|r| r.channels),
        Some(2)
    );
    let ans = answer(&answerer(&["ulaw"]), &o);
    assert_eq!(formats(&ans.sdp, 0), vec!["0", "101"]);
}

#[test]
fn dynamic_codecs_match_by_name_and_rate_not_number() {
    let o = offer(
        "m=audio 6000 RTP/AVP 120 121\r\na=rtpmap:120 SPEEX/16000\r\n\
         a=rtpmap:121 speex/8000\r\n",
    );
    let ans = answer(&answerer(&["speex"]), &o);
    assert_eq!(formats(&ans.sdp, 0), vec!["121"]);
    assert_eq!(ans.streams[0].codec.codec.name, "speex");
}

#[test]
fn other_streams_are_rejected_keeping_their_formats() {
    let o = offer(
        "m=video 7000 RTP/AVP 96 31\r\na=rtpmap:96 H264/90000\r\n\
         m=audio 0 RTP/AVP 0\r\n\
         m=audio 6000 RTP/AVP 0\r\n\
         m=audio 6002 RTP/AVP 8\r\n\
         m=image 6004 udptl t38\r\n",
    );
    let ans = answer(&answerer(&["ulaw", "alaw"]), &o);
    let ports: Vec<u16> = ans.sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![0, 0, 10000, 0, 0]);
    assert_eq!(formats(&ans.sdp, 0), vec!["96", "31"]);
    assert_eq!(ans.sdp.media[0].kind, "video");
    assert_eq!(formats(&ans.sdp, 4), vec!["t38"]);
    assert_eq!(ans.sdp.media[4].proto, "udptl");
    assert!(ans.sdp.media[4].fields.0.is_empty());
    assert_eq!(ans.streams.len(), 1);
    assert_eq!(ans.streams[0].media_index, 2);
    // The answer parses and has as many m= lines as the offer.
    let reparsed = Sdp::parse(&ans.sdp.to_bytes()).expect("answer parses");
    assert_eq!(reparsed.media.len(), o.media.len());
}

#[test]
fn srtp_only_offer_is_not_acceptable() {
    let o = offer("m=audio 6000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n");
    assert_eq!(
        answerer(&["ulaw"]).answer(&o),
        Err(OfferAnswerError::NoCommonCodec)
    );
}

#[test]
fn directions_are_answered_per_rfc3264() {
    let cases = [
        ("a=sendrecv\r\n", false, Direction::SendRecv),
        ("a=sendonly\r\n", false, Direction::RecvOnly),
        ("a=recvonly\r\n", false, Direction::SendOnly),
        ("a=inactive\r\n", false, Direction::Inactive),
        ("", false, Direction::SendRecv),
        ("a=sendrecv\r\n", true, Direction::SendOnly),
        ("a=sendonly\r\n", true, Direction::Inactive),
        ("a=recvonly\r\n", true, Direction::SendOnly),
        ("a=inactive\r\n", true, Direction::Inactive),
    ];
    for (attr, hold, want) in cases {
        let o = offer(&format!("m=audio 6000 RTP/AVP 0\r\n{attr}"));
        let mut a = answerer(&["ulaw"]);
        a.hold = hold;
        let ans = answer(&a, &o);
        assert_eq!(ans.sdp.direction(0), want, "{attr} hold={hold}");
        assert!(
            ans.sdp.media[0].fields.direction().is_some(),
            "always written"
        );
        assert_eq!(ans.streams[0].direction, want);
    }
}

#[test]
fn zero_address_offer_is_answered_recvonly() {
    let o = offer("m=audio 6000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n");
    assert!(o.is_hold());
    let ans = answer(&answerer(&["ulaw"]), &o);
    assert_eq!(ans.sdp.direction(0), Direction::RecvOnly);
    assert!(!ans.streams[0].sends());
    assert_eq!(ans.streams[0].remote_rtp, None);
}

#[test]
fn ptime_from_framing_or_offer() {
    let o = offer("m=audio 6000 RTP/AVP 0\r\na=ptime:40\r\n");
    let mut prefs = allowed_names(&["ulaw"]);
    prefs[0].framing = Some(30);
    let mut a = Answerer::new(prefs, local());
    let ans = answer(&a, &o);
    assert_eq!(ans.sdp.ptime(0), Some(30));
    assert_eq!(ans.streams[0].ptime, 30);
    a.use_ptime = true;
    let ans = answer(&a, &o);
    assert_eq!(ans.sdp.ptime(0), Some(40));
    assert_eq!(ans.streams[0].ptime, 40);
}

#[test]
fn answerer_from_endpoint_options() {
    let mut allow = crate::config::options::Codecs::default();
    allow.apply("alaw,testlaw,ulaw:10").expect("allow parses");
    let ep = Endpoint {
        allow,
        dtmf_mode: crate::config::types::DtmfMode::Info,
        ..Endpoint::default()
    };
    let a = Answerer::for_endpoint(&ep, local());
    let names: Vec<&str> = a.codecs.iter().map(|c| c.codec.name).collect();
    assert_eq!(names, vec!["alaw", "ulaw"], "testlaw has no RTP mapping");
    assert_eq!(a.codecs[1].ptime(), 10);
    assert!(!a.telephone_event);
    assert_eq!(a.pref, IncomingCallOfferPref::Local);
    let o = Offerer::for_endpoint(&ep, local());
    assert_eq!(o.telephone_event, None);
}

#[test]
fn offer_then_answer_then_negotiated() {
    let mut offerer = Offerer::new(allowed_names(&["opus", "ulaw", "alaw", "g729"]), local());
    let our_offer = offerer.offer().expect("offer");
    assert_eq!(formats(&our_offer, 0), vec!["107", "0", "8", "18", "101"]);
    assert_eq!(our_offer.media[0].fmtp(18), Some("annexb=no"));
    assert_eq!(our_offer.media[0].fmtp(101), Some("0-16"));
    assert_eq!(our_offer.direction(0), Direction::SendRecv);

    // The far end answers from the offer with its own preference.
    let far = SocketAddr::from(([203, 0, 113, 9], 20000));
    let their = answer(
        &Answerer::new(allowed_names(&["alaw", "ulaw"]), far),
        &our_offer,
    );
    let got = negotiate(&our_offer, &their.sdp, false).expect("negotiated");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].codec.codec.name, "alaw");
    assert_eq!(got[0].remote_rtp, Some(far));
    assert_eq!(got[0].telephone_event.as_ref().map(|t| t.pt), Some(101));
    assert_eq!(got[0].direction, Direction::SendRecv);

    offerer.direction = Direction::SendOnly;
    let hold = offerer.offer().expect("offer");
    assert!(hold.is_hold());
    let their = answer(&Answerer::new(allowed_names(&["ulaw"]), far), &hold);
    assert_eq!(their.sdp.direction(0), Direction::RecvOnly);
    let got = negotiate(&hold, &their.sdp, false).expect("negotiated");
    assert_eq!(got[0].direction, Direction::SendOnly);
}

#[test]
fn answer_checks() {
    let our_offer = Offerer::new(allowed_names(&["ulaw"]), local())
        .offer()
        .expect("offer");
    let body = |m: &str| offer(m);
    // A codec we did not offer.
    let bad = body("m=audio 7000 RTP/AVP 8\r\n");
    assert!(matches!(
        negotiate(&our_offer, &bad, false),
        Err(OfferAnswerError::NotOffered { index: 0, ref encoding, .. }) if encoding == "PCMA"
    ));
    // Dynamic number without rtpmap.
    let bad = body("m=audio 7000 RTP/AVP 99\r\n");
    assert!(matches!(
        negotiate(&our_offer, &bad, false),
        Err(OfferAnswerError::NotOffered { .. })
    ));
    // Other number of m= lines.
    let bad = body("m=audio 7000 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n");
    assert_eq!(
        negotiate(&our_offer, &bad, false),
        Err(OfferAnswerError::MediaCount {
            offered: 1,
            answered: 2
        })
    );
    // Other media type.
    let bad = body("m=video 7000 RTP/AVP 0\r\n");
    assert!(matches!(
        negotiate(&our_offer, &bad, false),
        Err(OfferAnswerError::MediaKind { .. })
    ));
    // Rejected: no stream.
    let rejected = body("m=audio 0 RTP/AVP 0\r\n");
    assert_eq!(negotiate(&our_offer, &rejected, false), Ok(vec![]));
    // Only telephone-event accepted.
    let te_only = body("m=audio 7000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n");
    assert_eq!(
        negotiate(&our_offer, &te_only, false),
        Err(OfferAnswerError::NoCommonCodec)
    );
}

#[test]
fn asymmetric_telephone_event_and_remote_ptime() {
    let our_offer = Offerer::new(allowed_names(&["ulaw"]), local())
        .offer()
        .expect("offer");
    let their = offer(
        "m=audio 7000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=ptime:30\r\n\
         a=sendonly\r\n",
    );
    let got = negotiate(&our_offer, &their, true).expect("ok");
    assert_eq!(got[0].telephone_event.as_ref().map(|t| t.pt), Some(96));
    assert_eq!(got[0].ptime, 30);
    assert_eq!(got[0].direction, Direction::RecvOnly);
    let got = negotiate(&our_offer, &their, false).expect("ok");
    assert_eq!(got[0].ptime, 20);
}

#[test]
fn payload_type_allocation_avoids_conflicts() {
    let mut codecs = allowed_names(&["ulaw", "opus", "ilbc", "speex"]);
    codecs[1].pt = Some(101); // caller's opus number, also our telephone-event default
    codecs[2].pt = Some(0); // a static number is never given to a dynamic codec
    let sdp = Offerer::new(codecs, local()).offer().expect("offer");
    assert_eq!(formats(&sdp, 0), vec!["0", "101", "96", "110", "97"]);
    let te = sdp.media[0].rtpmap(97).expect("te rtpmap");
    assert_eq!(te.encoding, "telephone-event");
    assert_eq!(
        Offerer::new(allowed_names(&["h264"]), local()).offer(),
        Err(OfferAnswerError::NoCommonCodec)
    );
}

#[test]
fn outgoing_leg_codecs_follow_outgoing_call_offer_pref() {
    // Caller offers alaw, gsm, ulaw (with dynamic opus at 96); callee allows ulaw, g722, alaw.
    let caller = offer(
        "m=audio 6000 RTP/AVP 8 3 0 96 101\r\na=rtpmap:96 opus/48000/2\r\n\
         a=rtpmap:101 telephone-event/8000\r\n",
    );
    let allow = allowed_names(&["ulaw", "g722", "alaw", "opus"]);
    let names = |pref| -> Vec<(&'static str, Option<u8>)> {
        outgoing_codecs(Some(&caller), &allow, pref)
            .expect("codecs")
            .iter()
            .map(|a| (a.codec.name, a.pt))
            .collect()
    };
    use OutgoingCallOfferPref as P;
    assert_eq!(
        names(P::RemoteMerge),
        vec![
            ("alaw", Some(8)),
            ("ulaw", Some(0)),
            ("opus", Some(96)),
            ("g722", None)
        ]
    );
    assert_eq!(
        names(P::Remote),
        vec![("alaw", Some(8)), ("ulaw", Some(0)), ("opus", Some(96))]
    );
    assert_eq!(names(P::RemoteFirst), vec![("alaw", Some(8))]);
    assert_eq!(
        names(P::Local),
        vec![("ulaw", Some(0)), ("alaw", Some(8)), ("opus", Some(96))]
    );
    assert_eq!(
        names(P::LocalMerge),
        vec![
            ("ulaw", Some(0)),
            ("g722", None),
            ("alaw", Some(8)),
            ("opus", Some(96))
        ]
    );
    assert_eq!(names(P::LocalFirst), vec![("ulaw", Some(0))]);
    assert_eq!(offered_telephone_event(&caller), Some(101));

    // Nothing in common: only the merge modes still have something to offer.
    let gsm_only = offer("m=audio 6000 RTP/AVP 3\r\n");
    let ulaw = allowed_names(&["ulaw"]);
    assert_eq!(
        outgoing_codecs(Some(&gsm_only), &ulaw, P::Remote),
        Err(OfferAnswerError::NoCommonCodec)
    );
    assert_eq!(
        outgoing_codecs(Some(&gsm_only), &ulaw, P::RemoteMerge).map(|v| v.len()),
        Ok(1)
    );
    // No offer (late offer INVITE): the callee's list.
    assert_eq!(
        outgoing_codecs(None, &ulaw, P::RemoteMerge).map(|v| v.len()),
        Ok(1)
    );
    // The outgoing offer keeps the caller's opus number.
    let codecs = outgoing_codecs(Some(&caller), &allow, P::RemoteMerge).expect("codecs");
    let sdp = Offerer::new(codecs, local()).offer().expect("offer");
    assert_eq!(formats(&sdp, 0), vec!["8", "0", "96", "9", "101"]);
}

#[test]
fn origin_version_increments_only_on_change() {
    let o = offer(PCMA_PCMU_GSM);
    let a = answerer(&["ulaw"]);
    let mut origin = Origin::new(u64::MAX, "", "");
    let mut first = answer(&a, &o).sdp;
    origin.stamp(&mut first);
    let id = u64::MAX >> 1;
    assert_eq!(origin.session_id(), id);
    assert_eq!(first.origin.username, "-");
    assert_eq!(first.session_name, "-");
    assert_eq!(first.origin.version, id.to_string());

    // Retransmission / refresh with the same content: same version, same bytes.
    let mut again = answer(&a, &o).sdp;
    let sent = origin.stamp(&mut again);
    assert_eq!(again.to_bytes(), first.to_bytes());
    assert_eq!(sent, again.to_bytes(), "stamp returns the body as sent");

    // Hold changes the body: version + 1.
    let mut held = a.clone();
    held.hold = true;
    let mut hold = answer(&held, &o).sdp;
    origin.stamp(&mut hold);
    assert_eq!(origin.version(), id.wrapping_add(1));
    assert_eq!(hold.origin.version, origin.version().to_string());
    assert_eq!(hold.origin.session_id, id.to_string());

    // And back: + 1 again; then unchanged.
    let mut back = answer(&a, &o).sdp;
    origin.stamp(&mut back);
    let mut back2 = answer(&a, &o).sdp;
    origin.stamp(&mut back2);
    assert_eq!(origin.version(), id.wrapping_add(2));
    assert_eq!(back2.origin.version, back.origin.version);

    // A NAT rewrite is a change too.
    back2.set_address("203.0.113.200".parse().expect("ip"));
    origin.stamp(&mut back2);
    assert_eq!(origin.version(), id.wrapping_add(3));
}

#[test]
fn origin_from_endpoint_options() {
    let ep = Endpoint {
        sdp_owner: "pbx one".into(),
        sdp_session: "My PBX".into(),
        ..Endpoint::default()
    };
    let mut origin = Origin::for_endpoint(7, &ep);
    let mut sdp = Sdp::local("192.0.2.1".parse().expect("ip"));
    origin.stamp(&mut sdp);
    assert!(
        sdp.to_string()
            .starts_with("v=0\r\no=pbx_one 7 7 IN IP4 192.0.2.1\r\ns=My PBX\r\n")
    );
    assert_eq!(
        Origin::for_endpoint(7, &Endpoint::default()),
        Origin::new(7, "-", "Asterisk")
    );
}

#[test]
fn extra_attributes_are_relayed_negotiated_ones_are_not() {
    let o = offer(
        "m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=X-nat:0\r\na=ptime:20\r\n\
         a=crypto:1 x\r\na=ice-ufrag:abc\r\na=label:1\r\na=sendonly\r\na=rtcp:6001\r\n",
    );
    let mut ans = answer(&answerer(&["ulaw"]), &o);
    let before = ans.sdp.media[0].fields.0.len();
    copy_extra_attributes(&o.media[0], &mut ans.sdp.media[0]);
    let added: Vec<String> = ans.sdp.media[0].fields.0[before..]
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    assert_eq!(added.len(), 2, "{added:?}");
    assert_eq!(ans.sdp.media[0].fields.attribute("X-nat"), Some("0"));
    assert_eq!(ans.sdp.media[0].fields.attribute("label"), Some("1"));
    assert_eq!(ans.sdp.media[0].fields.attribute("crypto"), None);
}
