use proptest::prelude::*;

use super::*;

fn packet(b0: u8, pt: u8, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![b0, pt, 0x12, 0x34, 0, 0, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef];
    p.extend_from_slice(extra);
    p.extend_from_slice(payload);
    p
}

fn fields(r: &Rtp<'_>) -> (bool, u8, u16, u32, u32) {
    (
        r.marker(),
        r.payload_type(),
        r.seq(),
        r.timestamp(),
        r.ssrc(),
    )
}

#[test]
fn plain_pcmu_fields() {
    let p = packet(0x80, 0x80, &[], &[0xffu8; 160]);
    let r = Rtp::parse(&p).expect("valid");
    assert!(r.marker());
    assert_eq!(r.payload_type(), 0);
    assert_eq!(r.seq(), 0x1234);
    assert_eq!(r.timestamp(), 256);
    assert_eq!(r.ssrc(), 0xdead_beef);
    assert_eq!(r.payload().len(), 160);
    assert_eq!(r.csrc(0), None);
    assert_eq!(r.extension(), None);
}

#[test]
fn csrc_extension_and_padding_bound_the_payload() {
    // 2 CSRCs, a one-word extension, 4 payload bytes, 3 bytes of padding.
    let extra = [0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 1, 2, 3, 4];
    let mut p = packet(0x80 | 0x20 | 0x10 | 2, 8, &extra, &[9, 9, 9, 9]);
    p.extend_from_slice(&[0, 0, 3]);
    let r = Rtp::parse(&p).expect("valid");
    assert_eq!(r.csrc_count(), 2);
    assert_eq!(r.csrc(1), Some(2));
    assert_eq!(r.extension(), Some((0xbede, &[1u8, 2, 3, 4][..])));
    assert_eq!(r.payload(), &[9, 9, 9, 9]);
}

#[test]
fn malformed_packets_are_rejected() {
    assert!(matches!(Rtp::parse(&[]), Err(RtpError::Truncated { .. })));
    assert!(matches!(
        Rtp::parse(&[0x80; 11]),
        Err(RtpError::Truncated { need: 12, have: 11 })
    ));
    assert_eq!(
        Rtp::parse(&packet(0x40, 0, &[], &[0; 4])).err(),
        Some(RtpError::Version(1))
    );
    // CC=15 without CSRCs.
    assert!(matches!(
        Rtp::parse(&packet(0x8f, 0, &[], &[])),
        Err(RtpError::Truncated { need: 72, .. })
    ));
    // Extension of 16 words, 4 bytes present.
    assert!(matches!(
        Rtp::parse(&packet(0x90, 0, &[0, 0, 0, 16], &[])),
        Err(RtpError::Truncated { need: 80, .. })
    ));
    // Extension header itself cut.
    assert!(matches!(
        Rtp::parse(&packet(0x90, 0, &[0, 0], &[])),
        Err(RtpError::Truncated { .. })
    ));
    // Padding count larger than the payload, and zero.
    assert_eq!(
        Rtp::parse(&packet(0xa0, 0, &[], &[1, 2, 200])).err(),
        Some(RtpError::Padding(200))
    );
    assert_eq!(
        Rtp::parse(&packet(0xa0, 0, &[], &[1, 2, 0])).err(),
        Some(RtpError::Padding(0))
    );
}

#[test]
fn in_place_rewrite_changes_only_the_field() {
    let mut p = packet(0x80, 0x80, &[], &[1, 2, 3]);
    let mut m = RtpMut::parse(&mut p).expect("valid");
    m.set_payload_type(8);
    assert!(m.marker(), "marker kept when setting the payload type");
    m.set_marker(false);
    m.set_seq(7);
    m.set_timestamp(0x0102_0304);
    m.set_ssrc(42);
    m.payload_mut().copy_from_slice(&[4, 5, 6]);
    let r = Rtp::parse(&p).expect("still valid");
    assert_eq!(fields(&r), (false, 8, 7, 0x0102_0304, 42));
    assert_eq!(r.payload(), &[4, 5, 6]);
}

#[test]
fn write_packet_round_trips_and_refuses_small_buffers() {
    let h = RtpHeader {
        marker: true,
        payload_type: 101,
        seq: 65535,
        timestamp: 99,
        ssrc: 5,
    };
    let mut out = [0u8; 32];
    let n = write_packet(&mut out, h, &[1, 2, 3, 4]).expect("fits");
    assert_eq!(n, 16);
    let r = Rtp::parse(&out[..n]).expect("valid");
    assert_eq!(fields(&r), (true, 101, 65535, 99, 5));
    assert_eq!(write_packet(&mut [0u8; 15], h, &[1, 2, 3, 4]), None);
}

#[test]
fn rtcp_validation() {
    // Receiver report with no report blocks (length 1 word), then an SDES header of 0 words.
    let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
    assert_eq!(check_rtcp(&rr), Ok(1));
    let mut compound = rr.to_vec();
    compound.extend_from_slice(&[0x81, 202, 0, 0]);
    assert_eq!(check_rtcp(&compound), Ok(2));
    assert_eq!(check_rtcp(&[]), Err(RtcpError::Truncated));
    assert_eq!(check_rtcp(&[0x80, 201, 0]), Err(RtcpError::Truncated));
    assert_eq!(
        check_rtcp(&[0x80, 201, 0, 5, 0, 0, 0, 1]),
        Err(RtcpError::Truncated)
    );
    assert_eq!(check_rtcp(&[0x40, 201, 0, 0]), Err(RtcpError::Version(1)));
    assert_eq!(check_rtcp(&[0x80, 0, 0, 0]), Err(RtcpError::PacketType(0)));
}

fn relayed(ssrc: u32, seq: u16, ts: u32) -> Vec<u8> {
    let mut out = vec![0u8; 16];
    let h = RtpHeader {
        marker: false,
        payload_type: 0,
        seq,
        timestamp: ts,
        ssrc,
    };
    write_packet(&mut out, h, &[0; 4]).expect("fits");
    out
}

fn through(stream: &mut OutStream, mut p: Vec<u8>) -> (bool, u16, u32, u32) {
    let mut m = RtpMut::parse(&mut p).expect("valid");
    stream.relay(&mut m, 160);
    (m.marker(), m.seq(), m.timestamp(), m.ssrc())
}

#[test]
fn out_stream_keeps_one_ssrc_continuous_seq_and_monotonic_time() {
    let mut s = OutStream::new(77, 1000, 5000);
    assert_eq!(
        through(&mut s, relayed(1, 10, 90_000)),
        (true, 1000, 5160, 77)
    );
    assert_eq!(
        through(&mut s, relayed(1, 11, 90_160)),
        (false, 1001, 5320, 77)
    );
    // Another source: marker, time continues one step later, seq continues.
    assert_eq!(through(&mut s, relayed(2, 500, 7)), (true, 1002, 5480, 77));
    // Our own packet after relaying advances from the last relayed timestamp.
    let own = s.own(8, 160, false);
    assert_eq!((own.seq, own.timestamp, own.ssrc), (1003, 5640, 77));
    // Relaying the same source again after own packets re-syncs it (marker).
    assert_eq!(
        through(&mut s, relayed(2, 501, 167)),
        (true, 1004, 5800, 77)
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(r) = Rtp::parse(&bytes) {
            prop_assert_eq!(bytes[0] >> 6, 2);
            prop_assert!(r.payload().len() <= bytes.len() - RTP_HEADER_LEN);
            let _ = (r.extension(), r.csrc(3), r.seq(), r.ssrc(), r.timestamp());
        }
        let _ = check_rtcp(&bytes);
        let mut copy = bytes.clone();
        if let Ok(mut m) = RtpMut::parse(&mut copy) {
            m.set_seq(1);
            m.set_ssrc(2);
            m.set_payload_type(3);
            let n = m.payload_mut().len();
            prop_assert!(n <= bytes.len());
        }
    }

    #[test]
    fn built_packets_parse_back(pt in 0u8..128, seq: u16, ts: u32, ssrc: u32, marker: bool,
                                payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut out = vec![0u8; 12 + payload.len()];
        let h = RtpHeader { marker, payload_type: pt, seq, timestamp: ts, ssrc };
        let n = write_packet(&mut out, h, &payload).expect("fits");
        let r = Rtp::parse(&out[..n]).expect("valid");
        prop_assert_eq!((r.marker(), r.payload_type(), r.seq(), r.timestamp(), r.ssrc()),
                        (marker, pt, seq, ts, ssrc));
        prop_assert_eq!(r.payload(), &payload[..]);
    }
}

#[test]
fn relayed_rtcp_names_the_streams_as_the_receiving_side_sees_them() {
    // SR from SSRC 0x11 with one report block about 0xAA, then an SDES chunk and a BYE.
    let mut sr = vec![0x81, 200, 0, 12];
    sr.extend_from_slice(&0x11u32.to_be_bytes());
    sr.extend_from_slice(&[0u8; 20]);
    sr.extend_from_slice(&0xAAu32.to_be_bytes());
    sr.extend_from_slice(&[0u8; 20]);
    let mut sdes = vec![0x81, 202, 0, 2];
    sdes.extend_from_slice(&0x11u32.to_be_bytes());
    sdes.extend_from_slice(&[0, 0, 0, 0]);
    let mut bye = vec![0x81, 203, 0, 1];
    bye.extend_from_slice(&0x11u32.to_be_bytes());
    let mut buf = [sr, sdes, bye].concat();
    translate_rtcp(&mut buf, 0x22, Some((0xAA, 0xBB)));
    let word = |at: usize| u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    assert_eq!(word(4), 0x22, "SR sender");
    assert_eq!(word(28), 0xBB, "report block source");
    assert_eq!(word(56), 0x22, "SDES chunk");
    assert_eq!(word(68), 0x22, "BYE");
    // A report about another SSRC is left alone; a truncated packet stops the walk.
    let mut other = vec![0x81, 201, 0, 7];
    other.extend_from_slice(&0x11u32.to_be_bytes());
    other.extend_from_slice(&0xCCu32.to_be_bytes());
    other.extend_from_slice(&[0u8; 20]);
    translate_rtcp(&mut other, 0x22, Some((0xAA, 0xBB)));
    assert_eq!(&other[8..12], &0xCCu32.to_be_bytes());
    let mut short = vec![0x81, 200, 0, 12, 0, 0, 0, 0x11];
    translate_rtcp(&mut short, 0x22, None);
    assert_eq!(&short[4..8], &[0, 0, 0, 0x11]);
}
