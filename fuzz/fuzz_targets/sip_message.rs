//! Fuzzes the SIP parser, the stream framer and the typed views: none may panic, and a
//! message that parses must parse again, equal, after printing.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pjsipd::sip::{Frame, HeaderName, Message, frame, validate_request, validate_response};

fuzz_target!(|data: &[u8]| {
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
