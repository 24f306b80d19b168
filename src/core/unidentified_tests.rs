//! The unidentified-request table on a virtual clock (one base instant, offsets).
use super::*;

const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
const PERIOD: Duration = Duration::from_secs(5);

#[test]
fn asterisk_4_5_reports_once_when_the_count_is_reached_within_the_period() {
    let t = Unidentified::default();
    let start = Instant::now();
    for i in 0..4 {
        let at = start + Duration::from_millis(100 * i);
        assert_eq!(t.record(IP, at, 5, PERIOD), Report::Counted);
    }
    let fifth = t.record(IP, start + Duration::from_millis(400), 5, PERIOD);
    assert_eq!(
        fifth,
        Report::Threshold {
            tries: 5,
            elapsed: Duration::from_millis(400)
        }
    );
    assert_eq!(
        t.record(IP, start + Duration::from_millis(500), 5, PERIOD),
        Report::Counted,
        "once"
    );
    assert_eq!(t.rows(start + Duration::from_secs(1))[0].count, 6);
}

#[test]
fn slow_requests_start_a_new_window_and_success_forgets() {
    let t = Unidentified::default();
    let start = Instant::now();
    for i in 0..4 {
        t.record(IP, start + Duration::from_secs(3 * i), 3, PERIOD);
    }
    assert_eq!(
        t.rows(start + Duration::from_secs(9))[0].count,
        2,
        "a window restarted"
    );
    t.forget(IP);
    assert!(t.rows(start).is_empty());
}

#[test]
fn prune_drops_entries_older_than_twice_the_period() {
    let t = Unidentified::default();
    let start = Instant::now();
    t.record(IP, start, 5, PERIOD);
    t.prune(start + Duration::from_secs(10), PERIOD);
    assert_eq!(t.rows(start).len(), 1);
    t.prune(start + Duration::from_secs(11), PERIOD);
    assert!(t.rows(start).is_empty());
}
