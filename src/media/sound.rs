//! Sound files for playback: 8 kHz mono WAV (16-bit PCM, A-law or µ-law) or raw `.ulaw`,
//! `.alaw`, `.sln`/`.pcm` bytes, held as G.711 and cut into 20 ms frames (sans-IO: the bytes
//! are read elsewhere, see [`super::load_sound`]).

use thiserror::Error;

use super::g711::{self, Law};

/// Samples per second of every sound.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples (G.711 bytes) in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// Largest sound accepted, in bytes of input (about 65 minutes of G.711).
pub const MAX_SOUND_BYTES: usize = 64 * 1024 * 1024;

/// Why bytes are not a playable sound.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SoundError {
    /// Not a RIFF/WAVE file, or a chunk runs past the end.
    #[error("not a valid WAV file: {0}")]
    BadWav(&'static str),
    /// A WAV format we cannot play.
    #[error("unsupported WAV format: {0}")]
    Unsupported(String),
    /// The file extension names no known format.
    #[error("unknown sound file type {0:?}")]
    UnknownType(String),
    /// Larger than [`MAX_SOUND_BYTES`].
    #[error("sound file is too large ({0} bytes)")]
    TooLarge(usize),
    /// No samples at all.
    #[error("sound has no samples")]
    Empty,
}

/// Raw (header-less) sample formats, named by their Asterisk file extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    /// `.ulaw`, `.ul`, `.mu`: µ-law bytes.
    Ulaw,
    /// `.alaw`, `.al`: A-law bytes.
    Alaw,
    /// `.sln`, `.raw`, `.pcm`: signed 16-bit little-endian linear at 8 kHz.
    Slin,
}

impl RawFormat {
    /// The format of a file extension (without the dot, any case), if known.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "ulaw" | "ul" | "mu" | "pcmu" => Some(Self::Ulaw),
            "alaw" | "al" | "pcma" => Some(Self::Alaw),
            "sln" | "slin" | "raw" | "pcm" => Some(Self::Slin),
            _ => None,
        }
    }
}

/// A sound ready for playback: G.711 samples in one law, 8 kHz mono.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    law: Law,
    samples: Vec<u8>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_le_bytes([x, y])),
        _ => None,
    }
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => Some(u32::from_le_bytes([w, x, y, z])),
        _ => None,
    }
}

/// WAV format tags we play.
const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_ALAW: u16 = 6;
const WAVE_FORMAT_MULAW: u16 = 7;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// Most chunks looked at before giving up (bounds the chunk walk).
const MAX_CHUNKS: usize = 64;

fn slin_to(law: Law, bytes: &[u8]) -> Vec<u8> {
    bytes
        .chunks_exact(2)
        .map(|p| match *p {
            [lo, hi] => law.encode(i16::from_le_bytes([lo, hi])),
            _ => law.silence(),
        })
        .collect()
}

impl Sound {
    /// A sound from G.711 samples.
    pub fn from_g711(law: Law, samples: Vec<u8>) -> Result<Self, SoundError> {
        if samples.is_empty() {
            return Err(SoundError::Empty);
        }
        Ok(Self { law, samples })
    }

    /// Parses raw bytes of `format`. Linear input is encoded to µ-law.
    pub fn from_raw(format: RawFormat, bytes: &[u8]) -> Result<Self, SoundError> {
        if bytes.len() > MAX_SOUND_BYTES {
            return Err(SoundError::TooLarge(bytes.len()));
        }
        match format {
            RawFormat::Ulaw => Self::from_g711(Law::Ulaw, bytes.to_vec()),
            RawFormat::Alaw => Self::from_g711(Law::Alaw, bytes.to_vec()),
            RawFormat::Slin => Self::from_g711(Law::Ulaw, slin_to(Law::Ulaw, bytes)),
        }
    }

    /// Parses a WAV file: 8 kHz mono, 16-bit PCM (encoded to µ-law), A-law or µ-law.
    /// Tolerates extra chunks, odd chunk padding and a `data` size larger than the file
    /// (streaming writers put 0 or `0xFFFFFFFF` there).
    pub fn from_wav(bytes: &[u8]) -> Result<Self, SoundError> {
        if bytes.len() > MAX_SOUND_BYTES {
            return Err(SoundError::TooLarge(bytes.len()));
        }
        if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
            return Err(SoundError::BadWav("no RIFF/WAVE header"));
        }
        let mut at = 12usize;
        let mut format: Option<(u16, u16, u32, u16)> = None;
        for _ in 0..MAX_CHUNKS {
            let (Some(id), Some(size)) = (bytes.get(at..at + 4), le32(bytes, at + 4)) else {
                break;
            };
            let body_start = at + 8;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let body_end = body_start.saturating_add(size);
            if id == b"fmt " {
                let body = bytes
                    .get(body_start..body_end)
                    .ok_or(SoundError::BadWav("fmt chunk truncated"))?;
                let mut tag = le16(body, 0).ok_or(SoundError::BadWav("fmt chunk too short"))?;
                let channels = le16(body, 2).ok_or(SoundError::BadWav("fmt chunk too short"))?;
                let rate = le32(body, 4).ok_or(SoundError::BadWav("fmt chunk too short"))?;
                let bits = le16(body, 14).ok_or(SoundError::BadWav("fmt chunk too short"))?;
                if tag == WAVE_FORMAT_EXTENSIBLE {
                    // The sub-format GUID starts with the real format tag.
                    tag = le16(body, 24).ok_or(SoundError::BadWav("extensible fmt too short"))?;
                }
                format = Some((tag, channels, rate, bits));
            } else if id == b"data" {
                let (tag, channels, rate, bits) =
                    format.ok_or(SoundError::BadWav("data chunk before fmt chunk"))?;
                if channels != 1 {
                    return Err(SoundError::Unsupported(format!("{channels} channels")));
                }
                if rate != SAMPLE_RATE {
                    return Err(SoundError::Unsupported(format!("{rate} Hz")));
                }
                let data = bytes
                    .get(body_start..body_end.min(bytes.len()))
                    .unwrap_or(&[]);
                return match (tag, bits) {
                    (WAVE_FORMAT_PCM, 16) => Self::from_g711(Law::Ulaw, slin_to(Law::Ulaw, data)),
                    (WAVE_FORMAT_ALAW, 8) => Self::from_g711(Law::Alaw, data.to_vec()),
                    (WAVE_FORMAT_MULAW, 8) => Self::from_g711(Law::Ulaw, data.to_vec()),
                    _ => Err(SoundError::Unsupported(format!(
                        "format {tag} with {bits} bits per sample"
                    ))),
                };
            }
            // Chunks are padded to an even size.
            at = body_end.saturating_add(size & 1);
        }
        Err(SoundError::BadWav("no data chunk"))
    }

    /// Parses a file's bytes by its extension: `wav`, or a [`RawFormat`] extension.
    pub fn from_file_bytes(extension: &str, bytes: &[u8]) -> Result<Self, SoundError> {
        if extension.eq_ignore_ascii_case("wav") {
            return Self::from_wav(bytes);
        }
        let format = RawFormat::from_extension(extension)
            .ok_or_else(|| SoundError::UnknownType(extension.to_string()))?;
        Self::from_raw(format, bytes)
    }

    /// The law the samples are stored in.
    pub fn law(&self) -> Law {
        self.law
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples (never true for a parsed sound).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Number of 20 ms frames (the last one may be partial).
    pub fn frame_count(&self) -> usize {
        self.samples.len().div_ceil(FRAME_SAMPLES)
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }

    /// Writes frame `index` in law `law` into `out`, padding a partial last frame with
    /// silence. Returns `false` past the end.
    pub fn frame(&self, index: usize, law: Law, out: &mut [u8; FRAME_SAMPLES]) -> bool {
        let start = index.saturating_mul(FRAME_SAMPLES);
        let Some(src) = self.samples.get(start..) else {
            return false;
        };
        if src.is_empty() {
            return false;
        }
        let n = src.len().min(FRAME_SAMPLES);
        let (head, tail) = out.split_at_mut(n);
        head.copy_from_slice(src.get(..n).unwrap_or(&[]));
        tail.fill(self.law.silence());
        g711::transcode_in_place(out, self.law, law);
        true
    }
}

#[cfg(test)]
#[path = "sound_tests.rs"]
mod sound_tests;
