//! The distributor's decisions, one rule per test, on real message text.

use super::*;
use crate::config::types::TransportProtocol;

fn udp() -> Flow {
    Flow::udp("t", "192.0.2.9:5062".parse().expect("addr"))
}

fn tcp() -> Flow {
    Flow {
        protocol: TransportProtocol::Tcp,
        connection: Some(crate::transport::ConnectionId(1)),
        ..udp()
    }
}

fn request(method: &str, uri: &str, to_tag: &str, call_id: &str) -> Bytes {
    let cseq_method = method.split(' ').next().unwrap_or(method);
    Bytes::from(format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.9:5062;rport;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:a@example.com>;tag=ft\r\n\
         To: <sip:pbx@example.com>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {cseq_method}\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

fn route(d: &Distributor, flow: Flow, bytes: Bytes) -> Route {
    d.route(Received { flow, bytes })
}

fn queue_of(r: &Route) -> Option<usize> {
    match r {
        Route::Queue { queue, .. } => Some(*queue),
        _ => None,
    }
}

fn reply(r: Route) -> crate::sip::Response {
    match r {
        Route::Reply(t) => match Message::parse(t.bytes) {
            Ok(Message::Response(resp)) => resp,
            other => panic!("reply does not parse: {other:?}"),
        },
        other => panic!("expected a stateless reply, got {other:?}"),
    }
}

#[test]
fn a_request_its_retransmission_its_cancel_and_its_ack_share_one_queue() {
    let d = Distributor::new(31, 1);
    let invite = route(&d, udp(), request("INVITE", "sip:100@pbx", "", "c1"));
    let again = route(&d, udp(), request("INVITE", "sip:100@pbx", "", "c1"));
    let cancel = route(&d, udp(), request("CANCEL", "sip:100@pbx", "", "c1"));
    let ack = route(&d, udp(), request("ACK", "sip:100@pbx", ";tag=ours", "c1"));
    let q = queue_of(&invite).expect("queued");
    assert_eq!(queue_of(&again), Some(q));
    assert_eq!(queue_of(&cancel), Some(q));
    assert_eq!(
        queue_of(&ack),
        Some(q),
        "the ACK of a non-2xx belongs to its INVITE"
    );
    assert_eq!(q, queue_for("c1", "ft", 31));
}

#[test]
fn new_requests_spread_over_the_queues() {
    let d = Distributor::new(31, 1);
    let used: std::collections::HashSet<usize> = (0..200)
        .filter_map(|i| {
            queue_of(&route(
                &d,
                udp(),
                request("OPTIONS", "sip:pbx", "", &format!("call-{i}")),
            ))
        })
        .collect();
    assert!(used.len() > 20, "only {} queues used", used.len());
}

#[test]
fn rfc3581_the_top_via_is_stamped_with_received_and_rport() {
    let d = Distributor::new(4, 1);
    let Route::Queue { message, .. } = route(&d, udp(), request("OPTIONS", "sip:pbx", "", "c2"))
    else {
        panic!("not queued")
    };
    let via = message.headers().top_via().expect("via");
    assert_eq!(via.rport(), Some(Some(5062)));
    assert_eq!(via.received(), Some("192.0.2.9".parse().expect("ip")));
}

#[test]
fn rfc3261_12_2_2_in_dialog_request_of_an_unknown_dialog_gets_481() {
    let d = Distributor::new(4, 1);
    let r = reply(route(
        &d,
        udp(),
        request("BYE", "sip:pbx", ";tag=gone", "c3"),
    ));
    assert_eq!(r.status.code(), 481);
    assert_eq!(
        r.headers.to().expect("to").tag(),
        Some("gone"),
        "the To-tag is kept"
    );
}

#[test]
fn in_dialog_requests_go_to_their_dialog_queue() {
    let d = Distributor::new(31, 1);
    d.dialogs().insert(DialogKey::new("c4", "ours"), 17);
    let r = route(&d, udp(), request("BYE", "sip:pbx", ";tag=ours", "c4"));
    assert_eq!(queue_of(&r), Some(17));
    d.dialogs().remove(&DialogKey::new("c4", "ours"));
    assert_eq!(
        reply(route(
            &d,
            udp(),
            request("BYE", "sip:pbx", ";tag=ours", "c4")
        ))
        .status
        .code(),
        481
    );
}

#[test]
fn rfc3261_8_2_1_unknown_method_gets_501_with_allow() {
    let d = Distributor::new(4, 1);
    let r = reply(route(&d, udp(), request("FROBNICATE", "sip:pbx", "", "c5")));
    assert_eq!(r.status.code(), 501);
    assert_eq!(
        r.headers.get(&HeaderName::Allow).map(|v| v.as_ref()),
        Some(ALLOW.as_bytes())
    );
}

#[test]
fn rfc3261_8_2_1_known_method_nothing_serves_gets_405_with_allow() {
    let d = Distributor::new(4, 1);
    let r = reply(route(&d, udp(), request("PUBLISH", "sip:pbx", "", "c6")));
    assert_eq!(r.status.code(), 405);
    assert!(r.headers.get(&HeaderName::Allow).is_some());
}

#[test]
fn stateless_answers_to_a_retransmission_are_identical() {
    let d = Distributor::new(4, 1);
    let a = route(&d, udp(), request("PUBLISH", "sip:pbx", "", "c7"));
    let b = route(&d, udp(), request("PUBLISH", "sip:pbx", "", "c7"));
    match (a, b) {
        (Route::Reply(a), Route::Reply(b)) => assert_eq!(a.bytes, b.bytes),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc3261_8_2_2_1_unsupported_uri_scheme_gets_416() {
    let d = Distributor::new(4, 1);
    assert_eq!(
        reply(route(&d, udp(), request("OPTIONS", "foo:bar", "", "c8")))
            .status
            .code(),
        416
    );
}

#[test]
fn rfc3261_21_5_6_other_sip_version_gets_505() {
    let d = Distributor::new(4, 1);
    let text = String::from_utf8(request("OPTIONS", "sip:pbx", "", "c9").to_vec())
        .expect("utf8")
        .replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1);
    assert_eq!(
        reply(route(&d, udp(), Bytes::from(text))).status.code(),
        505
    );
}

#[test]
fn garbage_and_invalid_acks_are_dropped_and_counted() {
    let d = Distributor::new(4, 1);
    assert!(matches!(
        route(&d, udp(), Bytes::from_static(b"\x16\x03\x01garbage")),
        Route::Dropped(Dropped::Malformed)
    ));
    let ack = Bytes::from_static(
        b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(matches!(
        route(&d, udp(), ack),
        Route::Dropped(Dropped::BadAck)
    ));
    let s = d.stats();
    assert_eq!((s.received, s.dropped, s.malformed), (2, 2, 1));
}

#[test]
fn responses_find_the_queue_named_in_their_branch() {
    let d = Distributor::new(31, 1);
    let branch = Distributor::branch(23, "abc");
    let text = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch={branch}\r\nFrom: <sip:a@b>;tag=1\r\n\
         To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(queue_of(&route(&d, udp(), Bytes::from(text))), Some(23));
}

#[test]
fn overload_answers_503_with_retry_after_on_streams_and_drops_on_udp() {
    let d = Distributor::new(4, 1);
    let Route::Queue { message, .. } = route(&d, tcp(), request("OPTIONS", "sip:pbx", "", "c10"))
    else {
        panic!("not queued")
    };
    assert!(d.overloaded(&udp(), &message).is_none());
    let t = d.overloaded(&tcp(), &message).expect("503 over TCP");
    let Ok(Message::Response(r)) = Message::parse(t.bytes) else {
        panic!("503 parses")
    };
    assert_eq!(r.status.code(), 503);
    assert!(r.headers.get(&HeaderName::RetryAfter).is_some());
    assert_eq!(d.stats().overloaded, 2);
}

#[test]
fn a_dialog_is_found_by_its_call_id_and_tag_whatever_their_length() {
    let table = DialogTable::default();
    let long_id = "x".repeat(300);
    table.insert(DialogKey::new("c5", "t5"), 3);
    table.insert(DialogKey::new(&long_id, "t6"), 4);
    assert_eq!(table.queue_of("c5", "t5"), Some(3));
    assert_eq!(table.queue_of(&long_id, "t6"), Some(4));
    assert_eq!(table.queue_of("c5", "t6"), None);
    assert_eq!(
        table.queue_of("c5\nt", "5"),
        None,
        "the separator is part of the key"
    );
    table.remove(&DialogKey::new("c5", "t5"));
    assert_eq!(table.queue_of("c5", "t5"), None);
}
