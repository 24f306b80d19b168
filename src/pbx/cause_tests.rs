//! Cause tables: SIP to cause, cause to SIP, names, DIALSTATUS.

use super::*;

#[test]
fn sip_responses_map_to_chan_pjsip_causes() {
    let cases = [
        (401, 21),
        (402, 127),
        (403, 21),
        (404, 1),
        (405, 127),
        (407, 21),
        (408, 18),
        (409, 41),
        (410, 22),
        (415, 127),
        (420, 3),
        (480, 19),
        (481, 127),
        (483, 19),
        (484, 28),
        (485, 1),
        (486, 17),
        (487, 127),
        (488, 58),
        (499, 127),
        (500, 38),
        (501, 29),
        (502, 27),
        (503, 34),
        (504, 102),
        (505, 127),
        (599, 34),
        (600, 17),
        (603, 21),
        (604, 1),
        (606, 58),
        (699, 127),
        (200, 16),
    ];
    for (status, cause) in cases {
        assert_eq!(Cause::from_sip(status), Cause(cause), "SIP {status}");
    }
}

#[test]
fn causes_map_to_chan_pjsip_responses() {
    let cases = [
        (1, Some(404)),
        (2, Some(404)),
        (3, Some(404)),
        (17, Some(486)),
        (18, Some(408)),
        (19, Some(480)),
        (20, Some(480)),
        (21, Some(403)),
        (22, Some(410)),
        (27, Some(502)),
        (28, Some(484)),
        (29, Some(501)),
        (31, Some(480)),
        (34, Some(503)),
        (38, Some(500)),
        (42, Some(503)),
        (58, Some(488)),
        (66, Some(503)),
        (127, Some(500)),
        (16, None),
        (0, None),
        (88, None),
    ];
    for (cause, status) in cases {
        assert_eq!(Cause(cause).to_sip(), status, "cause {cause}");
    }
}

#[test]
fn names_and_symbols() {
    assert_eq!(Cause::NORMAL_CLEARING.name(), "Normal Clearing");
    assert_eq!(Cause::USER_BUSY.name(), "User busy");
    assert_eq!(Cause::NO_ANSWER.name(), "User alerting, no answer");
    assert_eq!(Cause(4).name(), "Unknown");
    assert_eq!(
        Cause::CONGESTION.symbol(),
        Some("NORMAL_CIRCUIT_CONGESTION")
    );
    assert_eq!(Cause::from_symbol("user_busy"), Some(Cause::USER_BUSY));
    assert_eq!(Cause::from_symbol("NOPE"), None);
    assert_eq!(Cause::INTERWORKING.to_string(), "127");
}

#[test]
fn dial_status_follows_app_dial_counting() {
    use DialStatus::*;
    let busy = Cause::from_sip(486);
    let gone = Cause::from_sip(404);
    let congested = Cause::from_sip(503);
    let unanswered = Cause::from_sip(480);
    assert_eq!(DialStatus::after_failures(&[busy], 1), Busy);
    assert_eq!(DialStatus::after_failures(&[gone], 1), ChanUnavail);
    assert_eq!(DialStatus::after_failures(&[congested], 1), Congestion);
    assert_eq!(DialStatus::after_failures(&[gone, busy], 2), Busy);
    assert_eq!(
        DialStatus::after_failures(&[gone, congested], 2),
        Congestion
    );
    // 480 is not counted, so not every callee "failed": NOANSWER.
    assert_eq!(DialStatus::after_failures(&[unanswered], 1), NoAnswer);
    assert_eq!(DialStatus::after_failures(&[busy], 2), NoAnswer);
    assert_eq!(DialStatus::after_failures(&[], 0), ChanUnavail);
    assert_eq!(ChanUnavail.as_str(), "CHANUNAVAIL");
    assert_eq!(InvalidArgs.to_string(), "INVALIDARGS");
}
