//! G.711 (ITU-T G.711) µ-law and A-law: linear conversions and the byte-to-byte transcoding
//! tables used by the relay (sans-IO).
//!
//! Linear samples are 16-bit. The µ-law↔A-law tables are built at compile time, on magnitudes
//! (the sign is kept): A-law→µ-law takes the nearest µ-law level; µ-law→A-law takes the
//! nearest A-law level, except that a µ-law code that is the image of an A-law code maps back
//! to it, so A→µ→A gives the original code wherever the two laws have the same density of
//! levels. Neither direction can be transparent everywhere (each law is denser than the other
//! somewhere, as in the G.711 conversion tables), but every round trip stays within one step
//! of the coarser law.

/// µ-law bias added before the segment search.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can encode before the bias.
const ULAW_CLIP: i32 = 32635;

/// µ-law silence (positive zero).
pub const ULAW_SILENCE: u8 = 0xff;
/// A-law silence (the smallest positive level).
pub const ALAW_SILENCE: u8 = 0xd5;

/// The two G.711 companding laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, RTP payload type 0).
    Ulaw,
    /// A-law (PCMA, RTP payload type 8).
    Alaw,
}

impl Law {
    /// The silence byte of this law.
    pub fn silence(self) -> u8 {
        match self {
            Law::Ulaw => ULAW_SILENCE,
            Law::Alaw => ALAW_SILENCE,
        }
    }

    /// Encodes one linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => linear_to_ulaw(sample),
            Law::Alaw => linear_to_alaw(sample),
        }
    }

    /// Decodes one byte to a linear sample.
    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_to_linear(byte),
            Law::Alaw => alaw_to_linear(byte),
        }
    }
}

/// Encodes a 16-bit linear sample to µ-law.
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    if s > ULAW_CLIP {
        s = ULAW_CLIP;
    }
    s += ULAW_BIAS;
    // Segment: position of the highest set bit among bits 7..=14.
    let mut exp = 7;
    while exp > 0 && s & (0x80 << exp) == 0 {
        exp -= 1;
    }
    let mantissa = (s >> (exp + 3)) & 0x0f;
    !((sign | (exp << 4) | mantissa) as u8)
}

/// Decodes a µ-law byte to a 16-bit linear sample.
pub const fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte as i32;
    let exp = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exp) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes a 16-bit linear sample to A-law.
pub const fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13 bits.
    let mut v = (sample as i32) >> 3;
    let mask: i32 = if v >= 0 {
        0xd5
    } else {
        v = -v - 1;
        0x55
    };
    let mut seg = 0;
    while seg < 8 && v >= (0x20 << seg) {
        seg += 1;
    }
    if seg >= 8 {
        return (0x7f ^ mask) as u8;
    }
    let mantissa = if seg < 2 {
        (v >> 1) & 0x0f
    } else {
        (v >> seg) & 0x0f
    };
    (((seg << 4) | mantissa) ^ mask) as u8
}

/// Decodes an A-law byte to a 16-bit linear sample.
pub const fn alaw_to_linear(byte: u8) -> i16 {
    let a = (byte ^ 0x55) as i32;
    let mut t = (a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

/// Level of the positive A-law code with magnitude index `k` (levels ascend with `k`).
const fn alaw_level(k: usize) -> i32 {
    alaw_to_linear((0x80 | k as u8) ^ 0x55) as i32
}

/// Level of the positive µ-law code with magnitude index `j` (levels ascend with `j`).
const fn ulaw_level(j: usize) -> i32 {
    ulaw_to_linear(0xff ^ j as u8) as i32
}

/// A-law magnitude index → µ-law magnitude index: the nearest level.
const fn build_a2u_mag() -> [usize; 128] {
    let mut t = [0usize; 128];
    let mut k = 0usize;
    while k < 128 {
        let level = alaw_level(k);
        let mut best = 0usize;
        let mut j = 0usize;
        while j < 128 {
            if (ulaw_level(j) - level).abs() < (ulaw_level(best) - level).abs() {
                best = j;
            }
            j += 1;
        }
        t[k] = best;
        k += 1;
    }
    t
}

/// µ-law magnitude index → A-law magnitude index: the nearest level, except that the image of
/// each A-law code maps back to it.
const fn build_u2a_mag(a2u: &[usize; 128]) -> [usize; 128] {
    let mut t = [0usize; 128];
    let mut j = 0usize;
    while j < 128 {
        let level = ulaw_level(j);
        let mut best = 0usize;
        let mut k = 0usize;
        while k < 128 {
            if (alaw_level(k) - level).abs() < (alaw_level(best) - level).abs() {
                best = k;
            }
            k += 1;
        }
        t[j] = best;
        j += 1;
    }
    let mut k = 0usize;
    while k < 128 {
        t[a2u[k]] = k;
        k += 1;
    }
    t
}

const A2U_MAG: [usize; 128] = build_a2u_mag();
const U2A_MAG: [usize; 128] = build_u2a_mag(&A2U_MAG);

const fn build_alaw_to_ulaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut k = 0usize;
    while k < 128 {
        let j = A2U_MAG[k] as u8;
        t[((0x80 | k as u8) ^ 0x55) as usize] = 0xff ^ j;
        t[(k as u8 ^ 0x55) as usize] = 0x7f ^ j;
        k += 1;
    }
    t
}

const fn build_ulaw_to_alaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut j = 0usize;
    while j < 128 {
        let k = U2A_MAG[j] as u8;
        t[(0xff ^ j as u8) as usize] = (0x80 | k) ^ 0x55;
        t[(0x7f ^ j as u8) as usize] = k ^ 0x55;
        j += 1;
    }
    t
}

const A2U: [u8; 256] = build_alaw_to_ulaw();
const U2A: [u8; 256] = build_ulaw_to_alaw();

/// A-law byte → µ-law byte.
pub static ALAW_TO_ULAW: [u8; 256] = A2U;
/// µ-law byte → A-law byte.
pub static ULAW_TO_ALAW: [u8; 256] = U2A;

/// Transcodes a buffer in place from law `from` to law `to` (no-op when they are equal).
pub fn transcode_in_place(buf: &mut [u8], from: Law, to: Law) {
    let table = match (from, to) {
        (Law::Ulaw, Law::Alaw) => &ULAW_TO_ALAW,
        (Law::Alaw, Law::Ulaw) => &ALAW_TO_ULAW,
        _ => return,
    };
    for b in buf {
        *b = table[usize::from(*b)];
    }
}

#[cfg(test)]
#[path = "g711_tests.rs"]
mod g711_tests;
