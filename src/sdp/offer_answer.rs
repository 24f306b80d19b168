//! The RFC 3264 offer/answer model as pure functions: answering an offer
//! ([`Answerer`]), making an offer ([`Offerer`]), reading the answer to our offer
//! ([`negotiate`]) and choosing the codecs of a B2BUA's outgoing leg ([`outgoing_codecs`]).
//!
//! pjsipd anchors media and does not transcode here: one audio stream is accepted per
//! session; every other stream (video, image, a second audio stream) is rejected with port 0.

use std::net::SocketAddr;

use super::codec::{
    self, AllowedCodec, Codec, Encoding, MediaKind, TELEPHONE_EVENT, TELEPHONE_EVENT_FMTP,
    TELEPHONE_EVENT_PT,
};
use super::error::OfferAnswerError;
use super::model::{Attribute, Direction, Media, Sdp};
use crate::config::types::{DtmfMode, Endpoint, IncomingCallOfferPref, OutgoingCallOfferPref};

/// RTP profiles we answer (no SRTP here: `RTP/SAVP` offers are not acceptable).
const RTP_PROFILES: [&str; 2] = ["RTP/AVP", "RTP/AVPF"];

/// A codec bound to a payload type on one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadCodec {
    /// Payload type.
    pub pt: u8,
    /// The codec.
    pub codec: Codec,
    /// `a=fmtp` parameters for it on this stream.
    pub fmtp: Option<String>,
}

/// RFC 4733 telephone-event on one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Payload type (the offerer's, in an answer).
    pub pt: u8,
    /// Clock rate.
    pub clock: u32,
    /// Events (`0-16`).
    pub fmtp: String,
}

/// What was agreed for one accepted stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the media section.
    pub media_index: usize,
    /// Where to send RTP (`None` on hold with `c=0.0.0.0` or an FQDN).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP.
    pub remote_rtcp: Option<SocketAddr>,
    /// The codec to send with: the first in common, with the payload type the remote
    /// side declared.
    pub codec: PayloadCodec,
    /// Every codec in common, in the answer's order.
    pub codecs: Vec<PayloadCodec>,
    /// telephone-event, with the remote side's payload type, when both do it.
    pub telephone_event: Option<TelephoneEvent>,
    /// Packetisation to send with, ms.
    pub ptime: u16,
    /// Direction from our side: do we send, do we receive.
    pub direction: Direction,
}

impl Negotiated {
    /// Whether we send media.
    pub fn sends(&self) -> bool {
        self.direction.sends()
    }

    /// Whether we receive media.
    pub fn receives(&self) -> bool {
        self.direction.receives()
    }
}

/// Our answer and what it agrees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The answer body; stamp it with [`super::Origin::stamp`] before sending.
    pub sdp: Sdp,
    /// The accepted streams (one audio stream).
    pub streams: Vec<Negotiated>,
}

/// Whether a DTMF mode uses RFC 4733 telephone-event in SDP.
pub fn uses_telephone_event(mode: DtmfMode) -> bool {
    matches!(
        mode,
        DtmfMode::Rfc4733 | DtmfMode::Auto | DtmfMode::AutoInfo
    )
}

/// Answers offers for one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answerer {
    /// Our codecs in preference order (endpoint `allow`).
    pub codecs: Vec<AllowedCodec>,
    /// Whose order wins (`incoming_call_offer_pref`).
    pub pref: IncomingCallOfferPref,
    /// Whether we accept telephone-event (`dtmf_mode` rfc4733 or auto).
    pub telephone_event: bool,
    /// Packetise at the offer's ptime (`use_ptime`).
    pub use_ptime: bool,
    /// We hold the call: we do not want to receive.
    pub hold: bool,
    /// Our RTP address and port for the accepted audio stream.
    pub rtp: SocketAddr,
}

impl Answerer {
    /// Answers with these codecs from `rtp`: local order, telephone-event on, no hold.
    pub fn new(codecs: Vec<AllowedCodec>, rtp: SocketAddr) -> Self {
        Answerer {
            codecs,
            pref: IncomingCallOfferPref::Local,
            telephone_event: true,
            use_ptime: false,
            hold: false,
            rtp,
        }
    }

    /// The answerer an endpoint's options describe.
    pub fn for_endpoint(endpoint: &Endpoint, rtp: SocketAddr) -> Self {
        Answerer {
            codecs: codec::allowed(&endpoint.allow),
            pref: endpoint.incoming_call_offer_pref,
            telephone_event: uses_telephone_event(endpoint.dtmf_mode),
            use_ptime: endpoint.use_ptime,
            hold: false,
            rtp,
        }
    }

    /// Builds the answer to an offer: the first audio stream with an RTP profile and a
    /// codec in common is accepted, every other stream is rejected with port 0.
    pub fn answer(&self, offer: &Sdp) -> Result<Answer, OfferAnswerError> {
        let accepted = offer
            .media
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_audio() && !m.is_rejected() && is_rtp_profile(&m.proto))
            .find_map(|(i, m)| self.select(offer, i, m).map(|s| (i, s)));
        let Some((index, selection)) = accepted else {
            return Err(OfferAnswerError::NoCommonCodec);
        };

        let mut sdp = Sdp::local(self.rtp.ip());
        let mut streams = Vec::with_capacity(1);
        for (i, m) in offer.media.iter().enumerate() {
            if i != index {
                sdp.media.push(rejected(m));
                continue;
            }
            let mut direction = offer.effective_direction(i).reversed();
            if self.hold {
                direction = direction.intersect(Direction::SendOnly);
            }
            let codecs: Vec<PayloadCodec> = selection.iter().map(|(pc, _)| pc.clone()).collect();
            let ptime = match (self.use_ptime, offer.ptime(i)) {
                (true, Some(p)) => u16::try_from(p).unwrap_or(u16::MAX),
                _ => selection.first().map_or(20, |(_, a)| a.ptime()),
            };
            let te = self.telephone_event(m, &codecs);
            sdp.media.push(audio_media(
                &m.proto,
                self.rtp.port(),
                &codecs,
                te.as_ref(),
                ptime,
                direction,
            ));
            let Some(first) = codecs.first().cloned() else {
                return Err(OfferAnswerError::NoCommonCodec);
            };
            streams.push(Negotiated {
                media_index: i,
                remote_rtp: offer.remote_rtp(i),
                remote_rtcp: offer.remote_rtcp(i),
                codec: first,
                codecs,
                telephone_event: te,
                ptime,
                direction,
            });
        }
        Ok(Answer { sdp, streams })
    }

    /// The codecs of an offered stream we accept, in the order `pref` says, each with the
    /// local entry it matched; `None` when there is none.
    fn select(
        &self,
        offer: &Sdp,
        index: usize,
        media: &Media,
    ) -> Option<Vec<(PayloadCodec, AllowedCodec)>> {
        let offered = offered_codecs(media);
        let mut chosen: Vec<(PayloadCodec, AllowedCodec)> = match self.pref {
            IncomingCallOfferPref::Local | IncomingCallOfferPref::LocalFirst => self
                .codecs
                .iter()
                .filter_map(|a| {
                    let pc = offered.iter().find(|pc| pc.codec == a.codec)?;
                    Some((pc.clone(), *a))
                })
                .collect(),
            IncomingCallOfferPref::Remote | IncomingCallOfferPref::RemoteFirst => offered
                .iter()
                .filter_map(|pc| {
                    let a = self.codecs.iter().find(|a| a.codec == pc.codec)?;
                    Some((pc.clone(), *a))
                })
                .collect(),
        };
        if matches!(
            self.pref,
            IncomingCallOfferPref::LocalFirst | IncomingCallOfferPref::RemoteFirst
        ) {
            chosen.truncate(1);
        }
        tracing::debug!(
            index,
            offered = offered.len(),
            chosen = chosen.len(),
            session = %offer.origin.session_id,
            "codec selection"
        );
        (!chosen.is_empty()).then_some(chosen)
    }

    /// The offered telephone-event to keep: same clock as our first codec, else 8000,
    /// else the first one offered.
    fn telephone_event(&self, media: &Media, codecs: &[PayloadCodec]) -> Option<TelephoneEvent> {
        if !self.telephone_event {
            return None;
        }
        let offered: Vec<(u8, Encoding)> = media
            .payload_types()
            .filter_map(|pt| Some((pt, media.encoding(pt)?)))
            .filter(|(_, e)| e.is_telephone_event())
            .collect();
        let wanted = codecs.first().map_or(8000, |c| c.codec.clock);
        let (pt, enc) = offered
            .iter()
            .find(|(_, e)| e.clock == wanted)
            .or_else(|| offered.iter().find(|(_, e)| e.clock == 8000))
            .or_else(|| offered.first())?;
        Some(TelephoneEvent {
            pt: *pt,
            clock: enc.clock,
            fmtp: media.fmtp(*pt).unwrap_or(TELEPHONE_EVENT_FMTP).to_string(),
        })
    }
}

fn is_rtp_profile(proto: &str) -> bool {
    RTP_PROFILES.iter().any(|p| p.eq_ignore_ascii_case(proto))
}

/// The known audio codecs of a stream, in its order, first payload type of each codec.
fn offered_codecs(media: &Media) -> Vec<PayloadCodec> {
    let mut out: Vec<PayloadCodec> = Vec::new();
    for pt in media.payload_types() {
        let Some(codec) = media.encoding(pt).and_then(|e| e.codec()) else {
            continue;
        };
        if codec.kind == MediaKind::Audio && !out.iter().any(|pc| pc.codec == codec) {
            out.push(PayloadCodec {
                pt,
                codec,
                fmtp: media.fmtp(pt).map(str::to_string),
            });
        }
    }
    out
}

/// The answer to a stream we do not take: port 0, same media type, profile and formats.
fn rejected(offered: &Media) -> Media {
    Media::new(&offered.kind, 0, &offered.proto, offered.formats.clone())
}

/// An audio section of ours: formats, rtpmaps, fmtps, ptime, maxptime, direction.
fn audio_media(
    proto: &str,
    port: u16,
    codecs: &[PayloadCodec],
    te: Option<&TelephoneEvent>,
    ptime: u16,
    direction: Direction,
) -> Media {
    let mut formats: Vec<String> = codecs.iter().map(|c| decimal(u64::from(c.pt))).collect();
    if let Some(te) = te {
        formats.push(decimal(u64::from(te.pt)));
    }
    let mut media = Media::new("audio", port, proto, formats);
    let f = &mut media.fields;
    for pc in codecs {
        let c = &pc.codec;
        let mut map = String::with_capacity(24);
        crate::sip::push_decimal(&mut map, u64::from(pc.pt));
        map.push(' ');
        map.push_str(c.encoding);
        map.push('/');
        crate::sip::push_decimal(&mut map, u64::from(c.clock));
        if c.channels > 1 {
            map.push('/');
            crate::sip::push_decimal(&mut map, u64::from(c.channels));
        }
        f.push_attribute(Attribute::new("rtpmap", map));
        if let Some(fmtp) = pc.fmtp.as_deref().or(c.fmtp) {
            f.push_attribute(Attribute::new("fmtp", format!("{} {fmtp}", pc.pt)));
        }
    }
    if let Some(te) = te {
        let pt = decimal(u64::from(te.pt));
        let map = [
            pt.as_str(),
            " ",
            TELEPHONE_EVENT,
            "/",
            &decimal(u64::from(te.clock)),
        ];
        f.push_attribute(Attribute::new("rtpmap", map.concat()));
        f.push_attribute(Attribute::new(
            "fmtp",
            [pt.as_str(), " ", &te.fmtp].concat(),
        ));
    }
    f.push_attribute(Attribute::new("ptime", decimal(u64::from(ptime))));
    if let Some(max) = codecs
        .iter()
        .map(|c| c.codec.max_ms)
        .filter(|m| *m > 0)
        .min()
    {
        f.push_attribute(Attribute::new("maxptime", decimal(u64::from(max))));
    }
    f.push_attribute(Attribute::flag(direction.as_str()));
    media
}

/// Makes offers for one leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offerer {
    /// Codecs to offer, in order (audio only).
    pub codecs: Vec<AllowedCodec>,
    /// telephone-event payload type to offer (101), `None` = no telephone-event.
    pub telephone_event: Option<u8>,
    /// Our RTP address and port.
    pub rtp: SocketAddr,
    /// Direction to offer: sendrecv, or sendonly to hold.
    pub direction: Direction,
}

impl Offerer {
    /// Offers these codecs from `rtp`, sendrecv, with telephone-event 101.
    pub fn new(codecs: Vec<AllowedCodec>, rtp: SocketAddr) -> Self {
        Offerer {
            codecs,
            telephone_event: Some(TELEPHONE_EVENT_PT),
            rtp,
            direction: Direction::SendRecv,
        }
    }

    /// The offerer an endpoint's options describe (its `allow` list and `dtmf_mode`).
    pub fn for_endpoint(endpoint: &Endpoint, rtp: SocketAddr) -> Self {
        let mut offerer = Offerer::new(codec::allowed(&endpoint.allow), rtp);
        if !uses_telephone_event(endpoint.dtmf_mode) {
            offerer.telephone_event = None;
        }
        offerer
    }

    /// The offer: one `m=audio` with every audio codec that gets a payload type.
    /// Stamp it with [`super::Origin::stamp`] before sending.
    pub fn offer(&self) -> Result<Sdp, OfferAnswerError> {
        let (codecs, te) = allocate(&self.codecs, self.telephone_event);
        if codecs.is_empty() {
            return Err(OfferAnswerError::NoCommonCodec);
        }
        let ptime = self.codecs.first().map_or(20, AllowedCodec::ptime);
        let te = te.map(|pt| TelephoneEvent {
            pt,
            clock: 8000,
            fmtp: TELEPHONE_EVENT_FMTP.into(),
        });
        let mut sdp = Sdp::local(self.rtp.ip());
        sdp.media.push(audio_media(
            "RTP/AVP",
            self.rtp.port(),
            &codecs,
            te.as_ref(),
            ptime,
            self.direction,
        ));
        Ok(sdp)
    }
}

/// Gives each audio codec a payload type: static ones their RFC 3551 number, dynamic ones
/// their hint or usual number when free, else the first free of 96-127 (skipped when none
/// is left). telephone-event gets `te` when free, else the next free dynamic one.
/// `n` in decimal, without the `fmt` machinery (SDP is written for every call).
fn decimal(n: u64) -> String {
    let mut s = String::with_capacity(4);
    crate::sip::push_decimal(&mut s, n);
    s
}

fn allocate(codecs: &[AllowedCodec], te: Option<u8>) -> (Vec<PayloadCodec>, Option<u8>) {
    let mut used = [false; 128];
    let audio = codecs.iter().filter(|a| a.codec.kind == MediaKind::Audio);
    for pt in audio.clone().filter_map(|a| a.codec.static_pt) {
        if let Some(u) = used.get_mut(usize::from(pt)) {
            *u = true;
        }
    }
    let is_static = |pt: u8| codec::CODECS.iter().any(|c| c.static_pt == Some(pt));
    let take = |want: Option<u8>, used: &mut [bool; 128]| -> Option<u8> {
        let free = |pt: &u8, used: &[bool; 128]| {
            !is_static(*pt) && used.get(usize::from(*pt)).is_some_and(|u| !*u)
        };
        let pt = want
            .filter(|p| free(p, used))
            .or_else(|| (96..=127u8).find(|p| free(p, used)))?;
        if let Some(u) = used.get_mut(usize::from(pt)) {
            *u = true;
        }
        Some(pt)
    };
    let mut out = Vec::with_capacity(codecs.len());
    for a in audio {
        let pt = match a.codec.static_pt {
            Some(pt) => Some(pt),
            None => take(a.pt.or(a.codec.default_pt), &mut used),
        };
        match pt {
            Some(pt) if !out.iter().any(|pc: &PayloadCodec| pc.codec == a.codec) => {
                out.push(PayloadCodec {
                    pt,
                    codec: a.codec,
                    fmtp: None,
                })
            }
            Some(_) => {}
            None => tracing::debug!(codec = a.codec.name, "no payload type left, not offered"),
        }
    }
    let te = te.and_then(|want| take(Some(want), &mut used));
    (out, te)
}

/// Reads the answer to our offer: what was agreed for each accepted audio stream.
/// Answers with another number of `m=` lines, a stream of another type, a stream accepted
/// that we had rejected, or a codec we did not offer are errors (the UAC then ends the
/// session); a stream answered with port 0 is rejected and left out.
pub fn negotiate(
    offer: &Sdp,
    answer: &Sdp,
    use_ptime: bool,
) -> Result<Vec<Negotiated>, OfferAnswerError> {
    if offer.media.len() != answer.media.len() {
        return Err(OfferAnswerError::MediaCount {
            offered: offer.media.len(),
            answered: answer.media.len(),
        });
    }
    let mut streams = Vec::new();
    for (i, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        if !o.kind.eq_ignore_ascii_case(&a.kind) {
            return Err(OfferAnswerError::MediaKind {
                index: i,
                offered: o.kind.to_string(),
                answered: a.kind.to_string(),
            });
        }
        if a.is_rejected() {
            continue;
        }
        if o.is_rejected() {
            return Err(OfferAnswerError::AcceptsRejected(i));
        }
        if !o.is_audio() {
            continue;
        }
        let (codecs, te) = answered_codecs(i, o, a)?;
        let Some(first) = codecs.first().cloned() else {
            return Err(OfferAnswerError::NoCommonCodec);
        };
        let ours = offer.direction(i);
        let direction = ours.intersect(answer.effective_direction(i).reversed());
        let ptime = match (use_ptime, answer.ptime(i)) {
            (true, Some(p)) => p,
            _ => offer.ptime(i).unwrap_or(u32::from(first.codec.framing)),
        };
        streams.push(Negotiated {
            media_index: i,
            remote_rtp: answer.remote_rtp(i),
            remote_rtcp: answer.remote_rtcp(i),
            codec: first,
            codecs,
            telephone_event: te,
            ptime: u16::try_from(ptime).unwrap_or(u16::MAX),
            direction,
        });
    }
    Ok(streams)
}

/// The codecs and telephone-event of an answered stream, each checked against the offer.
fn answered_codecs(
    index: usize,
    offered: &Media,
    answered: &Media,
) -> Result<(Vec<PayloadCodec>, Option<TelephoneEvent>), OfferAnswerError> {
    let mut codecs = Vec::new();
    let mut te = None;
    for fmt in &answered.formats {
        let not_offered = |encoding: &str| OfferAnswerError::NotOffered {
            index,
            pt: fmt.clone(),
            encoding: encoding.into(),
        };
        let pt = super::model::parse_pt(fmt).ok_or_else(|| not_offered(""))?;
        let enc = answered.encoding(pt).ok_or_else(|| not_offered(""))?;
        let was_offered = offered
            .payload_types()
            .any(|p| offered.encoding(p).is_some_and(|e| e.same(&enc)));
        if !was_offered {
            return Err(not_offered(&enc.name));
        }
        let fmtp = answered.fmtp(pt).map(str::to_string);
        if enc.is_telephone_event() {
            te.get_or_insert(TelephoneEvent {
                pt,
                clock: enc.clock,
                fmtp: fmtp.unwrap_or_else(|| TELEPHONE_EVENT_FMTP.into()),
            });
        } else if let Some(codec) = enc.codec() {
            codecs.push(PayloadCodec { pt, codec, fmtp });
        }
    }
    Ok((codecs, te))
}

/// The codecs to offer a B2BUA's outgoing leg (`outgoing_call_offer_pref` of the callee):
/// the caller's audio codecs (first audio stream in use of its offer; none for a call
/// without offer) against the callee's `allow` list. Codecs the callee does not allow are
/// never offered; codecs that come from the caller keep the caller's payload type as
/// hint, so relayed RTP needs no renumbering.
///
/// - `remote`: the caller's codecs the callee allows, the caller's order;
///   `remote_merge` (default): those, then the callee's other codecs;
///   `remote_first`: the first of `remote`.
/// - `local`: the callee's codecs the caller has, the callee's order; `local_merge`: every
///   callee codec, the callee's order; `local_first`: the first of `local`.
pub fn outgoing_codecs(
    caller_offer: Option<&Sdp>,
    allow: &[AllowedCodec],
    pref: OutgoingCallOfferPref,
) -> Result<Vec<AllowedCodec>, OfferAnswerError> {
    let caller: Vec<PayloadCodec> = caller_offer
        .and_then(|sdp| sdp.media.iter().find(|m| m.is_audio() && !m.is_rejected()))
        .map(offered_codecs)
        .unwrap_or_default();
    let hinted = |a: &AllowedCodec| AllowedCodec {
        pt: caller.iter().find(|pc| pc.codec == a.codec).map(|pc| pc.pt),
        ..*a
    };
    let from_caller: Vec<AllowedCodec> = caller
        .iter()
        .filter_map(|pc| allow.iter().find(|a| a.codec == pc.codec))
        .map(hinted)
        .collect();
    let from_callee = allow.iter().map(hinted);
    let in_caller = |a: &AllowedCodec| caller.iter().any(|pc| pc.codec == a.codec);
    let mut list: Vec<AllowedCodec> = match pref {
        OutgoingCallOfferPref::Remote | OutgoingCallOfferPref::RemoteFirst => from_caller,
        OutgoingCallOfferPref::RemoteMerge => {
            let rest: Vec<AllowedCodec> = from_callee.filter(|a| !in_caller(a)).collect();
            from_caller.into_iter().chain(rest).collect()
        }
        OutgoingCallOfferPref::Local | OutgoingCallOfferPref::LocalFirst => {
            from_callee.filter(in_caller).collect()
        }
        OutgoingCallOfferPref::LocalMerge => from_callee.collect(),
    };
    if matches!(
        pref,
        OutgoingCallOfferPref::RemoteFirst | OutgoingCallOfferPref::LocalFirst
    ) {
        list.truncate(1);
    }
    if list.is_empty() {
        return Err(OfferAnswerError::NoCommonCodec);
    }
    Ok(list)
}

/// The telephone-event payload type of the caller's offer (first audio stream in use),
/// to offer the outgoing leg the same number.
pub fn offered_telephone_event(offer: &Sdp) -> Option<u8> {
    let media = offer
        .media
        .iter()
        .find(|m| m.is_audio() && !m.is_rejected())?;
    media
        .payload_types()
        .find(|pt| media.encoding(*pt).is_some_and(|e| e.is_telephone_event()))
}
