//! `[global]`: settings for the whole SIP stack (Asterisk `res_pjsip/config_global.c`).

use super::{ConfigObject, DigestAlgorithm, IdentifyMethod, Kind, Object};
use crate::config::options::ListOf;
use crate::{define_object, option_enum};

option_enum! {
    /// When new out-of-dialog requests are refused under load
    /// (`taskprocessor_overload_trigger`).
    pub enum OverloadTrigger {
        /// Never.
        None = ["none"],
        /// When any task queue is overloaded.
        #[default]
        Global = ["global"],
        /// When a SIP task queue is overloaded.
        PjsipOnly = ["pjsip_only"],
    }
}

define_object! {
    /// Global settings.
    pub struct Global {
        /// Max-Forwards on new requests.
        max_forwards: u32 = ("max_forwards", "70", NotYet),
        /// User-Agent / Server header.
        user_agent: String = ("user_agent", "pjsipd", Yes),
        /// Endpoint for requests to bare URIs.
        default_outbound_endpoint: String =
            ("default_outbound_endpoint", "default_outbound_endpoint", NotYet),
        /// Message logging: yes, no, or a host to log traffic of.
        debug: String = ("debug", "no", NotYet),
        /// Order in which identifiers are tried.
        endpoint_identifier_order: ListOf<IdentifyMethod> =
            ("endpoint_identifier_order", "ip,username,anonymous", Yes),
        /// CRLF keepalive on connection-oriented transports, seconds (0 = off).
        keep_alive_interval: u32 = ("keep_alive_interval", "90", Yes),
        /// Spread initial qualifies over this many seconds.
        max_initial_qualify_time: u32 = ("max_initial_qualify_time", "0", NotYet),
        /// From user when nothing better is known.
        default_from_user: String = ("default_from_user", "asterisk", NotYet),
        /// Default Message-Account value.
        default_voicemail_extension: String = ("default_voicemail_extension", "", NotYet),
        /// Context where registered endpoints get a NoOp extension.
        regcontext: String = ("regcontext", "", NotYet),
        /// Seconds between sweeps of expired contacts.
        contact_expiration_check_interval: u32 =
            ("contact_expiration_check_interval", "30", NotYet),
        /// No `user@domain` lookups.
        disable_multi_domain: bool = ("disable_multi_domain", "no", Yes),
        /// Unidentified requests from one address before a security event.
        unidentified_request_count: u32 = ("unidentified_request_count", "5", Yes),
        /// Period those requests are counted over, seconds.
        unidentified_request_period: u32 = ("unidentified_request_period", "5", Yes),
        /// Seconds between prunes of the unidentified-request table.
        unidentified_request_prune_interval: u32 =
            ("unidentified_request_prune_interval", "30", Yes),
        /// Realm of challenges when the auth has none.
        default_realm: String = ("default_realm", "asterisk", Yes),
        /// MWI queue high-water alert level.
        mwi_tps_queue_high: u32 = ("mwi_tps_queue_high", "500", NotYet),
        /// MWI queue low-water level (-1 = 90% of high).
        mwi_tps_queue_low: i32 = ("mwi_tps_queue_low", "-1", NotYet),
        /// No unsolicited MWI at start-up.
        mwi_disable_initial_unsolicited: bool =
            ("mwi_disable_initial_unsolicited", "no", NotYet),
        /// Allow a 180 after a 183.
        allow_sending_180_after_183: bool = ("allow_sending_180_after_183", "no", NotYet),
        /// Strip `;params` from URI users before matching.
        ignore_uri_user_options: bool = ("ignore_uri_user_options", "no", Yes),
        /// Caller ID number as Contact user.
        use_callerid_contact: bool = ("use_callerid_contact", "no", NotYet),
        /// ContactStatus event on every registration refresh.
        send_contact_status_on_update_registration: bool =
            ("send_contact_status_on_update_registration", "no", NotYet),
        /// When to refuse new requests under load.
        taskprocessor_overload_trigger: OverloadTrigger =
            ("taskprocessor_overload_trigger", "global", NotYet),
        /// Advertise `norefersub`.
        norefersub: bool = ("norefersub", "yes", NotYet),
        /// Offer every codec in answers to re-INVITEs without SDP.
        all_codecs_on_empty_reinvite: bool = ("all_codecs_on_empty_reinvite", "no", NotYet),
        /// Default algorithms we challenge with.
        default_auth_algorithms_uas: ListOf<DigestAlgorithm> =
            ("default_auth_algorithms_uas", "MD5", NotYet),
        /// Default algorithms we answer.
        default_auth_algorithms_uac: ListOf<DigestAlgorithm> =
            ("default_auth_algorithms_uac", "MD5", NotYet),
    }
}

impl ConfigObject for Global {
    const KIND: Kind = Kind::Global;

    fn validate(&self, _id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.debug.trim().is_empty() {
            errors.push(
                "Global option 'debug' can't be empty.  Set it to a valid value or remove the \
                 entry to accept 'no' as the default"
                    .to_string(),
            );
        }
        if self.default_from_user.trim().is_empty() {
            errors.push(
                "Global option 'default_from_user' can't be empty.  Set it to a valid value or \
                 remove the entry to accept 'asterisk' as the default"
                    .to_string(),
            );
        }
        errors
    }

    fn into_object(self) -> Object {
        Object::Global(Box::new(self))
    }
}
