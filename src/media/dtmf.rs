//! DTMF: RFC 4733 telephone-event payloads (parse, build, detect once, generate) and the SIP
//! INFO bodies `application/dtmf-relay` and `application/dtmf` (sans-IO).

use thiserror::Error;

/// Telephone-event clock rate assumed for durations (RFC 4733 events for audio at 8 kHz).
pub const EVENT_CLOCK_HZ: u32 = 8000;
/// Volume (dBm0 below 0, i.e. -10 dBm0) written in generated events.
pub const DEFAULT_VOLUME: u8 = 10;
/// How many times the end packet of a generated event is sent (RFC 4733 §2.5.1.4).
pub const END_REPEATS: u32 = 3;
/// Longest duration accepted from an INFO body or a request, in milliseconds.
pub const MAX_DURATION_MS: u32 = 8000;
/// Duration used when an INFO body has none, in milliseconds (Asterisk's default).
pub const DEFAULT_DURATION_MS: u32 = 100;

/// Why a DTMF payload or body is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtmfError {
    /// Telephone-event payload shorter than 4 bytes.
    #[error("telephone-event payload of {0} bytes is shorter than 4")]
    Short(usize),
    /// Event code that is not a DTMF digit (16 and above: tones, flash...).
    #[error("event {0} is not a DTMF digit")]
    NotDigit(u8),
    /// INFO body without a usable `Signal=` or digit.
    #[error("DTMF body has no valid signal")]
    NoSignal,
}

/// Digits for events 0..=15 (RFC 4733 §3.2).
const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The DTMF digit of event code `event`, if it is one.
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(usize::from(event)).copied()
}

/// The event code of a DTMF digit (`a`-`d` accepted as `A`-`D`).
pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase();
    DIGITS
        .iter()
        .position(|&c| c == d)
        .and_then(|p| u8::try_from(p).ok())
}

/// One RFC 4733 telephone-event payload (the first event of the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-15: DTMF digits).
    pub event: u8,
    /// End bit: the event has ended.
    pub end: bool,
    /// Volume: power level in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a telephone-event payload.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let Some(&[event, flags, d1, d2]) = payload.get(..4) else {
            return Err(DtmfError::Short(payload.len()));
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d1, d2]),
        })
    }

    /// The 4-byte payload.
    pub fn build(&self) -> [u8; 4] {
        let [d1, d2] = self.duration.to_be_bytes();
        [
            self.event,
            (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3f),
            d1,
            d2,
        ]
    }

    /// The DTMF digit, if the event is one.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// A digit detected from telephone-event packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The digit (`0-9*#A-D`).
    pub digit: char,
    /// Its duration in milliseconds.
    pub duration_ms: u32,
}

fn samples_to_ms(duration: u16) -> u32 {
    u32::from(duration) * 1000 / EVENT_CLOCK_HZ
}

/// Reports each received event once. An event is identified by its RTP timestamp (all packets
/// of one event share it); it is reported at its first end packet (later end retransmissions
/// are ignored), or, when all end packets were lost, as soon as a packet of a new event starts.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    /// Timestamp of the event in progress or last seen, whether it was reported, its digit and
    /// latest duration.
    current: Option<(u32, bool, DetectedDigit)>,
}

impl DtmfDetector {
    /// A detector with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet (its RTP timestamp and parsed payload). Returns the
    /// digit to report, at most once per event; events that are not digits are ignored.
    pub fn on_packet(&mut self, timestamp: u32, ev: &TelephoneEvent) -> Option<DetectedDigit> {
        let mut out = None;
        let same = matches!(self.current, Some((ts, _, _)) if ts == timestamp);
        if !same {
            // A new event: report the previous one if its end never arrived.
            if let Some((_, false, prev)) = self.current.take() {
                out = Some(prev);
            }
        }
        let Some(digit) = ev.digit() else {
            self.current = None;
            return out;
        };
        let detected = DetectedDigit {
            digit,
            duration_ms: samples_to_ms(ev.duration),
        };
        let reported = match self.current {
            Some((ts, reported, _)) if ts == timestamp => reported,
            _ => false,
        };
        if ev.end && !reported {
            self.current = Some((timestamp, true, detected));
            // Both the unreported previous event and this one: the previous wins this call and
            // this one is reported at its next end retransmission.
            if out.is_some() {
                self.current = Some((timestamp, false, detected));
            } else {
                out = Some(detected);
            }
        } else {
            self.current = Some((timestamp, reported, detected));
        }
        out
    }
}

/// One packet of a generated event: its payload and whether it carries the marker bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainPacket {
    /// Telephone-event payload.
    pub payload: [u8; 4],
    /// Marker bit (first packet of the event).
    pub marker: bool,
}

/// The packets of one generated DTMF event, one per packet interval: updates with a growing
/// duration, then the end packet [`END_REPEATS`] times. All share one RTP timestamp.
#[derive(Debug, Clone)]
pub struct EventTrain {
    event: u8,
    step: u32,
    total: u32,
    elapsed: u32,
    ends_sent: u32,
}

impl EventTrain {
    /// The train for `digit` lasting `duration_ms` (clamped to 40..=8000 ms), one packet each
    /// `ptime_ms` (at least 10). `None` when `digit` is not a DTMF digit.
    pub fn new(digit: char, duration_ms: u32, ptime_ms: u16) -> Option<Self> {
        let event = digit_to_event(digit)?;
        let step = u32::from(ptime_ms.max(10)) * EVENT_CLOCK_HZ / 1000;
        let total = duration_ms.clamp(40, MAX_DURATION_MS) * EVENT_CLOCK_HZ / 1000;
        Some(Self {
            event,
            step,
            total,
            elapsed: 0,
            ends_sent: 0,
        })
    }

    /// The next packet, or `None` when the train is over.
    pub fn next_packet(&mut self) -> Option<TrainPacket> {
        let first = self.elapsed == 0;
        let end = self.elapsed.saturating_add(self.step) >= self.total;
        if end {
            if self.ends_sent >= END_REPEATS {
                return None;
            }
            self.ends_sent += 1;
            self.elapsed = self.total;
        } else {
            self.elapsed += self.step;
        }
        let ev = TelephoneEvent {
            event: self.event,
            end,
            volume: DEFAULT_VOLUME,
            duration: u16::try_from(self.elapsed).unwrap_or(u16::MAX),
        };
        Some(TrainPacket {
            payload: ev.build(),
            marker: first,
        })
    }
}

/// Digit of a `Signal=` value or an `application/dtmf` body: a digit character, or the
/// numeric event codes 10-15 some devices send for `*#A-D`.
fn signal_digit(value: &str) -> Option<char> {
    let v = value.trim();
    if let Ok(n) = v.parse::<u8>() {
        return event_to_digit(n);
    }
    let mut chars = v.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    digit_to_event(c).and_then(event_to_digit)
}

/// Parses an `application/dtmf-relay` body (`Signal=5\r\nDuration=160\r\n`): the digit and
/// the duration in ms (default [`DEFAULT_DURATION_MS`], capped at [`MAX_DURATION_MS`]).
pub fn parse_dtmf_relay(body: &str) -> Result<DetectedDigit, DtmfError> {
    let mut digit = None;
    let mut duration_ms = DEFAULT_DURATION_MS;
    // Bounded: at most 32 lines are looked at.
    for line in body.lines().take(32) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("signal") {
            digit = signal_digit(value);
        } else if key.eq_ignore_ascii_case("duration")
            && let Ok(d) = value.trim().parse::<u32>()
        {
            duration_ms = d.min(MAX_DURATION_MS);
        }
    }
    digit
        .map(|digit| DetectedDigit { digit, duration_ms })
        .ok_or(DtmfError::NoSignal)
}

/// Builds an `application/dtmf-relay` body.
pub fn build_dtmf_relay(digit: char, duration_ms: u32) -> String {
    format!("Signal={digit}\r\nDuration={duration_ms}\r\n")
}

/// Parses an `application/dtmf` body (just the digit).
pub fn parse_dtmf(body: &str) -> Result<char, DtmfError> {
    signal_digit(body).ok_or(DtmfError::NoSignal)
}

/// Builds an `application/dtmf` body.
pub fn build_dtmf(digit: char) -> String {
    digit.to_string()
}

#[cfg(test)]
#[path = "dtmf_tests.rs"]
mod dtmf_tests;
