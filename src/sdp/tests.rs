//! Parser, serializer and accessor tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use proptest::prelude::*;

use super::*;

/// A typical SIP offer: FQDN in o=, PCMU, PCMA and telephone-event.
pub(super) const TYPICAL: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// RFC 4475 3.1.1.1: static payload types without rtpmap, rtpmap without clock rate, video.
const RFC4475: &str = "v=0\r\n\
o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n\
s=-\r\n\
c=IN IP4 192.0.2.3\r\n\
t=0 0\r\n\
m=audio 49217 RTP/AVP 0 12\r\n\
m=video 3227 RTP/AVP 31\r\n\
a=rtpmap:31 LPC\r\n";

/// Hold: media-level c=0.0.0.0, sendonly, SDES crypto, RTP/SAVP.
const HOLD: &str = "v=0\r\n\
o=bob 2808844564 2808844565 IN IP4 host.biloxi.example.com\r\n\
s=-\r\n\
t=0 0\r\n\
m=audio 49170 RTP/SAVP 0\r\n\
c=IN IP4 0.0.0.0\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=sendonly\r\n";

/// IPv6, b=AS, opus with fmtp, RFC 3605 rtcp, a rejected video stream.
const IPV6: &str = "v=0\r\n\
o=- 1234567890 1 IN IP6 2001:db8::1\r\n\
s=call\r\n\
c=IN IP6 2001:db8::1\r\n\
b=AS:84\r\n\
t=0 0\r\n\
m=audio 5004 RTP/AVP 111 0 101\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtcp:5005 IN IP6 2001:db8::2\r\n\
m=video 0 RTP/AVP 96\r\n\
a=rtpmap:96 VP8/90000\r\n";

/// Asterisk style: s=Asterisk, maxptime, X-nat.
const ASTERISK: &str = "v=0\r\n\
o=- 1846386813 1846386814 IN IP4 203.0.113.5\r\n\
s=Asterisk\r\n\
c=IN IP4 203.0.113.5\r\n\
t=0 0\r\n\
m=audio 17062 RTP/AVP 0 8 3 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n\
a=X-nat:0\r\n";

fn parse_ok(text: &str) -> Sdp {
    match Sdp::parse(text.as_bytes()) {
        Ok(sdp) => sdp,
        Err(e) => panic!("{e} in:\n{text}"),
    }
}

fn parse_err(text: &str) -> SdpError {
    match Sdp::parse(text.as_bytes()) {
        Ok(sdp) => panic!("parsed: {sdp:?}"),
        Err(e) => e,
    }
}

fn addr(s: &str) -> Option<SocketAddr> {
    s.parse().ok()
}

#[test]
fn the_five_kinds_round_trip_byte_identical() {
    for text in [TYPICAL, RFC4475, HOLD, IPV6, ASTERISK] {
        let sdp = parse_ok(text);
        assert_eq!(String::from_utf8_lossy(&sdp.to_bytes()), text);
    }
}

#[test]
fn lf_only_bodies_parse_and_serialize_with_crlf() {
    let lf = TYPICAL.replace("\r\n", "\n");
    let sdp = parse_ok(&lf);
    assert_eq!(sdp, parse_ok(TYPICAL));
    assert_eq!(sdp.to_string(), TYPICAL);
}

#[test]
fn typical_offer_accessors() {
    let sdp = parse_ok(TYPICAL);
    assert_eq!(sdp.origin.address, "pc33.atlanta.example.com");
    assert_eq!(sdp.origin.username, "alice");
    let m = &sdp.media[0];
    assert_eq!(m.payload_types().collect::<Vec<_>>(), vec![0, 8, 101]);
    let te = m.rtpmap(101).expect("rtpmap 101");
    assert_eq!(
        (te.encoding.as_str(), te.clock, te.channels),
        ("telephone-event", Some(8000), None)
    );
    assert_eq!(m.fmtp(101), Some("0-15"));
    assert_eq!(m.fmtp(0), None);
    assert_eq!(sdp.ptime(0), Some(20));
    assert_eq!(sdp.maxptime(0), None);
    assert_eq!(sdp.direction(0), Direction::SendRecv);
    assert_eq!(sdp.remote_rtp(0), addr("192.0.2.101:49172"));
    assert_eq!(sdp.remote_rtcp(0), addr("192.0.2.101:49173"));
    assert!(!sdp.is_hold());
}

#[test]
fn rfc4475_static_types_and_rtpmap_without_clock() {
    let sdp = parse_ok(RFC4475);
    assert_eq!(sdp.media.len(), 2);
    let audio = &sdp.media[0];
    // No rtpmap: RFC 3551 static assignment.
    let pcmu = audio.encoding(0).expect("static 0");
    assert_eq!((pcmu.name.as_str(), pcmu.clock), ("PCMU", 8000));
    assert_eq!(audio.encoding(12), None, "12 (QCELP) is not known");
    let video = &sdp.media[1];
    let map = video.rtpmap(31).expect("rtpmap 31");
    assert_eq!((map.encoding.as_str(), map.clock), ("LPC", None));
    let lpc = video.encoding(31).expect("LPC clock from the codec table");
    assert_eq!(lpc.clock, 8000);
}

#[test]
fn hold_body_with_zero_address_and_crypto() {
    let sdp = parse_ok(HOLD);
    assert!(sdp.session.connection().is_none());
    let c = sdp.connection(0).expect("media c=");
    assert!(c.is_hold());
    assert_eq!(sdp.direction(0), Direction::SendOnly);
    assert_eq!(sdp.effective_direction(0), Direction::SendOnly);
    assert!(sdp.is_hold());
    assert_eq!(sdp.remote_rtp(0), None, "never send to 0.0.0.0");
    assert!(
        sdp.media[0]
            .fields
            .attribute("crypto")
            .is_some_and(|v| v.starts_with("1 AES_CM_128_HMAC_SHA1_80"))
    );
}

#[test]
fn zero_address_alone_is_hold() {
    let text = TYPICAL.replace("c=IN IP4 192.0.2.101", "c=IN IP4 0.0.0.0");
    let sdp = parse_ok(&text);
    assert_eq!(sdp.direction(0), Direction::SendRecv);
    assert_eq!(sdp.effective_direction(0), Direction::SendOnly);
    assert!(sdp.is_hold());
    let recvonly = text.replace("a=sendrecv", "a=recvonly");
    assert_eq!(
        parse_ok(&recvonly).effective_direction(0),
        Direction::Inactive
    );
}

#[test]
fn direction_media_overrides_session() {
    let text = TYPICAL
        .replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n")
        .replace("a=sendrecv\r\n", "");
    let sdp = parse_ok(&text);
    assert_eq!(sdp.direction(0), Direction::Inactive);
    assert!(sdp.is_hold());
    let text = text.replace("a=ptime:20\r\n", "a=ptime:20\r\na=recvonly\r\n");
    let sdp = parse_ok(&text);
    assert_eq!(sdp.direction(0), Direction::RecvOnly);
    assert!(!sdp.is_hold());
}

#[test]
fn ipv6_opus_rtcp_and_rejected_video() {
    let sdp = parse_ok(IPV6);
    assert_eq!(sdp.remote_rtp(0), addr("[2001:db8::1]:5004"));
    assert_eq!(
        sdp.media[0].rtcp(),
        Some(Rtcp {
            port: 5005,
            address: "2001:db8::2".parse().ok()
        })
    );
    assert_eq!(sdp.remote_rtcp(0), addr("[2001:db8::2]:5005"));
    let opus = sdp.media[0].rtpmap(111).expect("opus");
    assert_eq!((opus.clock, opus.channels), (Some(48000), Some(2)));
    assert_eq!(sdp.media[0].fmtp(111), Some("minptime=10;useinbandfec=1"));
    assert!(sdp.media[1].is_rejected());
    assert_eq!(sdp.remote_rtp(1), None);
    assert!(
        sdp.session
            .0
            .iter()
            .any(|f| matches!(f, Field::Other { kind: 'b', value } if value == "AS:84"))
    );
}

#[test]
fn asterisk_style_maxptime_and_unknown_attribute() {
    let sdp = parse_ok(ASTERISK);
    assert_eq!(sdp.session_name, "Asterisk");
    assert_eq!(sdp.maxptime(0), Some(150));
    assert_eq!(sdp.media[0].fields.attribute("x-nat"), Some("0"));
    let names: Vec<&str> = sdp.media[0]
        .fields
        .attributes()
        .map(|a| a.name.as_ref())
        .collect();
    assert_eq!(names.last(), Some(&"X-nat"), "order kept");
}

#[test]
fn rtcp_port_only_uses_rtp_address() {
    let text = TYPICAL.replace("a=sendrecv", "a=sendrecv\r\na=rtcp:60000");
    let sdp = parse_ok(&text);
    assert_eq!(sdp.remote_rtcp(0), addr("192.0.2.101:60000"));
}

#[test]
fn rewriting_address_and_port() {
    let mut sdp = parse_ok(HOLD);
    let ip: IpAddr = "2001:db8::9".parse().expect("ip");
    sdp.set_address(ip);
    assert!(sdp.set_port(0, 4000));
    assert!(!sdp.set_port(3, 4000));
    let text = sdp.to_string();
    assert!(text.contains("o=bob 2808844564 2808844565 IN IP6 2001:db8::9\r\n"));
    assert!(text.contains("m=audio 4000 RTP/SAVP 0\r\nc=IN IP6 2001:db8::9\r\n"));
    assert_eq!(sdp.remote_rtp(0), addr("[2001:db8::9]:4000"));
}

#[test]
fn blank_lines_and_trailing_newlines_are_tolerated() {
    let text = format!("\r\n{TYPICAL}\r\n\r\n");
    assert_eq!(parse_ok(&text), parse_ok(TYPICAL));
}

#[test]
fn port_count_is_kept() {
    let text = TYPICAL.replace("m=audio 49172 ", "m=audio 49172/2 ");
    let sdp = parse_ok(&text);
    assert_eq!(sdp.media[0].port_count, Some(2));
    assert_eq!(sdp.to_string(), text);
}

#[test]
fn malformed_bodies_are_typed_errors() {
    assert_eq!(parse_err(""), SdpError::Empty);
    assert_eq!(parse_err("\r\n\r\n"), SdpError::Empty);
    let no_v = TYPICAL.replacen("v=0\r\n", "", 1);
    assert!(matches!(parse_err(&no_v), SdpError::Line { line: 1, .. }));
    let v1 = TYPICAL.replacen("v=0", "v=1", 1);
    assert!(matches!(parse_err(&v1), SdpError::Line { line: 1, .. }));
    let no_o = TYPICAL.replacen(
        "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n",
        "",
        1,
    );
    assert_eq!(parse_err(&no_o), SdpError::Missing('o'));
    let short_o = TYPICAL.replacen(" pc33.atlanta.example.com", "", 1);
    assert!(matches!(
        parse_err(&short_o),
        SdpError::Line { line: 2, .. }
    ));
    let no_s = TYPICAL.replacen("s=-\r\n", "", 1);
    assert_eq!(parse_err(&no_s), SdpError::Missing('s'));
    let big_port = TYPICAL.replace("49172", "65536");
    let e = parse_err(&big_port);
    assert!(matches!(e, SdpError::Line { line: 6, .. }), "{e}");
    assert!(e.to_string().contains("line 6"), "{e}");
    let neg_port = TYPICAL.replace("49172", "-1");
    assert!(matches!(
        parse_err(&neg_port),
        SdpError::Line { line: 6, .. }
    ));
    let no_fmt = TYPICAL.replace("RTP/AVP 0 8 101", "RTP/AVP");
    assert!(matches!(parse_err(&no_fmt), SdpError::Line { line: 6, .. }));
    let no_c = TYPICAL.replace("c=IN IP4 192.0.2.101\r\n", "");
    assert_eq!(
        parse_err(&no_c),
        SdpError::NoConnection { index: 0, line: 5 }
    );
    let bad_c = TYPICAL.replace("c=IN IP4 192.0.2.101", "c=IN IP4");
    assert!(matches!(parse_err(&bad_c), SdpError::Line { line: 4, .. }));
    let garbage = TYPICAL.replace("t=0 0", "this is not sdp");
    assert!(matches!(
        parse_err(&garbage),
        SdpError::Line { line: 5, .. }
    ));
    let empty_attr = TYPICAL.replace("a=sendrecv", "a=");
    assert!(matches!(parse_err(&empty_attr), SdpError::Line { .. }));
    let o_in_media = format!("{TYPICAL}o=x 1 1 IN IP4 192.0.2.1\r\n");
    assert!(matches!(
        parse_err(&o_in_media),
        SdpError::Line { line: 13, .. }
    ));
    assert_eq!(parse_err("v=0\r\n").sip_status(), 400);
}

#[test]
fn rejected_stream_needs_no_connection() {
    let text = RFC4475
        .replace("c=IN IP4 192.0.2.3\r\n", "")
        .replace("m=video 3227", "m=video 0")
        .replace(
            "m=audio 49217 RTP/AVP 0 12\r\n",
            "m=audio 49217 RTP/AVP 0 12\r\nc=IN IP4 192.0.2.3\r\n",
        );
    let sdp = parse_ok(&text);
    assert_eq!(sdp.remote_rtp(0), addr("192.0.2.3:49217"));
}

#[test]
fn limits_are_enforced() {
    let huge = vec![b'a'; MAX_SDP_LEN + 1];
    assert!(matches!(
        Sdp::parse(&huge),
        Err(SdpError::TooLarge { len, .. }) if len == MAX_SDP_LEN + 1
    ));
    let mut many = TYPICAL.to_string();
    for _ in 0..MAX_MEDIA {
        many.push_str("m=audio 0 RTP/AVP 0\r\n");
    }
    assert!(matches!(parse_err(&many), SdpError::Line { .. }));
    let fmts: Vec<String> = (0..=MAX_FORMATS).map(|i| (i % 128).to_string()).collect();
    let wide = TYPICAL.replace("RTP/AVP 0 8 101", &format!("RTP/AVP {}", fmts.join(" ")));
    assert!(parse_err(&wide).to_string().contains("formats"));
}

#[test]
fn non_utf8_is_read_lossily() {
    let mut body = TYPICAL.replace("s=-", "s=Caf\u{e9}").into_bytes();
    // Latin-1 é instead of UTF-8.
    if let Some(pos) = body.windows(2).position(|w| w == [0xc3, 0xa9]) {
        body.splice(pos..pos + 2, [0xe9]);
    }
    let sdp = Sdp::parse(&body).expect("lossy");
    assert!(sdp.session_name.starts_with("Caf"));
}

#[test]
fn local_session_shape() {
    let sdp = Sdp::local(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
    assert_eq!(
        sdp.to_string(),
        "v=0\r\no=- 0 0 IN IP4 192.0.2.7\r\ns=Asterisk\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n"
    );
}

// ---- property tests ----

fn token(re: &'static str) -> impl Strategy<Value = String> {
    proptest::string::string_regex(re).expect("regex")
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (
        token("[A-Za-z][A-Za-z0-9-]{0,10}"),
        proptest::option::of(token("[ -~]{0,20}")),
    )
        .prop_map(|(name, value)| Attribute {
            name: name.into(),
            value,
        })
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        attribute().prop_map(Field::Attribute),
        (any::<[u8; 4]>()).prop_map(|b| Field::Connection(Connection::new(IpAddr::from(b)))),
        (
            proptest::sample::select(vec!['b', 't', 'i', 'k', 'u', 'e', 'r', 'z', 'y']),
            token("[ -~]{0,20}"),
        )
            .prop_map(|(kind, value)| Field::Other { kind, value }),
    ]
}

fn media() -> impl Strategy<Value = Media> {
    (
        token("[a-z]{1,8}"),
        any::<u16>(),
        proptest::option::of(any::<u32>()),
        token("[A-Za-z/]{1,10}"),
        proptest::collection::vec(token("[0-9a-z*]{1,4}"), 1..6),
        proptest::collection::vec(field(), 0..6),
    )
        .prop_map(|(kind, port, count, proto, formats, fields)| {
            let mut m = Media::new(&kind, port, &proto, formats);
            m.port_count = count;
            m.fields = Fields(fields);
            m
        })
}

fn sdp() -> impl Strategy<Value = Sdp> {
    (
        token("[a-z-]{1,8}"),
        token("[0-9]{1,12}"),
        any::<[u8; 4]>(),
        token("[ -~]{0,12}"),
        proptest::collection::vec(field(), 0..5),
        proptest::collection::vec(media(), 0..4),
    )
        .prop_map(|(user, id, ip, name, fields, media)| {
            let ip = IpAddr::from(ip);
            let mut sdp = Sdp::local(ip);
            sdp.origin.username = user;
            sdp.origin.session_id = id;
            sdp.session_name = name;
            sdp.session.0.extend(fields);
            sdp.media = media;
            sdp
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Sdp::parse(&body);
    }

    #[test]
    fn arbitrary_lines_never_panic(
        lines in proptest::collection::vec(token("[a-z]=[ -~]{0,30}"), 0..20)
    ) {
        let body = format!("v=0\r\n{}", lines.join("\r\n"));
        if let Ok(sdp) = Sdp::parse(body.as_bytes()) {
            for i in 0..sdp.media.len() {
                let _ = (sdp.remote_rtp(i), sdp.remote_rtcp(i), sdp.effective_direction(i));
            }
        }
    }

    #[test]
    fn parse_after_serialize_is_identity(sdp in sdp()) {
        let bytes = sdp.to_bytes();
        let parsed = Sdp::parse(&bytes);
        prop_assert_eq!(parsed.as_ref(), Ok(&sdp));
        prop_assert_eq!(parsed.map(|p| p.to_bytes()).ok(), Some(bytes));
    }
}
