use bytes::Bytes;

use super::*;
use crate::sip::{Message, Method, Request, Response};

fn request(text: &str) -> Request {
    match Message::parse(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn response(text: &str) -> Response {
    match Message::parse(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Response(r)) => r,
        other => panic!("not a response: {other:?}"),
    }
}

const INVITE: &str = "INVITE sip:bob@10.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1
Record-Route: <sip:p1.example.com;lr>
Record-Route: <sip:p2.example.com;lr>
From: \"Alice\" <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: c1@h
CSeq: 7 INVITE
Contact: <sip:alice@10.0.0.2:5062>
Max-Forwards: 70
Content-Length: 0

";

#[test]
fn rfc3261_12_1_1_uas_dialog_takes_record_route_in_order_and_the_contact_as_target() {
    let d = Dialog::uas(&request(INVITE), "b2", "<sip:10.0.0.1>", 100).unwrap();
    assert_eq!(d.call_id, "c1@h");
    assert_eq!(d.remote_tag, "a1");
    assert_eq!(d.local_tag, "b2");
    assert_eq!(d.remote_cseq, Some(7));
    assert_eq!(d.remote_target.to_string(), "sip:alice@10.0.0.2:5062");
    assert_eq!(
        d.route_set,
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(d.from_value(), "<sip:bob@example.com>;tag=b2");
    assert_eq!(d.to_value(), "\"Alice\" <sip:alice@example.com>;tag=a1");
}

#[test]
fn rfc3261_12_2_1_1_requests_go_to_the_target_through_the_route_set_with_the_next_cseq() {
    let mut d = Dialog::uas(&request(INVITE), "b2", "<sip:10.0.0.1>", 100).unwrap();
    let bye = d
        .request(
            Method::Bye,
            "SIP/2.0/UDP 10.0.0.1:5060;rport",
            &[],
            None,
            None,
        )
        .unwrap();
    assert_eq!(bye.uri.to_string(), "sip:alice@10.0.0.2:5062");
    assert_eq!(bye.headers.cseq().unwrap().seq, 101);
    let routes: Vec<String> = bye
        .headers
        .values(&crate::sip::HeaderName::Route)
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert_eq!(
        routes,
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(d.next_hop().to_string(), "sip:p1.example.com;lr");
    // ACK keeps the INVITE's number; other requests count on.
    let ack = d
        .request(
            Method::Ack,
            "SIP/2.0/UDP 10.0.0.1:5060",
            &[],
            None,
            Some(55),
        )
        .unwrap();
    assert_eq!(ack.headers.cseq().unwrap().seq, 55);
    let info = d
        .request(
            Method::Info,
            "SIP/2.0/UDP 10.0.0.1:5060",
            &[],
            Some((
                "application/dtmf-relay",
                &Bytes::from_static(b"Signal=5\r\n"),
            )),
            None,
        )
        .unwrap();
    assert_eq!(info.headers.cseq().unwrap().seq, 102);
    assert_eq!(&info.body[..], b"Signal=5\r\n");
}

#[test]
fn rfc3261_12_2_1_1_a_strict_first_route_takes_the_request_uri() {
    let text = INVITE.replace("<sip:p1.example.com;lr>", "<sip:p1.example.com>");
    let mut d = Dialog::uas(&request(&text), "b2", "<sip:10.0.0.1>", 1).unwrap();
    let bye = d
        .request(Method::Bye, "SIP/2.0/UDP h", &[], None, None)
        .unwrap();
    assert_eq!(bye.uri.to_string(), "sip:p1.example.com");
    let routes = bye.headers.values(&crate::sip::HeaderName::Route);
    assert_eq!(routes.len(), 2);
    assert_eq!(&routes[1][..], b"<sip:alice@10.0.0.2:5062>");
}

#[test]
fn rfc3261_12_1_2_uac_dialog_reverses_record_route_and_takes_the_to_tag() {
    let invite = request(&INVITE.replace(
        "Record-Route: <sip:p1.example.com;lr>\nRecord-Route: <sip:p2.example.com;lr>\n",
        "",
    ));
    let ok = response(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>
From: \"Alice\" <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=bb
Call-ID: c1@h
CSeq: 7 INVITE
Contact: <sip:bob@10.0.0.9>
Content-Length: 0

",
    );
    let d = Dialog::uac(&invite, &ok, "<sip:alice@10.0.0.2:5062>").unwrap();
    assert_eq!(d.remote_tag, "bb");
    assert_eq!(d.local_tag, "a1");
    assert_eq!(d.local_cseq, 7);
    assert_eq!(d.remote_target.to_string(), "sip:bob@10.0.0.9");
    assert_eq!(d.route_set.len(), 1);
}

#[test]
fn rfc3261_12_2_2_a_lower_cseq_is_refused_and_a_missing_contact_is_an_error() {
    let mut d = Dialog::uas(&request(INVITE), "b2", "<sip:h>", 1).unwrap();
    assert!(d.accept_remote_cseq(8));
    assert!(!d.accept_remote_cseq(7));
    let no_contact = INVITE.replace("Contact: <sip:alice@10.0.0.2:5062>\n", "");
    assert_eq!(
        Dialog::uas(&request(&no_contact), "b2", "<sip:h>", 1).err(),
        Some(DialogError::Contact)
    );
}

#[test]
fn requests_built_as_fields_read_back_the_same_and_refuse_line_breaks() {
    let mut d = Dialog::uas(&request(INVITE), "b2", "<sip:10.0.0.1>", 100).unwrap();
    let extra = [(crate::sip::HeaderName::new("X-A"), "1".to_string())];
    let body = Bytes::from_static(b"v=0\r\n");
    let built = d
        .request(
            Method::Invite,
            "SIP/2.0/UDP 10.0.0.1:5060",
            &extra,
            Some(("application/sdp", &body)),
            None,
        )
        .unwrap();
    let text = crate::sip::Message::Request(built.clone()).to_bytes();
    let Ok(crate::sip::Message::Request(back)) = crate::sip::Message::parse(text) else {
        panic!("the built request does not parse");
    };
    assert_eq!(back, built);
    let injected = [(
        crate::sip::HeaderName::new("X-A"),
        "1\r\nX-B: 2".to_string(),
    )];
    assert!(matches!(
        d.request(
            Method::Info,
            "SIP/2.0/UDP 10.0.0.1:5060",
            &injected,
            None,
            None
        ),
        Err(DialogError::Build(_))
    ));
}

#[test]
fn without_tag_writes_the_address_as_display_does_minus_the_tag() {
    for text in [
        "\"Alice \\\"A\\\"\" <sip:alice@10.0.0.2;transport=udp>;tag=x1;foo=bar",
        "sip:bob@example.com;TAG=y",
        "<sip:+15551234@gw;user=phone>;x;tag=t;y=1",
    ] {
        let addr = NameAddr::parse(text.as_bytes(), "From").unwrap();
        let mut old = addr.clone();
        old.params.remove("tag");
        assert_eq!(without_tag(&addr), old.to_string(), "{text}");
    }
}
