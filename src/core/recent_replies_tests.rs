//! The kept stateless answers: lifetime and the flood bound.

use super::*;

const LIFE: Duration = Duration::from_secs(32);

#[test]
fn an_answer_is_given_again_until_its_lifetime_ends() {
    let t0 = Instant::now();
    let mut r = RecentReplies::default();
    r.insert(t0, LIFE, 7, Bytes::from_static(b"SIP/2.0 401"));
    assert_eq!(
        r.get(t0 + Duration::from_millis(500), LIFE, 7).as_deref(),
        Some(&b"SIP/2.0 401"[..])
    );
    assert!(r.get(t0, LIFE, 8).is_none());
    assert!(r.get(t0 + LIFE, LIFE, 7).is_none());
    assert_eq!(r.len(), 0);
}

#[test]
fn a_flood_keeps_only_the_newest_answers() {
    let t0 = Instant::now();
    let mut r = RecentReplies::default();
    for i in 0..(CAPACITY as u64 + 10) {
        r.insert(t0, LIFE, i, Bytes::from_static(b"x"));
    }
    assert_eq!(r.len(), CAPACITY);
    assert!(r.get(t0, LIFE, 0).is_none());
    assert!(r.get(t0, LIFE, CAPACITY as u64 + 9).is_some());
    assert_eq!(r.order.len(), CAPACITY);
}
