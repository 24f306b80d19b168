use super::*;

#[test]
fn events_and_digits() {
    let digits: String = (0..16).filter_map(event_to_digit).collect();
    assert_eq!(digits, "0123456789*#ABCD");
    assert_eq!(event_to_digit(16), None);
    assert_eq!(digit_to_event('#'), Some(11));
    assert_eq!(digit_to_event('d'), Some(15));
    assert_eq!(digit_to_event('x'), None);
}

#[test]
fn payload_parse_and_build() {
    let ev = TelephoneEvent::parse(&[5, 0x8a, 0x03, 0x20]).expect("valid");
    assert_eq!(
        ev,
        TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 800
        }
    );
    assert_eq!(ev.build(), [5, 0x8a, 0x03, 0x20]);
    assert_eq!(ev.digit(), Some('5'));
    assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), Err(DtmfError::Short(3)));
}

fn ev(event: u8, end: bool, duration: u16) -> TelephoneEvent {
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
}

#[test]
fn detector_reports_each_event_once_despite_end_repeats() {
    let mut d = DtmfDetector::new();
    let mut got = Vec::new();
    for (ts, e) in [
        (1000, ev(1, false, 160)),
        (1000, ev(1, false, 320)),
        (1000, ev(1, true, 800)),
        (1000, ev(1, true, 800)),
        (1000, ev(1, true, 800)),
        // The same digit again is a new event (new timestamp).
        (5000, ev(1, false, 160)),
        (5000, ev(1, true, 640)),
        (5000, ev(1, true, 640)),
    ] {
        got.extend(d.on_packet(ts, &e));
    }
    assert_eq!(
        got,
        vec![
            DetectedDigit {
                digit: '1',
                duration_ms: 100
            },
            DetectedDigit {
                digit: '1',
                duration_ms: 80
            }
        ]
    );
}

#[test]
fn detector_reports_an_event_whose_end_was_lost_when_the_next_starts() {
    let mut d = DtmfDetector::new();
    assert_eq!(d.on_packet(100, &ev(7, false, 400)), None);
    let got = d.on_packet(900, &ev(8, false, 160));
    assert_eq!(got.map(|g| g.digit), Some('7'));
    // Lost end, and the next event starts with its end packet: both are reported.
    assert_eq!(
        d.on_packet(2000, &ev(9, true, 400)).map(|g| g.digit),
        Some('8')
    );
    assert_eq!(
        d.on_packet(2000, &ev(9, true, 400)).map(|g| g.digit),
        Some('9')
    );
    assert_eq!(d.on_packet(2000, &ev(9, true, 400)), None);
}

#[test]
fn detector_ignores_non_digit_events() {
    let mut d = DtmfDetector::new();
    assert_eq!(d.on_packet(1, &ev(16, true, 400)), None);
    assert_eq!(d.on_packet(1, &ev(16, true, 400)), None);
}

#[test]
fn train_for_a_digit() {
    let mut t = EventTrain::new('#', 100, 20).expect("digit");
    let mut packets = Vec::new();
    while let Some(p) = t.next_packet() {
        packets.push(p);
        assert!(packets.len() < 100, "train ends");
    }
    // 100 ms at 20 ms: 4 updates (160..640), then the end (800) three times.
    assert_eq!(packets.len(), 7);
    assert!(packets[0].marker);
    assert!(packets[1..].iter().all(|p| !p.marker));
    let parsed: Vec<TelephoneEvent> = packets
        .iter()
        .map(|p| TelephoneEvent::parse(&p.payload).expect("valid"))
        .collect();
    assert!(
        parsed
            .iter()
            .all(|e| e.event == 11 && e.volume == DEFAULT_VOLUME)
    );
    let durations: Vec<u16> = parsed.iter().map(|e| e.duration).collect();
    assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(parsed.iter().filter(|e| e.end).count(), 3);
    assert!(EventTrain::new('x', 100, 20).is_none());
    // A train fed to a detector gives the digit once with its duration.
    let mut d = DtmfDetector::new();
    let found: Vec<DetectedDigit> = parsed.iter().filter_map(|e| d.on_packet(42, e)).collect();
    assert_eq!(
        found,
        vec![DetectedDigit {
            digit: '#',
            duration_ms: 100
        }]
    );
}

#[test]
fn info_bodies() {
    assert_eq!(
        parse_dtmf_relay("Signal=5\r\nDuration=160\r\n"),
        Ok(DetectedDigit {
            digit: '5',
            duration_ms: 160
        })
    );
    assert_eq!(
        parse_dtmf_relay("signal= *\nduration = 250\n").map(|d| (d.digit, d.duration_ms)),
        Ok(('*', 250))
    );
    assert_eq!(parse_dtmf_relay("Signal=11").map(|d| d.digit), Ok('#'));
    assert_eq!(
        parse_dtmf_relay("Signal=1").map(|d| d.duration_ms),
        Ok(DEFAULT_DURATION_MS)
    );
    assert_eq!(
        parse_dtmf_relay("Signal=1\r\nDuration=999999").map(|d| d.duration_ms),
        Ok(MAX_DURATION_MS)
    );
    assert_eq!(parse_dtmf_relay("Duration=100"), Err(DtmfError::NoSignal));
    assert_eq!(parse_dtmf_relay("Signal=X"), Err(DtmfError::NoSignal));
    assert_eq!(parse_dtmf_relay("Signal=16"), Err(DtmfError::NoSignal));
    assert_eq!(build_dtmf_relay('#', 160), "Signal=#\r\nDuration=160\r\n");
    assert_eq!(parse_dtmf(" 7\r\n"), Ok('7'));
    assert_eq!(parse_dtmf("10"), Ok('*'));
    assert_eq!(parse_dtmf("77"), Err(DtmfError::NoSignal));
    assert_eq!(build_dtmf('A'), "A");
}
