use std::time::{Duration, Instant};

use super::*;

fn policy() -> TimerPolicy {
    TimerPolicy {
        enabled: true,
        always: false,
        min_se: 180,
        session_expires: 1800,
    }
}

#[test]
fn rfc4028_a_session_expires_below_min_se_is_refused_with_422() {
    assert_eq!(
        uas_timer(&policy(), Some((120, Some("uac"))), true),
        TimerDecision::TooSmall(180)
    );
}

#[test]
fn rfc4028_the_callers_interval_and_refresher_are_kept() {
    assert_eq!(
        uas_timer(&policy(), Some((600, Some("uas"))), true),
        TimerDecision::Use {
            interval: 600,
            uac_refreshes: false
        }
    );
    // No refresher named: the caller refreshes when it supports timers.
    assert_eq!(
        uas_timer(&policy(), Some((600, None)), true),
        TimerDecision::Use {
            interval: 600,
            uac_refreshes: true
        }
    );
    assert_eq!(
        uas_timer(&policy(), Some((600, None)), false),
        TimerDecision::Use {
            interval: 600,
            uac_refreshes: false
        }
    );
}

#[test]
fn timers_no_ignores_everything_and_always_imposes_a_timer() {
    let off = TimerPolicy {
        enabled: false,
        ..policy()
    };
    assert_eq!(uas_timer(&off, Some((10, None)), true), TimerDecision::None);
    assert_eq!(uas_timer(&policy(), None, false), TimerDecision::None);
    let always = TimerPolicy {
        always: true,
        ..policy()
    };
    assert_eq!(
        uas_timer(&always, None, false),
        TimerDecision::Use {
            interval: 1800,
            uac_refreshes: false
        }
    );
}

#[test]
fn rfc4028_10_refresh_at_half_and_expiry_before_the_end() {
    let t0 = Instant::now();
    let us = SessionTimer {
        interval: Duration::from_secs(600),
        refresher: Refresher::Us,
    };
    assert_eq!(us.due(t0), t0 + Duration::from_secs(300));
    let them = SessionTimer {
        interval: Duration::from_secs(90),
        refresher: Refresher::Them,
    };
    assert_eq!(them.due(t0), t0 + Duration::from_secs(60));
    let long = SessionTimer {
        interval: Duration::from_secs(1800),
        refresher: Refresher::Them,
    };
    assert_eq!(long.due(t0), t0 + Duration::from_secs(1768));
}

#[test]
fn headers_session_expires_and_reason_are_read() {
    assert_eq!(
        parse_session_expires("1800;refresher=uac"),
        Some((1800, Some("uac".to_string())))
    );
    assert_eq!(parse_session_expires("90"), Some((90, None)));
    assert_eq!(parse_session_expires("x"), None);
    assert_eq!(q850_cause("Q.850;cause=17;text=\"busy\""), Some(17));
    assert_eq!(q850_cause("SIP;cause=200"), None);
}
