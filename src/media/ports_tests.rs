use super::*;

#[test]
fn range_rounds_to_even_pairs() {
    let p = PortAllocator::new(10001, 10010).expect("range");
    assert_eq!(p.capacity(), 4); // 10002, 10004, 10006, 10008 (10010 has no 10011)
    assert!(PortAllocator::new(10000, 10000).is_err());
    assert!(PortAllocator::new(10001, 10002).is_err());
    assert_eq!(
        PortAllocator::new(10000, 10001)
            .expect("one pair")
            .capacity(),
        1
    );
    assert_eq!(
        PortAllocator::new(65534, 65535)
            .expect("top pair")
            .capacity(),
        1
    );
    assert!(PortAllocator::new(65535, 65535).is_err());
}

#[test]
fn round_robin_skips_used_and_unbindable_and_reuses_released() {
    let mut p = PortAllocator::new(20000, 20007).expect("range");
    let a = p.allocate(Attempt::Bound).map(|x| x.0);
    assert_eq!(a, Some(20000));
    // 20002 fails to bind (someone else holds it).
    let b = p
        .allocate(|port| {
            if port == 20002 {
                Attempt::Busy
            } else {
                Attempt::Bound(())
            }
        })
        .map(|x| x.0);
    assert_eq!(b, Some(20004));
    p.release(20000);
    assert_eq!(p.in_use(), 1);
    // Round-robin goes on from 20006, then wraps to 20000 (20002 is retried too).
    assert_eq!(p.allocate(Attempt::Bound).map(|x| x.0), Some(20006));
    assert_eq!(p.allocate(Attempt::Bound).map(|x| x.0), Some(20000));
    assert_eq!(p.allocate(Attempt::Bound).map(|x| x.0), Some(20002));
    assert_eq!(p.in_use(), 4);
    let mut tried = 0;
    assert_eq!(
        p.allocate(|_| {
            tried += 1;
            Attempt::Bound(())
        }),
        None
    );
    assert_eq!(tried, 0, "full: nothing is tried");
    // Releasing unknown or odd ports changes nothing; double release counts once.
    p.release(20001);
    p.release(30000);
    p.release(100);
    assert_eq!(p.in_use(), 4);
    p.release(20004);
    p.release(20004);
    assert_eq!(p.in_use(), 3);
}

#[test]
fn all_unbindable_gives_none_after_one_pass() {
    let mut p = PortAllocator::new(20000, 20099).expect("range");
    let mut tried = Vec::new();
    assert!(
        p.allocate(|port| {
            tried.push(port);
            Attempt::<()>::Busy
        })
        .is_none()
    );
    assert_eq!(tried.len(), 50);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn stop_ends_the_search_at_once() {
    // Out of file descriptors: every other pair would fail the same way.
    let mut p = PortAllocator::new(20000, 20099).expect("range");
    let mut tried = 0;
    assert!(
        p.allocate(|_| {
            tried += 1;
            Attempt::<()>::Stop
        })
        .is_none()
    );
    assert_eq!((tried, p.in_use()), (1, 0));
}
