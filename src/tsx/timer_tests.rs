use std::time::{Duration, Instant};

use super::{TimerId, TimerTable};

#[test]
fn deadlines_are_exact_and_survive_a_timer_set_before_the_base() {
    let now = Instant::now();
    let mut t = TimerTable::default();
    assert_eq!(t.next(), None);
    let a = TimerId::ALL[0];
    let b = TimerId::ALL[1];
    t.set(a, now + Duration::from_millis(500));
    t.set(b, now + Duration::from_nanos(123_456_789));
    assert_eq!(t.get(a), Some(now + Duration::from_millis(500)));
    assert_eq!(t.next(), Some(now + Duration::from_nanos(123_456_789)));
    // Earlier than the first deadline: the table rebases and keeps the others exact.
    t.set(b, now + Duration::from_nanos(7));
    assert_eq!(t.get(a), Some(now + Duration::from_millis(500)));
    assert_eq!(t.get(b), Some(now + Duration::from_nanos(7)));
    assert_eq!(t.pop_expired(now + Duration::from_millis(1)), Some(b));
    assert_eq!(t.pop_expired(now + Duration::from_millis(1)), None);
    assert_eq!(t.pop_expired(now + Duration::from_secs(1)), Some(a));
    assert_eq!(t.next(), None);
    t.set(a, now);
    t.stop_all();
    assert_eq!(t.next(), None);
}
