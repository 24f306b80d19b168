//! Value types of endpoint options (and the few that registrations and `[global]` share):
//! the enumerated words Asterisk accepts, with its alternative spellings, and the two
//! structured values (`codec_prefs_*`, `security_mechanisms`).

use std::fmt;
use std::str::FromStr;

use crate::config::options::OptionValue;
use crate::option_enum;

option_enum! {
    /// How an endpoint may be identified (`identify_by`, and the global
    /// `endpoint_identifier_order`, which also knows `anonymous`).
    pub enum IdentifyMethod {
        /// From user (and domain).
        #[default]
        Username = ["username"],
        /// Authorization username.
        AuthUsername = ["auth_username"],
        /// Source address, through identify objects.
        Ip = ["ip"],
        /// A request header, through identify objects.
        Header = ["header"],
        /// The Request-URI, through identify objects.
        RequestUri = ["request_uri"],
        /// The `anonymous` endpoint (identifier order only, not `identify_by`).
        Anonymous = ["anonymous"],
    }
}

option_enum! {
    /// DTMF transport (`dtmf_mode`).
    pub enum DtmfMode {
        /// RFC 4733 telephone-events.
        #[default]
        Rfc4733 = ["rfc4733", "rfc2833"],
        /// In the audio.
        Inband = ["inband"],
        /// SIP INFO.
        Info = ["info"],
        /// RFC 4733 if offered, else inband.
        Auto = ["auto"],
        /// RFC 4733 if offered, else INFO.
        AutoInfo = ["auto_info"],
        /// None.
        None = ["none"],
    }
}

option_enum! {
    /// Session timer use (`timers`).
    pub enum Timers {
        /// Never.
        No = ["no"],
        /// Supported.
        #[default]
        Yes = ["yes"],
        /// Required.
        Required = ["required"],
        /// Always.
        Always = ["always", "forced"],
    }
}

option_enum! {
    /// Reliable provisional responses (`100rel`).
    pub enum Rel100 {
        /// Not supported.
        No = ["no"],
        /// Supported.
        #[default]
        Yes = ["yes"],
        /// Used when the peer supports it.
        PeerSupported = ["peer_supported"],
        /// Required.
        Required = ["required"],
    }
}

option_enum! {
    /// Method for session refreshes: `direct_media_method` and `connected_line_method`.
    pub enum DirectMediaMethod {
        /// re-INVITE.
        #[default]
        Invite = ["invite", "reinvite"],
        /// UPDATE.
        Update = ["update"],
    }
}

option_enum! {
    /// Which side gives way when both legs re-INVITE for direct media
    /// (`direct_media_glare_mitigation`).
    pub enum GlareMitigation {
        /// No mitigation.
        #[default]
        None = ["none"],
        /// Don't re-INVITE on outgoing calls.
        Outgoing = ["outgoing"],
        /// Don't re-INVITE on incoming calls.
        Incoming = ["incoming"],
    }
}

option_enum! {
    /// Media encryption (`media_encryption`).
    pub enum MediaEncryption {
        /// None.
        #[default]
        No = ["no"],
        /// SDES-SRTP.
        Sdes = ["sdes"],
        /// DTLS-SRTP.
        Dtls = ["dtls"],
    }
}

option_enum! {
    /// Caller ID presentation (`callerid_privacy`). Asterisk also takes the numeric
    /// presentation values, accepted here as aliases.
    pub enum CallerIdPrivacy {
        /// Presentation allowed, not screened.
        #[default]
        AllowedNotScreened = ["allowed_not_screened", "0"],
        /// Presentation allowed, passed screen.
        AllowedPassedScreen = ["allowed_passed_screen", "1"],
        /// Presentation allowed, failed screen.
        AllowedFailedScreen = ["allowed_failed_screen", "2"],
        /// Presentation allowed, network number.
        Allowed = ["allowed", "3"],
        /// Presentation prohibited, not screened.
        ProhibNotScreened = ["prohib_not_screened", "32"],
        /// Presentation prohibited, passed screen.
        ProhibPassedScreen = ["prohib_passed_screen", "33"],
        /// Presentation prohibited, failed screen.
        ProhibFailedScreen = ["prohib_failed_screen", "34"],
        /// Presentation prohibited, network number.
        Prohib = ["prohib", "35"],
        /// Number unavailable.
        Unavailable = ["unavailable", "67"],
    }
}

impl CallerIdPrivacy {
    /// Presentation restricted: anything but the "allowed" values (Asterisk compares the
    /// restriction bits with `AST_PRES_ALLOWED`, so "unavailable" is restricted too).
    pub fn restricted(self) -> bool {
        !matches!(
            self,
            Self::AllowedNotScreened
                | Self::AllowedPassedScreen
                | Self::AllowedFailedScreen
                | Self::Allowed
        )
    }

    /// The number passed screening (Remote-Party-ID `screen=yes`).
    pub fn screened(self) -> bool {
        matches!(self, Self::AllowedPassedScreen | Self::ProhibPassedScreen)
    }
}

option_enum! {
    /// T.38 UDPTL error correction (`t38_udptl_ec`).
    pub enum T38ErrorCorrection {
        /// None.
        #[default]
        None = ["none"],
        /// Forward error correction.
        Fec = ["fec"],
        /// Redundancy.
        Redundancy = ["redundancy"],
    }
}

option_enum! {
    /// How a received 3xx is followed (`redirect_method`).
    pub enum RedirectMethod {
        /// Use the user part of the Contact as the extension.
        #[default]
        User = ["user"],
        /// Hand the whole URI to the core.
        UriCore = ["uri_core"],
        /// Let the SIP stack follow the redirect.
        UriPjsip = ["uri_pjsip"],
    }
}

option_enum! {
    /// Requests whose 3xx responses are followed (`follow_redirect_methods`); Asterisk
    /// supports only MESSAGE.
    pub enum FollowRedirectMethod {
        /// MESSAGE.
        #[default]
        Message = ["message"],
    }
}

option_enum! {
    /// DTLS peer certificate checks (`dtls_verify`).
    pub enum DtlsVerify {
        /// No check.
        #[default]
        No = ["no"],
        /// Fingerprint and certificate.
        Yes = ["yes"],
        /// Fingerprint only.
        Fingerprint = ["fingerprint"],
        /// Certificate only.
        Certificate = ["certificate"],
    }
}

option_enum! {
    /// DTLS role (`dtls_setup`).
    pub enum DtlsSetup {
        /// Connect out.
        #[default]
        Active = ["active"],
        /// Accept.
        Passive = ["passive"],
        /// Either.
        Actpass = ["actpass"],
    }
}

option_enum! {
    /// Hash of the DTLS fingerprint in SDP (`dtls_fingerprint`).
    pub enum DtlsFingerprint {
        /// SHA-256.
        #[default]
        Sha256 = ["sha-256"],
        /// SHA-1.
        Sha1 = ["sha-1"],
    }
}

option_enum! {
    /// Codec selection for incoming offers (`incoming_call_offer_pref`).
    pub enum IncomingCallOfferPref {
        /// Our order, intersected with theirs.
        #[default]
        Local = ["local"],
        /// Our first codec that they offer.
        LocalFirst = ["local_first"],
        /// Their order, intersected with ours.
        Remote = ["remote"],
        /// Their first codec that we allow.
        RemoteFirst = ["remote_first"],
    }
}

option_enum! {
    /// Codec selection for outgoing offers (`outgoing_call_offer_pref`).
    pub enum OutgoingCallOfferPref {
        /// Our codecs only, our order.
        Local = ["local"],
        /// Ours then the caller's, our order first.
        LocalMerge = ["local_merge"],
        /// Our first codec only.
        LocalFirst = ["local_first"],
        /// The caller's codecs only, their order.
        Remote = ["remote"],
        /// The caller's then ours, their order first.
        #[default]
        RemoteMerge = ["remote_merge"],
        /// The caller's first codec only.
        RemoteFirst = ["remote_first"],
    }
}

option_enum! {
    /// STIR/SHAKEN use (`stir_shaken`).
    pub enum StirShaken {
        /// Off.
        #[default]
        Off = ["off"],
        /// Attest outgoing calls.
        Attest = ["attest"],
        /// Verify incoming calls.
        Verify = ["verify"],
        /// Both.
        On = ["on"],
    }
}

option_enum! {
    /// RFC 3329 security agreement (`security_negotiation`).
    pub enum SecurityNegotiation {
        /// None.
        #[default]
        No = ["no"],
        /// 3GPP media-plane security (mediasec).
        Mediasec = ["mediasec"],
    }
}

option_enum! {
    /// Mechanism names of `security_mechanisms`.
    pub enum SecurityMechanismType {
        /// MSRP over TLS.
        #[default]
        MsrpTls = ["msrp-tls"],
        /// SDES-SRTP.
        SdesSrtp = ["sdes-srtp"],
        /// DTLS-SRTP.
        DtlsSrtp = ["dtls-srtp"],
    }
}

/// One `security_mechanisms` entry: `sdes-srtp;q=0.2;mediasec`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecurityMechanism {
    /// The mechanism.
    pub mechanism: SecurityMechanismType,
    /// Preference, 0 to 1, when given.
    pub qvalue: Option<f64>,
    /// Other parameters, verbatim.
    pub params: Vec<String>,
}

impl FromStr for SecurityMechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(';').map(str::trim);
        let mechanism = parts.next().unwrap_or_default().parse()?;
        let mut out = Self {
            mechanism,
            ..Self::default()
        };
        for p in parts.filter(|p| !p.is_empty()) {
            match p.strip_prefix("q=") {
                Some(q) => {
                    let v = q
                        .parse::<f64>()
                        .ok()
                        .filter(|v| (0.0..=1.0).contains(v))
                        .ok_or_else(|| format!("'{s}': q value '{q}' is not from 0 to 1"))?;
                    out.qvalue = Some(v);
                }
                None => out.params.push(p.to_string()),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for SecurityMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mechanism.as_str())?;
        if let Some(q) = self.qvalue {
            write!(f, ";q={q}")?;
        }
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

option_enum! {
    /// `prefer` of a codec negotiation preference.
    pub enum CodecPrefer {
        /// The codecs of the pending (received) topology.
        #[default]
        Pending = ["pending"],
        /// The configured codecs.
        Configured = ["configured"],
    }
}

option_enum! {
    /// `operation` of a codec negotiation preference.
    pub enum CodecOperation {
        /// Codecs in both lists.
        #[default]
        Intersect = ["intersect"],
        /// Codecs in either list.
        Union = ["union"],
        /// Only the preferred list.
        OnlyPreferred = ["only_preferred"],
        /// Only the non-preferred list.
        OnlyNonpreferred = ["only_nonpreferred"],
    }
}

option_enum! {
    /// `keep` of a codec negotiation preference.
    pub enum CodecKeep {
        /// Every resulting codec.
        #[default]
        All = ["all"],
        /// The first only.
        First = ["first"],
    }
}

option_enum! {
    /// `transcode` of a codec negotiation preference.
    pub enum CodecTranscode {
        /// Transcoding allowed.
        #[default]
        Allow = ["allow"],
        /// Transcoding prevented.
        Prevent = ["prevent"],
    }
}

/// A `codec_prefs_*` value: `prefer: pending, operation: intersect, keep: all, transcode:
/// allow`. Parameters left out are `None`; Asterisk fills them with the option's defaults
/// when it uses them (see [`CodecPrefs::or_defaults`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CodecPrefs {
    /// `prefer`.
    pub prefer: Option<CodecPrefer>,
    /// `operation`.
    pub operation: Option<CodecOperation>,
    /// `keep`.
    pub keep: Option<CodecKeep>,
    /// `transcode`.
    pub transcode: Option<CodecTranscode>,
}

impl CodecPrefs {
    /// The preferences with unset parameters taken from Asterisk's defaults (`prefer`
    /// pending, `keep` all, `transcode` allow; `operation` depends on the option).
    pub fn or_defaults(
        self,
        operation: CodecOperation,
    ) -> (CodecPrefer, CodecOperation, CodecKeep, CodecTranscode) {
        (
            self.prefer.unwrap_or_default(),
            self.operation.unwrap_or(operation),
            self.keep.unwrap_or_default(),
            self.transcode.unwrap_or_default(),
        )
    }
}

impl OptionValue for CodecPrefs {
    fn apply(&mut self, raw: &str) -> Result<(), String> {
        let mut prefs = Self::default();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, value)) = item.split_once(':') else {
                return Err(format!("'{item}' is not 'name: value'"));
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "prefer" => prefs.prefer = Some(value.parse()?),
                "operation" => prefs.operation = Some(value.parse()?),
                "keep" => prefs.keep = Some(value.parse()?),
                "transcode" => prefs.transcode = Some(value.parse()?),
                other => {
                    return Err(crate::config::options::bad_choice(
                        other,
                        &["prefer", "operation", "keep", "transcode"],
                    )
                    .replacen(
                        "is not one of",
                        "is not a codec preference; use one of",
                        1,
                    ));
                }
            }
        }
        *self = prefs;
        Ok(())
    }
    fn render(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(v) = self.prefer {
            parts.push(format!("prefer: {v}"));
        }
        if let Some(v) = self.operation {
            parts.push(format!("operation: {v}"));
        }
        if let Some(v) = self.keep {
            parts.push(format!("keep: {v}"));
        }
        if let Some(v) = self.transcode {
            parts.push(format!("transcode: {v}"));
        }
        vec![parts.join(", ")]
    }
}
