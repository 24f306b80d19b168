//! RTP (RFC 3550) header views over a datagram, in-place header rewriting, the outgoing stream
//! context of a leg, and minimal RTCP validation (sans-IO).
//!
//! The views are zero-copy: [`Rtp::parse`] validates the fixed header, the CSRC list, the
//! extension and the padding once, then every accessor is a constant-offset read that cannot
//! fail. [`RtpMut`] does the same over `&mut [u8]` and rewrites the fixed header fields in place,
//! which is all a relay needs per packet.

use thiserror::Error;

/// Length of the fixed RTP header.
pub const RTP_HEADER_LEN: usize = 12;

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    /// Fewer bytes than the headers announce.
    #[error("RTP packet truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes the headers require.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Version field is not 2.
    #[error("RTP version {0} is not 2")]
    Version(u8),
    /// Padding bit set with a padding count of 0 or larger than the payload.
    #[error("RTP padding count {0} is invalid")]
    Padding(u8),
}

/// Why a datagram is not a valid RTCP (compound) packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtcpError {
    /// Shorter than one RTCP header or than a packet's length field says.
    #[error("RTCP packet truncated")]
    Truncated,
    /// Version field is not 2.
    #[error("RTCP version {0} is not 2")]
    Version(u8),
    /// Packet type outside 192..=223 (RFC 5761 range for RTCP).
    #[error("RTCP packet type {0} is not an RTCP type")]
    PacketType(u8),
}

/// Validated layout of an RTP packet: where the payload starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    payload_start: usize,
    payload_end: usize,
}

fn layout(buf: &[u8]) -> Result<Layout, RtpError> {
    let [b0, ..] = *buf else {
        return Err(RtpError::Truncated {
            need: RTP_HEADER_LEN,
            have: 0,
        });
    };
    if buf.len() < RTP_HEADER_LEN {
        return Err(RtpError::Truncated {
            need: RTP_HEADER_LEN,
            have: buf.len(),
        });
    }
    let version = b0 >> 6;
    if version != 2 {
        return Err(RtpError::Version(version));
    }
    let csrc_count = usize::from(b0 & 0x0f);
    let mut start = RTP_HEADER_LEN + 4 * csrc_count;
    if b0 & 0x10 != 0 {
        // Extension header: 16-bit profile, 16-bit length in 32-bit words.
        let words = match (buf.get(start + 2), buf.get(start + 3)) {
            (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => {
                return Err(RtpError::Truncated {
                    need: start + 4,
                    have: buf.len(),
                });
            }
        };
        start += 4 + 4 * words;
    }
    if buf.len() < start {
        return Err(RtpError::Truncated {
            need: start,
            have: buf.len(),
        });
    }
    let mut end = buf.len();
    if b0 & 0x20 != 0 {
        let count = buf.last().copied().unwrap_or(0);
        if count == 0 || usize::from(count) > end - start {
            return Err(RtpError::Padding(count));
        }
        end -= usize::from(count);
    }
    Ok(Layout {
        payload_start: start,
        payload_end: end,
    })
}

fn be16(buf: &[u8], at: usize) -> u16 {
    match (buf.get(at), buf.get(at + 1)) {
        (Some(&a), Some(&b)) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn be32(buf: &[u8], at: usize) -> u32 {
    match buf.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

macro_rules! header_getters {
    () => {
        /// Marker bit.
        pub fn marker(&self) -> bool {
            self.buf.get(1).is_some_and(|b| b & 0x80 != 0)
        }
        /// Payload type (7 bits).
        pub fn payload_type(&self) -> u8 {
            self.buf.get(1).map_or(0, |b| b & 0x7f)
        }
        /// Sequence number.
        pub fn seq(&self) -> u16 {
            be16(&self.buf, 2)
        }
        /// Timestamp.
        pub fn timestamp(&self) -> u32 {
            be32(&self.buf, 4)
        }
        /// Synchronisation source.
        pub fn ssrc(&self) -> u32 {
            be32(&self.buf, 8)
        }
        /// Number of contributing sources.
        pub fn csrc_count(&self) -> usize {
            self.buf.first().map_or(0, |b| usize::from(b & 0x0f))
        }
        /// Whether the header extension bit is set.
        pub fn has_extension(&self) -> bool {
            self.buf.first().is_some_and(|b| b & 0x10 != 0)
        }
        /// Whether the padding bit is set.
        pub fn has_padding(&self) -> bool {
            self.buf.first().is_some_and(|b| b & 0x20 != 0)
        }
        /// The payload, without header, CSRCs, extension or padding.
        pub fn payload(&self) -> &[u8] {
            self.buf
                .get(self.layout.payload_start..self.layout.payload_end)
                .unwrap_or(&[])
        }
        /// The `i`th contributing source, if present.
        pub fn csrc(&self, i: usize) -> Option<u32> {
            (i < self.csrc_count()).then(|| be32(&self.buf, RTP_HEADER_LEN + 4 * i))
        }
        /// The header extension: profile-defined 16 bits and the extension data.
        pub fn extension(&self) -> Option<(u16, &[u8])> {
            if !self.has_extension() {
                return None;
            }
            let at = RTP_HEADER_LEN + 4 * self.csrc_count();
            let data = self.buf.get(at + 4..self.layout.payload_start)?;
            Some((be16(&self.buf, at), data))
        }
    };
}

/// A validated read-only view of an RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct Rtp<'a> {
    buf: &'a [u8],
    layout: Layout,
}

impl<'a> Rtp<'a> {
    /// Validates `buf` as an RTP packet (version 2, CSRCs, extension and padding in bounds).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        Ok(Self {
            layout: layout(buf)?,
            buf,
        })
    }
    header_getters!();
}

/// A validated view of an RTP packet whose fixed header fields and payload can be rewritten.
#[derive(Debug)]
pub struct RtpMut<'a> {
    buf: &'a mut [u8],
    layout: Layout,
}

impl<'a> RtpMut<'a> {
    /// Validates `buf` as an RTP packet, as [`Rtp::parse`].
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        Ok(Self {
            layout: layout(buf)?,
            buf,
        })
    }
    header_getters!();

    /// Sets the payload type, keeping the marker bit.
    pub fn set_payload_type(&mut self, pt: u8) {
        if let Some(b) = self.buf.get_mut(1) {
            *b = (*b & 0x80) | (pt & 0x7f);
        }
    }
    /// Sets or clears the marker bit.
    pub fn set_marker(&mut self, marker: bool) {
        if let Some(b) = self.buf.get_mut(1) {
            *b = (*b & 0x7f) | if marker { 0x80 } else { 0 };
        }
    }
    /// Sets the sequence number.
    pub fn set_seq(&mut self, seq: u16) {
        put(self.buf, 2, &seq.to_be_bytes());
    }
    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        put(self.buf, 4, &ts.to_be_bytes());
    }
    /// Sets the synchronisation source.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        put(self.buf, 8, &ssrc.to_be_bytes());
    }
    /// The payload, writable in place (its length is fixed).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buf
            .get_mut(self.layout.payload_start..self.layout.payload_end)
            .unwrap_or(&mut [])
    }
}

/// The fixed header fields of a packet we generate ourselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Writes a 12-byte header (no CSRC, extension or padding) followed by `payload` into `out`.
/// Returns the packet length, or `None` when `out` is too small.
pub fn write_packet(out: &mut [u8], header: RtpHeader, payload: &[u8]) -> Option<usize> {
    let len = RTP_HEADER_LEN + payload.len();
    let dst = out.get_mut(..len)?;
    let (head, body) = dst.split_at_mut(RTP_HEADER_LEN);
    head[0] = 0x80;
    head[1] = (if header.marker { 0x80 } else { 0 }) | (header.payload_type & 0x7f);
    head[2..4].copy_from_slice(&header.seq.to_be_bytes());
    head[4..8].copy_from_slice(&header.timestamp.to_be_bytes());
    head[8..12].copy_from_slice(&header.ssrc.to_be_bytes());
    body.copy_from_slice(payload);
    Some(len)
}

/// Checks that `buf` is a plausible RTCP compound packet: every packet has version 2, an RTCP
/// packet type, and a length that fits. Returns the number of packets in the compound.
pub fn check_rtcp(buf: &[u8]) -> Result<usize, RtcpError> {
    let mut at = 0usize;
    let mut count = 0usize;
    // Each packet is at least 4 bytes, so the loop runs at most len/4 times.
    while at < buf.len() {
        let (Some(&b0), Some(&pt)) = (buf.get(at), buf.get(at + 1)) else {
            return Err(RtcpError::Truncated);
        };
        if b0 >> 6 != 2 {
            return Err(RtcpError::Version(b0 >> 6));
        }
        if !(192..=223).contains(&pt) {
            return Err(RtcpError::PacketType(pt));
        }
        if buf.len() < at + 4 {
            return Err(RtcpError::Truncated);
        }
        let words = usize::from(be16(buf, at + 2));
        at += 4 * (words + 1);
        if at > buf.len() {
            return Err(RtcpError::Truncated);
        }
        count += 1;
    }
    if count == 0 {
        return Err(RtcpError::Truncated);
    }
    Ok(count)
}

/// The sending side of one leg: its own SSRC, a continuous sequence number and a timestamp line
/// that stays monotonic when the source of what we send changes (relayed stream, playback,
/// generated DTMF). Every packet sent on a leg passes through it.
#[derive(Debug, Clone)]
pub struct OutStream {
    ssrc: u32,
    seq: u16,
    last_ts: u32,
    offset: u32,
    source: Option<u32>,
}

impl OutStream {
    /// A stream with the given SSRC and initial sequence number and timestamp.
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> Self {
        Self {
            ssrc,
            seq,
            last_ts: timestamp,
            offset: 0,
            source: None,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Rewrites a relayed packet into this stream: our SSRC, the next sequence number, and the
    /// source's timestamp shifted by a per-source offset. A new source SSRC (or the first
    /// relayed packet after our own packets) gets a fresh offset `step` samples after the last
    /// timestamp sent, and the marker bit, so the receiver re-syncs its jitter buffer.
    pub fn relay(&mut self, pkt: &mut RtpMut<'_>, step: u32) {
        let src_ssrc = pkt.ssrc();
        let src_ts = pkt.timestamp();
        if self.source != Some(src_ssrc) {
            self.offset = self.last_ts.wrapping_add(step).wrapping_sub(src_ts);
            self.source = Some(src_ssrc);
            pkt.set_marker(true);
        }
        let ts = src_ts.wrapping_add(self.offset);
        pkt.set_ssrc(self.ssrc);
        pkt.set_seq(self.seq);
        pkt.set_timestamp(ts);
        self.seq = self.seq.wrapping_add(1);
        self.last_ts = ts;
    }

    /// Header for a packet we generate, `advance` samples after the previous one (0 keeps the
    /// timestamp, as the packets of one RFC 4733 event do).
    pub fn own(&mut self, payload_type: u8, advance: u32, marker: bool) -> RtpHeader {
        self.source = None;
        self.last_ts = self.last_ts.wrapping_add(advance);
        let header = RtpHeader {
            marker,
            payload_type,
            seq: self.seq,
            timestamp: self.last_ts,
            ssrc: self.ssrc,
        };
        self.seq = self.seq.wrapping_add(1);
        header
    }
}

#[cfg(test)]
#[path = "rtp_tests.rs"]
mod rtp_tests;

/// Rewrites the SSRCs of a compound RTCP packet relayed from one leg to the other, so that
/// they name the streams as the receiving side sees them (the relay sends RTP with each
/// leg's own SSRC): the reporter's own SSRC (SR, RR, first SDES chunk, BYE, feedback
/// sender) becomes `sender`; the SSRC a report block or feedback is about becomes
/// `media.1` when it is `media.0`. Packets of other types are left alone; a length that
/// does not fit stops the walk (the packet was checked before, this only guards).
pub fn translate_rtcp(buf: &mut [u8], sender: u32, media: Option<(u32, u32)>) {
    let mut at = 0usize;
    // Bounded: each packet is at least 4 bytes.
    while at + 8 <= buf.len() {
        let (Some(&b0), Some(&pt), Some(&l0), Some(&l1)) = (
            buf.get(at),
            buf.get(at + 1),
            buf.get(at + 2),
            buf.get(at + 3),
        ) else {
            return;
        };
        let count = usize::from(b0 & 0x1f);
        let len = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        let Some(packet) = buf.get_mut(at..at + len) else {
            return;
        };
        let map = |p: &mut [u8], offset: usize| {
            if let (Some((from, to)), Some(field)) = (media, p.get_mut(offset..offset + 4))
                && u32::from_be_bytes([field[0], field[1], field[2], field[3]]) == from
            {
                field.copy_from_slice(&to.to_be_bytes());
            }
        };
        let set = |p: &mut [u8], offset: usize| {
            if let Some(field) = p.get_mut(offset..offset + 4) {
                field.copy_from_slice(&sender.to_be_bytes());
            }
        };
        match pt {
            // SR: sender info is 20 bytes after the SSRC, then the report blocks.
            200 => {
                set(packet, 4);
                for i in 0..count {
                    map(packet, 28 + i * 24);
                }
            }
            201 => {
                set(packet, 4);
                for i in 0..count {
                    map(packet, 8 + i * 24);
                }
            }
            // SDES: the first chunk is the reporter's.
            202 if count > 0 => set(packet, 4),
            203 => {
                for i in 0..count {
                    set(packet, 4 + i * 4);
                }
            }
            // RTPFB / PSFB (RFC 4585): sender, then the media source.
            205 | 206 => {
                set(packet, 4);
                map(packet, 8);
            }
            _ => {}
        }
        at += len;
    }
}
