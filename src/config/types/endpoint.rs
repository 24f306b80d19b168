//! `type=endpoint`: a SIP peer and how calls to and from it behave
//! (Asterisk `res_pjsip/pjsip_configuration.c`).

use super::{ConfigObject, Kind, Object, Reference, refs};
use crate::config::options::{Alias, Codecs, ListOf, Name};
use crate::{define_object, option_enum};

option_enum! {
    /// How an endpoint may be identified (`identify_by`).
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
    /// Method for direct-media refreshes (`direct_media_method`).
    pub enum DirectMediaMethod {
        /// re-INVITE.
        #[default]
        Invite = ["invite", "reinvite"],
        /// UPDATE.
        Update = ["update"],
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

define_object! {
    /// A SIP peer.
    pub struct Endpoint {
        /// Dialplan context for inbound calls.
        context: String = ("context", "default", NotYet),
        /// Codec preferences (`allow`, and `disallow` as its alias).
        allow: Codecs = ("allow", "", NotYet),
        /// AORs for dialing and REGISTER.
        aors: ListOf<Name> = ("aors", "", Yes),
        /// Inbound auth objects.
        auth: ListOf<Name> = ("auth", "", Yes),
        /// Outbound auth objects.
        outbound_auth: ListOf<Name> = ("outbound_auth", "", Yes),
        /// Transport for outbound requests.
        transport: String = ("transport", "", Yes),
        /// Allowed identification methods.
        identify_by: ListOf<IdentifyMethod> = ("identify_by", "username,ip", NotYet),
        /// DTMF mode.
        dtmf_mode: DtmfMode = ("dtmf_mode", "rfc4733", NotYet),
        /// Tenant id.
        tenantid: String = ("tenantid", "", NotYet),
    }
}

fn disallow_to_allow(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("!{s}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl ConfigObject for Endpoint {
    const KIND: Kind = Kind::Endpoint;
    const ALIASES: &'static [Alias] = &[Alias {
        name: "disallow",
        target: "allow",
        rewrite: disallow_to_allow,
    }];

    fn references(&self) -> Vec<Reference> {
        let mut r: Vec<Reference> = refs("aors", Kind::Aor, self.aors.iter())
            .chain(refs("auth", Kind::Auth, self.auth.iter()))
            .chain(refs("outbound_auth", Kind::Auth, self.outbound_auth.iter()))
            .collect();
        if !self.transport.is_empty() {
            r.push(Reference::new("transport", Kind::Transport, &self.transport));
        }
        r
    }

    fn into_object(self) -> Object {
        Object::Endpoint(self)
    }
}
