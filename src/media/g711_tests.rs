use super::*;

#[test]
fn known_values() {
    assert_eq!(ulaw_to_linear(0xff), 0);
    assert_eq!(ulaw_to_linear(0x7f), 0);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(alaw_to_linear(0xd5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xaa), 32256);
    assert_eq!(alaw_to_linear(0x2a), -32256);
    assert_eq!(linear_to_ulaw(0), 0xff);
    assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
    assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    assert_eq!(linear_to_alaw(0), 0xd5);
    assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
    assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
    // Silence maps to silence both ways.
    assert_eq!(ULAW_TO_ALAW[usize::from(ULAW_SILENCE)], ALAW_SILENCE);
    assert_eq!(
        ALAW_TO_ULAW[usize::from(ALAW_SILENCE)],
        0xfe,
        "A-law +8 is µ-law +8"
    );
    assert_eq!(ulaw_to_linear(0xfe), 8);
}

#[test]
fn encode_decode_round_trips_every_code() {
    for b in 0..=255u8 {
        // µ-law has two zeros (0x7f and 0xff); encoding 0 gives 0xff.
        let expect_u = if b == 0x7f { 0xff } else { b };
        assert_eq!(
            linear_to_ulaw(ulaw_to_linear(b)),
            expect_u,
            "µ-law {b:#04x}"
        );
        assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "A-law {b:#04x}");
    }
}

/// Step of the coarser of the two laws around `level` (A-law: 16 up to 512, then 1/32 of
/// the level; µ-law: 8 up to 128, then about 1/16 of the level).
fn coarse_step(level: i32) -> i32 {
    (level.abs() / 16 + 16).max(16)
}

#[test]
fn a_to_mu_to_a_round_trip() {
    let mut exact = 0;
    for a in 0..=255u8 {
        let u = ALAW_TO_ULAW[usize::from(a)];
        let back = ULAW_TO_ALAW[usize::from(u)];
        let (la, lu, lb) = (
            i32::from(alaw_to_linear(a)),
            i32::from(ulaw_to_linear(u)),
            i32::from(alaw_to_linear(back)),
        );
        assert_eq!(la > 0, lu > 0, "sign of {a:#04x}");
        assert!(
            (la - lu).abs() <= coarse_step(la),
            "{a:#04x}: {la} vs µ {lu}"
        );
        assert!((la - lb).abs() <= coarse_step(la), "{a:#04x}: {la} vs {lb}");
        exact += usize::from(back == a);
    }
    // Transparent except where µ-law is the coarser law (around 1000 in each sign).
    assert!(exact >= 240, "only {exact} A-law codes survive A→µ→A");
}

#[test]
fn mu_to_a_to_mu_round_trip() {
    let mut exact = 0;
    for u in 0..=255u8 {
        let a = ULAW_TO_ALAW[usize::from(u)];
        let back = ALAW_TO_ULAW[usize::from(a)];
        let (l0, l1) = (
            i32::from(ulaw_to_linear(u)),
            i32::from(ulaw_to_linear(back)),
        );
        assert!((l0 - l1).abs() <= coarse_step(l0), "{u:#04x}: {l0} vs {l1}");
        assert_eq!(a & 0x80, u & 0x80, "sign of {u:#04x}");
        exact += usize::from(back == u);
    }
    // Where µ-law is finer (low levels) neighbours merge; the rest is exact.
    assert!(exact >= 240, "only {exact} µ-law codes survive µ→A→µ");
    assert_eq!(ALAW_TO_ULAW[usize::from(ULAW_TO_ALAW[0x80])], 0x80);
    assert_eq!(ALAW_TO_ULAW[usize::from(ULAW_TO_ALAW[0x00])], 0x00);
}

#[test]
fn transcode_in_place_uses_the_tables() {
    let mut buf = [0xffu8, 0x80, 0x00, 0x7f];
    transcode_in_place(&mut buf, Law::Ulaw, Law::Alaw);
    assert_eq!(buf, [0xd5, 0xaa, 0x2a, 0x55]);
    transcode_in_place(&mut buf, Law::Alaw, Law::Ulaw);
    assert_eq!(buf, [0xfe, 0x80, 0x00, 0x7e]);
    let before = buf;
    transcode_in_place(&mut buf, Law::Ulaw, Law::Ulaw);
    assert_eq!(buf, before);
}
