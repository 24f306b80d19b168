//! Errors of the SDP layer: malformed bodies ([`SdpError`], a B2BUA answers 400 or 488) and
//! failed negotiations ([`OfferAnswerError`]).

/// Why an SDP body could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is larger than [`crate::sdp::MAX_SDP_LEN`].
    #[error("SDP body of {len} bytes is larger than the {max} bytes allowed")]
    TooLarge {
        /// Body length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body has no line at all.
    #[error("empty SDP body")]
    Empty,
    /// One line is malformed; `line` counts from 1.
    #[error("SDP line {line}: {reason}")]
    Line {
        /// Line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A mandatory session-level line is absent (`o=` or `s=`).
    #[error("SDP has no {0}= line")]
    Missing(char),
    /// A media section that is not rejected has no `c=`, and the session has none either.
    #[error("SDP media section {index} (line {line}) has no c= line and the session has none")]
    NoConnection {
        /// Index of the media section, from 0.
        index: usize,
        /// Line of its `m=`.
        line: usize,
    },
}

impl SdpError {
    /// The SIP status a UAS answers an offer it cannot parse with: always 400 Bad Request
    /// (Asterisk's `invalid_sdp` test expects 400 for malformed bodies).
    pub fn sip_status(&self) -> u16 {
        400
    }

    pub(crate) fn line(line: usize, reason: impl Into<String>) -> Self {
        SdpError::Line {
            line,
            reason: reason.into(),
        }
    }
}

/// Why an offer could not be answered, or an answer does not fit our offer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferAnswerError {
    /// No audio stream of the offer has a codec we allow (or a profile we can do): answer
    /// 488 Not Acceptable Here.
    #[error("no audio codec in common")]
    NoCommonCodec,
    /// The answer has another number of `m=` lines than our offer (RFC 3264 6).
    #[error("answer has {answered} media sections, the offer had {offered}")]
    MediaCount {
        /// `m=` lines in the offer.
        offered: usize,
        /// `m=` lines in the answer.
        answered: usize,
    },
    /// An answered stream is of another media type than the offered one.
    #[error("answer media section {index} is '{answered}', the offer had '{offered}'")]
    MediaKind {
        /// Index of the media section.
        index: usize,
        /// Offered media type.
        offered: String,
        /// Answered media type.
        answered: String,
    },
    /// The answer accepts a stream that the offer had rejected (port 0).
    #[error("answer accepts media section {0} that the offer rejected")]
    AcceptsRejected(usize),
    /// The answer uses a codec that was not in our offer.
    #[error("answer media section {index} uses '{encoding}' (payload type {pt}), not offered")]
    NotOffered {
        /// Index of the media section.
        index: usize,
        /// Answered payload type.
        pt: String,
        /// Its encoding name (empty when unknown).
        encoding: String,
    },
}

impl OfferAnswerError {
    /// The SIP status a UAS answers an offer with when this error comes from answering it
    /// (488 Not Acceptable Here). For errors found in an answer to our offer the UAC
    /// instead ends the session (ACK, then BYE).
    pub fn sip_status(&self) -> u16 {
        488
    }
}
