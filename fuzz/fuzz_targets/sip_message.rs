//! Fuzzes the distributor (the daemon's entry point), the SIP parser, the stream framer and
//! the typed views: none may panic, a stateless answer must parse, and a message that parses
//! must parse again, equal, after printing.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pjsipd::distributor::{Distributor, Route};
use pjsipd::sip::{Frame, HeaderName, Message, frame, validate_request, validate_response};
use pjsipd::transport::{Flow, Received};

fuzz_target!(|data: &[u8]| {
    // The daemon's entry point: a datagram through the distributor; a stateless answer
    // (400/416/505/501/405/481 built from what parsed) must itself parse.
    let flow = Flow::udp("t", std::net::SocketAddr::from(([192, 0, 2, 1], 5060)));
    let bytes = Bytes::copy_from_slice(data);
    if let Route::Reply(t) = Distributor::new(4, 1).route(Received { flow, bytes }) {
        assert!(Message::parse(t.bytes).is_ok(), "a stateless answer parses");
    }
    if let Frame::Complete { len } = frame(data) {
        assert!(len <= data.len());
    }
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let h = msg.headers();
    let _ = (
        h.vias(),
        h.contacts(),
        h.routes(),
        h.cseq(),
        h.from(),
        h.to(),
        h.content_type(),
    );
    let _ = h.tokens(&HeaderName::Supported);
    match &msg {
        Message::Request(r) => drop(validate_request(r)),
        Message::Response(r) => drop(validate_response(r)),
    }
    let again = Message::parse(msg.to_bytes()).expect("printed message parses");
    assert_eq!(again, msg);
});
