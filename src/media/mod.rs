//! Media: the RTP/RTCP relay, symmetric latching, G.711 transcoding, RFC 4733 DTMF and
//! sound playback.
//!
//! The daemon anchors media: every call leg gets its own local RTP/RTCP socket pair, and the
//! engine relays RTP between the two legs of a bridged call.
//!
//! # API (what the SIP side calls)
//!
//! ```text
//! let engine: Arc<MediaEngine> = MediaEngine::start(MediaConfig { port_start, port_end, threads }, sink)?;
//! let media: Arc<dyn MediaControl> = engine;          // the SIP side holds a trait object
//! let local = media.open(&OpenLeg { queue, local_ip, label })?;   // binds RTP+RTCP now
//! media.configure(local.leg, LegConfig { remote_rtp, remote_rtcp, symmetric, payload_type,
//!                                        encoding, dtmf_payload_type, send, receive, ptime_ms });
//! media.bridge(a, b);  media.unbridge(a);  media.echo(a);
//! media.play(a, Arc::new(load_sound(path)?));  media.stop_play(a);
//! media.send_dtmf(a, '5', 100);
//! media.stats(a);  media.open_legs();  media.close(a);
//! ```
//!
//! - Events ([`MediaEvent`]) go to the sink given to [`MediaEngine::start`], called from a relay
//!   thread with the leg's `queue`: it must not block (push onto a channel).
//! - Every call returns at once (commands are queued to the leg's relay thread), except
//!   [`MediaControl::open`] (binds the sockets) and [`MediaControl::stats`] (asks the relay
//!   thread, waits at most one second).
//! - [`MediaControl::close`] removes the leg from [`MediaControl::open_legs`] before returning;
//!   the sockets are closed and the ports released by the relay thread right after.
//! - Unknown or closed legs are ignored by every command.
//! - `remote_rtcp: None` sends no RTCP: pass the RTP port + 1 when the SDP has no `a=rtcp`.
//! - DTMF received as RFC 4733 on a leg is relayed in-band when the leg is bridged to a leg
//!   with a telephone-event payload type; otherwise (peer without one, echo, playback, idle)
//!   it is reported once per digit as [`MediaEvent::Dtmf`] naming the leg it came from.
//!
//! # Modules
//!
//! Sans-IO: [`rtp`] (header views, rewriting, RTCP check), [`latch`] (symmetric latching),
//! [`g711`], [`dtmf`], [`sound`], [`stats`], [`ports`]. I/O: `engine` (relay threads).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;

mod batch;
pub mod dtmf;
mod engine;
pub mod g711;
pub mod kernel;
pub mod latch;
pub mod ports;
pub mod rtp;
pub mod sound;
pub mod stats;

pub use engine::{EventSink, MediaConfig, MediaEngine};
pub use sound::Sound;

/// Identifies one leg (one local RTP/RTCP socket pair) for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

/// What [`MediaControl::open`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLeg {
    /// Serialized queue of the owning call: events of this leg are delivered with it.
    pub queue: usize,
    /// Local address to bind the sockets to.
    pub local_ip: IpAddr,
    /// Channel name, for logs.
    pub label: String,
}

/// The local sockets of an opened leg, to put in our SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    /// The new leg.
    pub leg: LegId,
    /// Local RTP address (even port).
    pub rtp: SocketAddr,
    /// Local RTCP address (RTP port + 1).
    pub rtcp: SocketAddr,
}

/// The negotiated audio codec of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Anything else, by its SDP encoding name (relayed only to a leg with the same one).
    Other(String),
}

impl Encoding {
    /// The G.711 law, for PCMU/PCMA.
    pub fn law(&self) -> Option<g711::Law> {
        match self {
            Encoding::Pcmu => Some(g711::Law::Ulaw),
            Encoding::Pcma => Some(g711::Law::Alaw),
            Encoding::Other(_) => None,
        }
    }
}

/// What the SDP negotiation decided for a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// Remote RTP address from the SDP (`None` or port 0: nowhere to send).
    pub remote_rtp: Option<SocketAddr>,
    /// Remote RTCP address (`None` or port 0: no RTCP is sent).
    pub remote_rtcp: Option<SocketAddr>,
    /// `rtp_symmetric`: latch to where packets come from (see [`latch`]).
    pub symmetric: bool,
    /// RTP payload type of the audio codec.
    pub payload_type: u8,
    /// The audio codec.
    pub encoding: Encoding,
    /// RFC 4733 telephone-event payload type, if the leg negotiated it.
    pub dtmf_payload_type: Option<u8>,
    /// Whether we may send to the remote (false while it holds us: sendonly/inactive).
    pub send: bool,
    /// Whether we relay what the remote sends.
    pub receive: bool,
    /// Packet interval in milliseconds (generated packets; 20 when 0).
    pub ptime_ms: u16,
}

impl Default for LegConfig {
    fn default() -> Self {
        Self {
            remote_rtp: None,
            remote_rtcp: None,
            symmetric: false,
            payload_type: 0,
            encoding: Encoding::Pcmu,
            dtmf_payload_type: None,
            send: true,
            receive: true,
            ptime_ms: 20,
        }
    }
}

/// Counters and addresses of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegStats {
    /// RTP packets accepted.
    pub rx_packets: u64,
    /// RTP packets sent.
    pub tx_packets: u64,
    /// RTP bytes accepted.
    pub rx_bytes: u64,
    /// RTP bytes sent.
    pub tx_bytes: u64,
    /// Incoming RTP packets lost (sequence gaps).
    pub rx_lost: u64,
    /// Packets from unexpected sources, dropped.
    pub unexpected: u64,
    /// Accepted packets not relayed (malformed, codec mismatch, unknown payload type, hold).
    pub dropped: u64,
    /// Failed sends.
    pub send_errors: u64,
    /// RTCP packets accepted.
    pub rtcp_rx_packets: u64,
    /// RTCP packets sent.
    pub rtcp_tx_packets: u64,
    /// Latched RTP source (symmetric only).
    pub latched: Option<SocketAddr>,
    /// Latched RTCP source (symmetric only).
    pub latched_rtcp: Option<SocketAddr>,
    /// When the last RTP packet was accepted.
    pub last_rx: Option<Instant>,
    /// Local RTP address.
    pub local_rtp: SocketAddr,
    /// Where RTP is sent now (latched or SDP address).
    pub remote: Option<SocketAddr>,
    /// The bridged peer, if any.
    pub bridged_to: Option<LegId>,
    /// The kernel forwards this leg's RTP now (`[media] kernel_forwarding`).
    pub kernel: bool,
}

/// Something the SIP side must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF digit received as RFC 4733 on `leg` and not relayed in-band (send it as INFO on
    /// the other leg, or feed it to the application). Once per digit.
    Dtmf {
        /// Leg the digit was received on.
        leg: LegId,
        /// `0-9*#A-D`.
        digit: char,
        /// Duration in milliseconds.
        duration_ms: u32,
    },
    /// A playback started with [`MediaControl::play`] has sent its last frame (not sent after
    /// [`MediaControl::stop_play`], a new `play`, or `close`).
    PlaybackDone {
        /// The leg.
        leg: LegId,
    },
}

/// Why the media engine refused.
#[derive(Debug, Error)]
pub enum MediaError {
    /// The configured port range is unusable.
    #[error(transparent)]
    PortRange(#[from] ports::PortRangeError),
    /// Every port pair of the range is in use or failed to bind.
    #[error("no free RTP port pair in the configured range")]
    NoPorts,
    /// Creating the poller or a relay thread failed.
    #[error("media engine: {0}")]
    Io(#[from] std::io::Error),
    /// The engine has stopped.
    #[error("media engine stopped")]
    Stopped,
}

/// The media operations the SIP side uses (held as `Arc<dyn MediaControl>`).
pub trait MediaControl: Send + Sync {
    /// Takes an RTP/RTCP port pair now (the RTP socket bound; the RTCP one when RTP first
    /// passes through the leg).
    fn open(&self, req: &OpenLeg) -> Result<LocalMedia, MediaError>;
    /// Sets or changes what the SDP negotiated.
    fn configure(&self, leg: LegId, config: LegConfig);
    /// Relays both ways between `a` and `b` (each leaves any previous bridge, echo stops):
    /// payload type rewritten to the other leg's, µ-law↔A-law transcoded, other codec
    /// mismatches dropped and counted; telephone-events relayed when both legs have a DTMF
    /// payload type, else reported as [`MediaEvent::Dtmf`]; RTCP relayed to the peer's RTCP.
    fn bridge(&self, a: LegId, b: LegId);
    /// Ends the bridge of `leg` (both sides become idle), or its echo.
    fn unbridge(&self, leg: LegId);
    /// Sends back what the leg sends (leaves any bridge).
    fn echo(&self, leg: LegId);
    /// Plays `sound` on the leg in its codec, 20 ms frames paced at 20 ms, then emits
    /// [`MediaEvent::PlaybackDone`]. Replaces a running playback (without its event).
    fn play(&self, leg: LegId, sound: Arc<Sound>);
    /// Stops a playback (no event).
    fn stop_play(&self, leg: LegId);
    /// Sends a digit as RFC 4733 packets on the leg (ignored when it has no DTMF payload type).
    fn send_dtmf(&self, leg: LegId, digit: char, duration_ms: u32);
    /// Closes the leg: gone from [`Self::open_legs`] at once, sockets closed and ports freed
    /// right after.
    fn close(&self, leg: LegId);
    /// Counters of the leg, `None` when unknown.
    fn stats(&self, leg: LegId) -> Option<LegStats>;
    /// Legs opened and not closed.
    fn open_legs(&self) -> usize;
    /// Legs whose packets the kernel forwards now (`[media] kernel_forwarding`).
    fn kernel_legs(&self) -> usize {
        0
    }
    /// The daemon is stopping: hands nothing more to the kernel and removes what it
    /// forwards there (the relay threads go on until the process ends).
    fn stop_kernel_forwarding(&self) {}
}

/// Why a sound file cannot be loaded.
#[derive(Debug, Error)]
pub enum LoadSoundError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The bytes are not a playable sound.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The error.
        source: sound::SoundError,
    },
}

/// Reads and parses a sound file, its type given by its extension (`.wav`, `.ulaw`, `.alaw`,
/// `.sln`, `.pcm`...). Blocking file I/O: call it from a blocking context.
pub fn load_sound(path: &Path) -> Result<Sound, LoadSoundError> {
    let name = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let size = std::fs::metadata(path)
        .map_err(|source| LoadSoundError::Read {
            path: name.clone(),
            source,
        })?
        .len();
    if size > sound::MAX_SOUND_BYTES as u64 {
        return Err(LoadSoundError::Parse {
            path: name,
            source: sound::SoundError::TooLarge(usize::try_from(size).unwrap_or(usize::MAX)),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| LoadSoundError::Read {
        path: name.clone(),
        source,
    })?;
    Sound::from_file_bytes(ext, &bytes)
        .map_err(|source| LoadSoundError::Parse { path: name, source })
}

#[cfg(test)]
mod engine_tests;
