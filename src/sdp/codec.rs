//! Codecs: Asterisk format names (`allow=ulaw,alaw`) mapped to RTP encodings (RFC 3551
//! static payload types, dynamic ones with Asterisk's usual numbers). Streams are matched
//! by encoding name (case-insensitive) and clock rate, never by a dynamic payload number.

use crate::config::options::Codecs;

/// Media type of a codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `m=audio`.
    Audio,
    /// `m=video`.
    Video,
    /// `m=text`.
    Text,
}

impl MediaKind {
    /// The `m=` media type.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Text => "text",
        }
    }
}

/// A codec pjsipd can put in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    /// Asterisk format name (`ulaw`).
    pub name: &'static str,
    /// Media type.
    pub kind: MediaKind,
    /// RTP encoding name (`PCMU`).
    pub encoding: &'static str,
    /// RTP clock rate.
    pub clock: u32,
    /// Channels written in rtpmap (only when more than 1).
    pub channels: u16,
    /// RFC 3551 static payload type.
    pub static_pt: Option<u8>,
    /// Dynamic payload type we use when offering, if free (Asterisk's usual number).
    pub default_pt: Option<u8>,
    /// `a=fmtp` parameters we offer.
    pub fmtp: Option<&'static str>,
    /// Default packetisation, ms (0 for video and text).
    pub framing: u16,
    /// Largest packetisation, ms (for `a=maxptime`; 0 for video and text).
    pub max_ms: u16,
}

/// An audio codec.
const fn audio(
    name: &'static str,
    encoding: &'static str,
    clock: u32,
    static_pt: Option<u8>,
    default_pt: Option<u8>,
    framing: u16,
    max_ms: u16,
) -> Codec {
    Codec {
        name,
        kind: MediaKind::Audio,
        encoding,
        clock,
        channels: 1,
        static_pt,
        default_pt,
        fmtp: None,
        framing,
        max_ms,
    }
}

/// A video or text codec: no packetisation.
const fn other(
    name: &'static str,
    kind: MediaKind,
    encoding: &'static str,
    clock: u32,
    static_pt: Option<u8>,
    default_pt: Option<u8>,
) -> Codec {
    Codec {
        kind,
        ..audio(name, encoding, clock, static_pt, default_pt, 0, 0)
    }
}

const fn with_fmtp(mut codec: Codec, fmtp: &'static str) -> Codec {
    codec.fmtp = Some(fmtp);
    codec
}

const V: MediaKind = MediaKind::Video;
const T: MediaKind = MediaKind::Text;

/// Every codec known, by Asterisk name.
pub static CODECS: &[Codec] = &[
    audio("ulaw", "PCMU", 8000, Some(0), None, 20, 150),
    audio("gsm", "GSM", 8000, Some(3), None, 20, 300),
    audio("g723", "G723", 8000, Some(4), None, 30, 300),
    audio("adpcm", "DVI4", 8000, Some(5), None, 20, 300),
    audio("lpc10", "LPC", 8000, Some(7), None, 20, 20),
    audio("alaw", "PCMA", 8000, Some(8), None, 20, 150),
    // RFC 3551 keeps 8000 in G722's rtpmap although it samples at 16 kHz.
    audio("g722", "G722", 8000, Some(9), None, 20, 150),
    with_fmtp(
        audio("g729", "G729", 8000, Some(18), None, 20, 200),
        "annexb=no",
    ),
    with_fmtp(
        audio("ilbc", "iLBC", 8000, None, Some(97), 30, 300),
        "mode=30",
    ),
    Codec {
        channels: 2,
        ..audio("opus", "opus", 48000, None, Some(107), 20, 120)
    },
    audio("speex", "speex", 8000, None, Some(110), 20, 300),
    audio("speex16", "speex", 16000, None, Some(117), 20, 300),
    audio("speex32", "speex", 32000, None, Some(119), 20, 300),
    audio("g726", "G726-32", 8000, None, Some(111), 20, 300),
    audio("g726aal2", "AAL2-G726-32", 8000, None, Some(112), 20, 300),
    with_fmtp(
        audio("siren7", "G7221", 16000, None, Some(102), 20, 80),
        "bitrate=32000",
    ),
    with_fmtp(
        audio("siren14", "G7221", 32000, None, Some(115), 20, 80),
        "bitrate=48000",
    ),
    audio("g719", "G719", 48000, None, Some(116), 20, 80),
    audio("slin", "L16", 8000, None, None, 20, 70),
    audio("slin12", "L16", 12000, None, None, 20, 70),
    audio("slin16", "L16", 16000, None, Some(118), 20, 70),
    audio("slin24", "L16", 24000, None, None, 20, 70),
    audio("slin32", "L16", 32000, None, None, 20, 70),
    audio("slin44", "L16", 44100, None, None, 20, 70),
    audio("slin48", "L16", 48000, None, None, 20, 70),
    audio("slin96", "L16", 96000, None, None, 20, 70),
    audio("slin192", "L16", 192000, None, None, 20, 70),
    audio("codec2", "CODEC2", 8000, None, None, 20, 300),
    audio("silk8", "SILK", 8000, None, None, 20, 100),
    audio("silk12", "SILK", 12000, None, None, 20, 100),
    audio("silk16", "SILK", 16000, None, None, 20, 100),
    audio("silk24", "SILK", 24000, None, None, 20, 100),
    other("jpeg", V, "JPEG", 90000, Some(26), None),
    other("h261", V, "H261", 90000, Some(31), None),
    other("h263", V, "H263", 90000, Some(34), None),
    other("h263p", V, "H263-1998", 90000, None, Some(98)),
    other("h264", V, "H264", 90000, None, Some(99)),
    other("mpeg4", V, "MP4V-ES", 90000, None, Some(104)),
    other("h265", V, "H265", 90000, None, None),
    other("vp8", V, "VP8", 90000, None, Some(108)),
    other("vp9", V, "VP9", 90000, None, None),
    other("t140red", T, "red", 1000, None, Some(105)),
    other("t140", T, "t140", 1000, None, Some(106)),
];

/// The RFC 4733 telephone-event encoding name.
pub const TELEPHONE_EVENT: &str = "telephone-event";
/// Payload type we offer telephone-event with.
pub const TELEPHONE_EVENT_PT: u8 = 101;
/// Events we offer and answer when the offer has no fmtp (DTMF 0-9, *, #, A-D, flash).
pub const TELEPHONE_EVENT_FMTP: &str = "0-16";

/// The codec of an Asterisk format name.
pub fn by_name(name: &str) -> Option<Codec> {
    CODECS
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .copied()
}

/// The codec of an RTP encoding and clock rate.
pub fn by_encoding(encoding: &str, clock: u32) -> Option<Codec> {
    CODECS
        .iter()
        .find(|c| c.clock == clock && c.encoding.eq_ignore_ascii_case(encoding))
        .copied()
}

/// What one payload type carries: encoding name, clock rate, channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// Encoding name as written.
    pub name: String,
    /// Clock rate.
    pub clock: u32,
    /// Channels, when given.
    pub channels: Option<u16>,
}

impl Encoding {
    /// Whether both name the same encoding (name case-insensitive, same clock).
    pub fn same(&self, other: &Encoding) -> bool {
        self.clock == other.clock && self.name.eq_ignore_ascii_case(&other.name)
    }

    /// The known codec for this encoding.
    pub fn codec(&self) -> Option<Codec> {
        by_encoding(&self.name, self.clock)
    }

    /// Whether this is RFC 4733 telephone-event.
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case(TELEPHONE_EVENT)
    }
}

/// The RFC 3551 static assignment of a payload type (no rtpmap needed).
pub fn static_encoding(pt: u8) -> Option<Encoding> {
    let c = CODECS.iter().find(|c| c.static_pt == Some(pt))?;
    Some(Encoding {
        name: c.encoding.into(),
        clock: c.clock,
        channels: None,
    })
}

/// Clock rate for an rtpmap written without one (`a=rtpmap:31 LPC`, RFC 4475): the first
/// known codec of that encoding name, else the static assignment of the payload type.
pub(crate) fn default_clock(pt: u8, encoding: &str) -> Option<u32> {
    CODECS
        .iter()
        .find(|c| c.encoding.eq_ignore_ascii_case(encoding))
        .or_else(|| CODECS.iter().find(|c| c.static_pt == Some(pt)))
        .map(|c| c.clock)
}

/// A codec of a local preference list, with the endpoint's framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedCodec {
    /// The codec.
    pub codec: Codec,
    /// Framing from `allow=ulaw:30`, ms.
    pub framing: Option<u16>,
    /// Payload type to offer it with when free (e.g. the caller's number for a B2BUA
    /// outgoing leg); `None` = the codec's usual number.
    pub pt: Option<u8>,
}

impl AllowedCodec {
    /// A codec with default framing and payload type.
    pub fn new(codec: Codec) -> Self {
        AllowedCodec {
            codec,
            framing: None,
            pt: None,
        }
    }

    /// Packetisation to use, ms.
    pub fn ptime(&self) -> u16 {
        self.framing.unwrap_or(self.codec.framing)
    }
}

/// An endpoint's `allow` list as codecs, in preference order. Names without an RTP mapping
/// (`testlaw`, `png`, ...) are skipped.
pub fn allowed(prefs: &Codecs) -> Vec<AllowedCodec> {
    let mut out: Vec<AllowedCodec> = Vec::with_capacity(prefs.0.len());
    for pref in &prefs.0 {
        match by_name(&pref.name) {
            Some(codec) if !out.iter().any(|a| a.codec == codec) => out.push(AllowedCodec {
                codec,
                framing: pref.framing,
                pt: None,
            }),
            Some(_) => {}
            None => tracing::debug!(codec = %pref.name, "codec has no RTP mapping, skipped"),
        }
    }
    out
}

/// [`allowed`] for a list of names, for tests and defaults (`&["ulaw", "alaw"]`).
pub fn allowed_names(names: &[&str]) -> Vec<AllowedCodec> {
    names
        .iter()
        .filter_map(|n| by_name(n))
        .map(AllowedCodec::new)
        .collect()
}
