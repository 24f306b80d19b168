use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::Deadlines;

fn drain(d: &mut Deadlines<u32>, now: Instant) -> Vec<u32> {
    std::iter::from_fn(|| d.pop_due(now).map(|(_, item)| item)).collect()
}

#[test]
fn deadlines_of_several_delays_come_out_earliest_first_and_ties_in_arming_order() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut d = Deadlines::default();
    // As a layer arms them: 32 s and 500 ms timers interleaved, time moving on.
    d.push(ms(32_000), 1);
    d.push(ms(500), 2);
    d.push(ms(32_010), 3);
    d.push(ms(510), 4);
    d.push(ms(510), 5);
    d.push(ms(5_020), 6);
    assert_eq!(d.next(), Some(ms(500)));
    assert_eq!(d.pop_due(ms(499)), None, "nothing is due before its time");
    assert_eq!(drain(&mut d, ms(510)), [2, 4, 5]);
    assert_eq!(drain(&mut d, ms(40_000)), [6, 1, 3]);
    assert_eq!(d.next(), None);
}

#[test]
fn deadlines_armed_against_the_clock_still_come_out_in_order() {
    // Each earlier than all before it: no FIFO fits, so past MAX_FIFOS they go to the heap.
    let t0 = Instant::now();
    let mut d = Deadlines::default();
    for i in 0..100u32 {
        d.push(t0 + Duration::from_secs(u64::from(1000 - i)), i);
    }
    let out = drain(&mut d, t0 + Duration::from_secs(2000));
    assert_eq!(out, (0..100u32).rev().collect::<Vec<_>>());
}

proptest! {
    /// Whatever the order of arming, the deadlines come out as a stable sort of them.
    #[test]
    fn deadlines_come_out_as_a_stable_sort(
        delays in proptest::collection::vec((0u64..40, 0u64..5), 1..300),
    ) {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let mut reference = Vec::new();
        let mut now = 0;
        for (i, (delay, step)) in delays.into_iter().enumerate() {
            now += step;
            let at = t0 + Duration::from_millis(now + delay * 100);
            d.push(at, i as u32);
            reference.push((at, i as u32));
        }
        reference.sort_by_key(|(at, _)| *at);
        let mut out = Vec::new();
        while let Some(item) = d.pop_due(t0 + Duration::from_secs(3600)) {
            out.push(item);
        }
        prop_assert_eq!(out, reference);
    }
}
