//! `type=endpoint`: a SIP peer and how calls to and from it behave
//! (Asterisk `res_pjsip/pjsip_configuration.c`).

use super::endpoint_values::{
    CallerIdPrivacy, CodecOperation, CodecPrefs, DirectMediaMethod, DtlsFingerprint, DtlsSetup,
    DtlsVerify, DtmfMode, FollowRedirectMethod, GlareMitigation, IdentifyMethod,
    IncomingCallOfferPref, MediaEncryption, OutgoingCallOfferPref, RedirectMethod, Rel100,
    SecurityMechanism, SecurityNegotiation, StirShaken, T38ErrorCorrection, Timers,
};
use super::{ConfigObject, Kind, Object, Reference, refs};
use crate::config::options::{
    Alias, CONTACT_DENY_ALIAS, Codecs, DENY_ALIAS, Groups, HaRules, ListOf, Name, Repeated, SipUri,
    Tos,
};
use crate::define_object;

define_object! {
    /// A SIP peer.
    pub struct Endpoint {
        /// Dialplan context for inbound calls.
        context: String = ("context", "default", Yes),
        /// Codec preferences (`allow`, and `disallow` as its alias).
        allow: Codecs = ("allow", "", Yes),
        /// DTMF mode.
        dtmf_mode: DtmfMode = ("dtmf_mode", "rfc4733", Yes),
        /// Allow IPv6 RTP.
        rtp_ipv6: bool = ("rtp_ipv6", "no", NotYet),
        /// Send RTP where it comes from (comedia).
        rtp_symmetric: bool = ("rtp_symmetric", "no", Yes),
        /// ICE candidates in SDP.
        ice_support: bool = ("ice_support", "no", NotYet),
        /// Honour the remote ptime.
        use_ptime: bool = ("use_ptime", "no", Yes),
        /// Answer to the source port as if `;rport` were present.
        force_rport: bool = ("force_rport", "yes", Yes),
        /// Rewrite Contact (or Record-Route) to the packet source.
        rewrite_contact: bool = ("rewrite_contact", "no", Yes),
        /// Transport for outbound requests.
        transport: String = ("transport", "", Yes),
        /// Proxy for every outbound request.
        outbound_proxy: SipUri = ("outbound_proxy", "", Yes),
        /// Music-on-hold class suggested to the other side.
        moh_suggest: String = ("moh_suggest", "default", NotYet),
        /// Reliable provisional responses.
        rel100: Rel100 = ("100rel", "yes", Yes),
        /// Session timers.
        timers: Timers = ("timers", "yes", Yes),
        /// Min-SE, seconds (90 or more).
        timers_min_se: u32 = ("timers_min_se", "90", Yes),
        /// Session-Expires, seconds.
        timers_sess_expires: u32 = ("timers_sess_expires", "1800", Yes),
        /// Inbound auth objects.
        auth: ListOf<Name> = ("auth", "", Yes),
        /// Outbound auth objects.
        outbound_auth: ListOf<Name> = ("outbound_auth", "", Yes),
        /// AORs for dialing and REGISTER.
        aors: ListOf<Name> = ("aors", "", Yes),
        /// Address written in SDP instead of the local one.
        media_address: String = ("media_address", "", Yes),
        /// Bind RTP sockets to `media_address`.
        bind_rtp_to_media_address: bool = ("bind_rtp_to_media_address", "no", NotYet),
        /// Allowed identification methods.
        identify_by: ListOf<IdentifyMethod> = ("identify_by", "username,ip", Yes),
        /// Direct media between bridged endpoints.
        direct_media: bool = ("direct_media", "yes", Yes),
        /// Method for direct-media refreshes.
        direct_media_method: DirectMediaMethod = ("direct_media_method", "invite", Yes),
        /// Accept connected-line updates.
        trust_connected_line: bool = ("trust_connected_line", "yes", NotYet),
        /// Send connected-line updates.
        send_connected_line: bool = ("send_connected_line", "yes", NotYet),
        /// Method for connected-line updates.
        connected_line_method: DirectMediaMethod = ("connected_line_method", "invite", NotYet),
        /// Glare avoidance for direct-media re-INVITEs.
        direct_media_glare_mitigation: GlareMitigation =
            ("direct_media_glare_mitigation", "none", NotYet),
        /// No direct media while NAT is detected.
        disable_direct_media_on_nat: bool = ("disable_direct_media_on_nat", "no", NotYet),
        /// `"Name" <number>` of this endpoint.
        callerid: String = ("callerid", "", Yes),
        /// Caller ID presentation.
        callerid_privacy: CallerIdPrivacy =
            ("callerid_privacy", "allowed_not_screened", Yes),
        /// Caller ID tag.
        callerid_tag: String = ("callerid_tag", "", NotYet),
        /// Take caller ID from PAI/RPID of this endpoint.
        trust_id_inbound: bool = ("trust_id_inbound", "no", Yes),
        /// Send identity even when presentation is restricted.
        trust_id_outbound: bool = ("trust_id_outbound", "no", Yes),
        /// Add P-Asserted-Identity.
        send_pai: bool = ("send_pai", "no", Yes),
        /// Add Remote-Party-ID.
        send_rpid: bool = ("send_rpid", "no", Yes),
        /// Send connected line at once on unanswered inbound calls.
        rpid_immediate: bool = ("rpid_immediate", "no", NotYet),
        /// Add Diversion on redirected calls.
        send_diversion: bool = ("send_diversion", "yes", NotYet),
        /// Add History-Info.
        send_history_info: bool = ("send_history_info", "no", NotYet),
        /// Mailboxes for unsolicited MWI.
        mailboxes: ListOf<Name> = ("mailboxes", "", NotYet),
        /// Message-Account value.
        voicemail_extension: String = ("voicemail_extension", "", NotYet),
        /// One NOTIFY for all mailboxes.
        aggregate_mwi: bool = ("aggregate_mwi", "yes", NotYet),
        /// A SUBSCRIBE stops unsolicited MWI.
        mwi_subscribe_replaces_unsolicited: bool =
            ("mwi_subscribe_replaces_unsolicited", "no", NotYet),
        /// SRTP keying.
        media_encryption: MediaEncryption = ("media_encryption", "no", NotYet),
        /// RTP/AVPF profile.
        use_avpf: bool = ("use_avpf", "no", NotYet),
        /// Offer RTP/AVP or RTP/SAVP even with DTLS or AVPF.
        force_avp: bool = ("force_avp", "no", NotYet),
        /// Answer with the profile of the offer.
        media_use_received_transport: bool = ("media_use_received_transport", "no", NotYet),
        /// Comfort-noise keepalive interval, seconds.
        rtp_keepalive: u32 = ("rtp_keepalive", "0", NotYet),
        /// Hang up after this many seconds without RTP.
        rtp_timeout: u32 = ("rtp_timeout", "0", Yes),
        /// Same, while on hold.
        rtp_timeout_hold: u32 = ("rtp_timeout_hold", "0", NotYet),
        /// INFO-triggered recording.
        one_touch_recording: bool = ("one_touch_recording", "no", NotYet),
        /// Ring with inband progress instead of 180.
        inband_progress: bool = ("inband_progress", "no", NotYet),
        /// Numbered call groups.
        call_group: Groups = ("call_group", "", NotYet),
        /// Numbered pickup groups.
        pickup_group: Groups = ("pickup_group", "", NotYet),
        /// Named call groups.
        named_call_group: ListOf<Name> = ("named_call_group", "", NotYet),
        /// Named pickup groups.
        named_pickup_group: ListOf<Name> = ("named_pickup_group", "", NotYet),
        /// Report busy at this many channels (0 = never).
        device_state_busy_at: u32 = ("device_state_busy_at", "0", NotYet),
        /// T.38 fax.
        t38_udptl: bool = ("t38_udptl", "no", NotYet),
        /// T.38 error correction.
        t38_udptl_ec: T38ErrorCorrection = ("t38_udptl_ec", "none", NotYet),
        /// T.38 maximum datagram override.
        t38_udptl_maxdatagram: u32 = ("t38_udptl_maxdatagram", "0", NotYet),
        /// Fax tone detection.
        fax_detect: bool = ("fax_detect", "no", NotYet),
        /// Seconds of fax detection (0 = whole call).
        fax_detect_timeout: u32 = ("fax_detect_timeout", "0", NotYet),
        /// Symmetric UDPTL.
        t38_udptl_nat: bool = ("t38_udptl_nat", "no", NotYet),
        /// IPv6 UDPTL.
        t38_udptl_ipv6: bool = ("t38_udptl_ipv6", "no", NotYet),
        /// Bind UDPTL to `media_address`.
        t38_bind_udptl_to_media_address: bool =
            ("t38_bind_udptl_to_media_address", "no", NotYet),
        /// Indication tone zone.
        tone_zone: String = ("tone_zone", "", NotYet),
        /// Channel language.
        language: String = ("language", "", NotYet),
        /// Feature started by the recording INFO.
        record_on_feature: String = ("record_on_feature", "automixmon", NotYet),
        /// Feature stopped by the recording INFO.
        record_off_feature: String = ("record_off_feature", "automixmon", NotYet),
        /// Accept REFER.
        allow_transfer: bool = ("allow_transfer", "yes", NotYet),
        /// Add `user=phone` to numeric URIs.
        user_eq_phone: bool = ("user_eq_phone", "no", NotYet),
        /// Pass hold on instead of playing music.
        moh_passthrough: bool = ("moh_passthrough", "no", NotYet),
        /// SDP `o=` user name.
        sdp_owner: String = ("sdp_owner", "-", Yes),
        /// SDP `s=` line.
        sdp_session: String = ("sdp_session", "Asterisk", Yes),
        /// ToS of audio RTP.
        tos_audio: Tos = ("tos_audio", "0", NotYet),
        /// ToS of video RTP.
        tos_video: Tos = ("tos_video", "0", NotYet),
        /// 802.1p priority of audio RTP.
        cos_audio: u32 = ("cos_audio", "0", NotYet),
        /// 802.1p priority of video RTP.
        cos_video: u32 = ("cos_video", "0", NotYet),
        /// Accept SUBSCRIBE.
        allow_subscribe: bool = ("allow_subscribe", "yes", NotYet),
        /// Shortest subscription granted, seconds.
        sub_min_expiry: u32 = ("sub_min_expiry", "0", NotYet),
        /// From user on requests we send.
        from_user: String = ("from_user", "", Yes),
        /// From host on requests we send.
        from_domain: String = ("from_domain", "", Yes),
        /// From user of unsolicited MWI.
        mwi_from_user: String = ("mwi_from_user", "", NotYet),
        /// RTP engine name.
        rtp_engine: String = ("rtp_engine", "asterisk", NotYet),
        /// DTLS peer checks.
        dtls_verify: DtlsVerify = ("dtls_verify", "no", NotYet),
        /// DTLS renegotiation interval, seconds (0 = never).
        dtls_rekey: u32 = ("dtls_rekey", "0", NotYet),
        /// Generate an ephemeral DTLS certificate.
        dtls_auto_generate_cert: bool = ("dtls_auto_generate_cert", "no", NotYet),
        /// DTLS certificate file.
        dtls_cert_file: String = ("dtls_cert_file", "", NotYet),
        /// DTLS private key file.
        dtls_private_key: String = ("dtls_private_key", "", NotYet),
        /// DTLS cipher list.
        dtls_cipher: String = ("dtls_cipher", "", NotYet),
        /// DTLS CA file.
        dtls_ca_file: String = ("dtls_ca_file", "", NotYet),
        /// DTLS CA directory.
        dtls_ca_path: String = ("dtls_ca_path", "", NotYet),
        /// DTLS role. Asterisk registers an empty default, which leaves `active`.
        dtls_setup: DtlsSetup = ("dtls_setup", "active", NotYet),
        /// DTLS fingerprint hash.
        dtls_fingerprint: DtlsFingerprint = ("dtls_fingerprint", "SHA-256", NotYet),
        /// 32-bit SRTP authentication tag.
        srtp_tag_32: bool = ("srtp_tag_32", "no", NotYet),
        /// Use SRTP when the peer agrees, plain RTP otherwise.
        media_encryption_optimistic: bool = ("media_encryption_optimistic", "no", NotYet),
        /// AAL2 packing for G.726.
        g726_non_standard: bool = ("g726_non_standard", "no", NotYet),
        /// How received 3xx are handled.
        redirect_method: RedirectMethod = ("redirect_method", "user", NotYet),
        /// Channel variables, `NAME=value`, one per line.
        set_var: Repeated<String> = ("set_var", "", NotYet),
        /// Context for inbound MESSAGE.
        message_context: String = ("message_context", "", NotYet),
        /// CDR account code.
        accountcode: String = ("accountcode", "", NotYet),
        /// Source-address rules: `permit` and `deny` lines in the order written (`deny` is
        /// an alias read as `permit` with each entry's `!` flipped); see
        /// [`crate::acl::check_endpoint`].
        source_rules: HaRules = ("permit", "", Yes),
        /// Named ACLs (acl.conf) for the source address.
        acl: ListOf<Name> = ("acl", "", Yes),
        /// Contact-host rules: `contact_permit` and `contact_deny` lines in the order
        /// written (`contact_deny` is an alias, as `deny` is).
        contact_rules: HaRules = ("contact_permit", "", Yes),
        /// Named ACLs (acl.conf) for Contact hosts.
        contact_acl: ListOf<Name> = ("contact_acl", "", Yes),
        /// Context for subscriptions (default: `context`).
        subscribe_context: String = ("subscribe_context", "", NotYet),
        /// User part of our Contact on outgoing requests.
        contact_user: String = ("contact_user", "", Yes),
        /// Answer with a single codec (deprecated).
        preferred_codec_only: bool = ("preferred_codec_only", "no", NotYet),
        /// Allow different send and receive codecs.
        asymmetric_rtp_codec: bool = ("asymmetric_rtp_codec", "no", NotYet),
        /// RTP and RTCP on one port (RFC 5761).
        rtcp_mux: bool = ("rtcp_mux", "no", NotYet),
        /// Overlap dialing (484).
        allow_overlap: bool = ("allow_overlap", "yes", NotYet),
        /// Progress NOTIFYs on blind transfer.
        refer_blind_progress: bool = ("refer_blind_progress", "yes", NotYet),
        /// dialog-info `early` when in use and ringing.
        notify_early_inuse_ringing: bool = ("notify_early_inuse_ringing", "no", NotYet),
        /// Audio streams allowed.
        max_audio_streams: u32 = ("max_audio_streams", "1", NotYet),
        /// Video streams allowed.
        max_video_streams: u32 = ("max_video_streams", "1", NotYet),
        /// BUNDLE (RFC 8843); implies `rtcp_mux`.
        bundle: bool = ("bundle", "no", NotYet),
        /// WebRTC defaults (see [`Endpoint::with_forced_settings`]).
        webrtc: bool = ("webrtc", "no", NotYet),
        /// Mailbox for MWI NOTIFYs received from this endpoint.
        incoming_mwi_mailbox: String = ("incoming_mwi_mailbox", "", NotYet),
        /// Follow SDP of forked early media.
        follow_early_media_fork: bool = ("follow_early_media_fork", "yes", NotYet),
        /// Accept changed SDP in later same-tag responses.
        accept_multiple_sdp_answers: bool = ("accept_multiple_sdp_answers", "no", NotYet),
        /// Don't send Reason: Q.850.
        suppress_q850_reason_headers: bool = ("suppress_q850_reason_headers", "no", NotYet),
        /// Don't pass on 183 without SDP.
        ignore_183_without_sdp: bool = ("ignore_183_without_sdp", "no", NotYet),
        /// Codec choice for incoming offers.
        incoming_call_offer_pref: IncomingCallOfferPref =
            ("incoming_call_offer_pref", "local", Yes),
        /// Codec choice for outgoing offers.
        outgoing_call_offer_pref: OutgoingCallOfferPref =
            ("outgoing_call_offer_pref", "remote_merge", Yes),
        /// Codec negotiation of incoming offers.
        codec_prefs_incoming_offer: CodecPrefs = ("codec_prefs_incoming_offer",
            "prefer: pending, operation: intersect, keep: all, transcode: allow", NotYet),
        /// Codec negotiation of outgoing offers.
        codec_prefs_outgoing_offer: CodecPrefs = ("codec_prefs_outgoing_offer",
            "prefer: pending, operation: union, keep: all, transcode: allow", NotYet),
        /// Codec negotiation of incoming answers.
        codec_prefs_incoming_answer: CodecPrefs = ("codec_prefs_incoming_answer",
            "prefer: pending, operation: intersect, keep: all", NotYet),
        /// Codec negotiation of outgoing answers.
        codec_prefs_outgoing_answer: CodecPrefs = ("codec_prefs_outgoing_answer",
            "prefer: pending, operation: intersect, keep: all", NotYet),
        /// STIR/SHAKEN.
        stir_shaken: StirShaken = ("stir_shaken", "off", NotYet),
        /// Don't challenge out-of-dialog OPTIONS.
        allow_unauthenticated_options: bool =
            ("allow_unauthenticated_options", "no", Yes),
        /// STIR/SHAKEN profile (stir_shaken.conf).
        stir_shaken_profile: String = ("stir_shaken_profile", "", NotYet),
        /// RFC 3329 security agreement.
        security_negotiation: SecurityNegotiation = ("security_negotiation", "no", NotYet),
        /// RFC 3329 mechanisms offered.
        security_mechanisms: ListOf<SecurityMechanism> = ("security_mechanisms", "", NotYet),
        /// Advice of charge.
        send_aoc: bool = ("send_aoc", "no", NotYet),
        /// Geolocation profile of incoming calls.
        geoloc_incoming_call_profile: String = ("geoloc_incoming_call_profile", "", NotYet),
        /// Geolocation profile of outgoing calls.
        geoloc_outgoing_call_profile: String = ("geoloc_outgoing_call_profile", "", NotYet),
        /// Context for overlap dialing (default: `context`).
        overlap_context: String = ("overlap_context", "", NotYet),
        /// Tenant id.
        tenantid: String = ("tenantid", "", NotYet),
        /// No music on hold when the peer sends sendonly/inactive.
        suppress_moh_on_sendonly: bool = ("suppress_moh_on_sendonly", "no", NotYet),
        /// Requests whose 3xx are followed.
        follow_redirect_methods: ListOf<FollowRedirectMethod> =
            ("follow_redirect_methods", "", NotYet),
        /// First RTP port of this endpoint's range (0 = global range).
        rtp_port_start: u16 = ("rtp_port_start", "0", NotYet),
        /// Last RTP port of this endpoint's range.
        rtp_port_end: u16 = ("rtp_port_end", "0", NotYet),
    }
}

/// `disallow=a,b` is `allow=!a,!b`.
fn disallow_to_allow(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("!{s}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Characters Asterisk accepts in `from_user` besides letters and digits.
const FROM_USER_MARKS: &str = "-._~%!$&'()*+,;=:";

/// Why a `callerid` value is not `"Name" <number>`, `Name <number>`, `<number>`, a bare
/// number or a bare name. The check is light: only unbalanced quotes and brackets fail.
fn callerid_problem(value: &str) -> Option<&'static str> {
    let v = value.trim();
    let rest = match v.strip_prefix('"') {
        Some(after) => match after.find('"') {
            Some(end) => &after[end + 1..],
            None => return Some("the name's opening quote is not closed"),
        },
        None => v,
    };
    match (rest.find('<'), rest.rfind('>')) {
        (None, None) => None,
        (Some(open), Some(close)) if open < close && rest[close + 1..].trim().is_empty() => None,
        (Some(_), _) => Some("the '<' before the number is not closed by a final '>'"),
        (None, Some(_)) => Some("'>' without '<'"),
    }
}

impl Endpoint {
    /// The endpoint as Asterisk uses it after its apply handler: `bundle` turns on
    /// `rtcp_mux`; `webrtc` turns on bundle, rtcp_mux, AVPF, ICE and the received
    /// transport, and DTLS-SRTP with `dtls_verify=fingerprint`, `dtls_setup=actpass`, no
    /// rekeying and an ephemeral certificate when none is given. Kept out of validation,
    /// which must not change the object.
    pub fn with_forced_settings(&self) -> Self {
        let mut e = self.clone();
        e.rtcp_mux |= e.bundle;
        if e.webrtc {
            e.bundle = true;
            e.rtcp_mux = true;
            e.use_avpf = true;
            e.ice_support = true;
            e.media_use_received_transport = true;
            e.media_encryption = MediaEncryption::Dtls;
            e.dtls_verify = DtlsVerify::Fingerprint;
            e.dtls_setup = DtlsSetup::Actpass;
            e.dtls_rekey = 0;
            if e.dtls_cert_file.is_empty() {
                e.dtls_auto_generate_cert = true;
            }
        }
        e
    }

    /// The channel variables of `set_var` as (name, value); later lines win over earlier
    /// ones with the same name, as in Asterisk.
    pub fn channel_vars(&self) -> Vec<(&str, &str)> {
        let mut vars: Vec<(&str, &str)> = Vec::new();
        for (name, value) in self.set_var.0.iter().filter_map(|v| v.split_once('=')) {
            let name = name.trim();
            match vars.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => vars.push((name, value)),
            }
        }
        vars
    }

    /// Checks of the RTP port range (Asterisk's apply handler).
    fn rtp_port_errors(&self, id: &str, errors: &mut Vec<String>) {
        match (self.rtp_port_start, self.rtp_port_end) {
            (0, 0) => {}
            (0, _) | (_, 0) => errors.push(format!(
                "rtp_port_start and rtp_port_end must be set together on endpoint '{id}'"
            )),
            (start, end) => {
                if start < 1024 || end < 1024 {
                    errors.push(format!(
                        "rtp_port_start and rtp_port_end must be 1024 or greater on endpoint '{id}'"
                    ));
                }
                if end <= start {
                    errors.push(format!(
                        "rtp_port_end ({end}) must be greater than rtp_port_start ({start}) \
                         on endpoint '{id}'"
                    ));
                }
            }
        }
    }
}

impl ConfigObject for Endpoint {
    const KIND: Kind = Kind::Endpoint;
    const ALIASES: &'static [Alias] = &[
        Alias {
            name: "disallow",
            target: "allow",
            rewrite: disallow_to_allow,
        },
        DENY_ALIAS,
        CONTACT_DENY_ALIAS,
    ];

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        // `anonymous` is an identifier name, not an identify_by method.
        if self
            .identify_by
            .iter()
            .any(|m| *m == IdentifyMethod::Anonymous)
        {
            errors.push(format!(
                "Unrecognized identification method anonymous specified for endpoint {id}"
            ));
        }
        if self.timers_min_se < 90 {
            errors.push(format!(
                "Session timer minimum expires time must be 90 or greater on endpoint '{id}'"
            ));
        } else if self.timers_sess_expires < self.timers_min_se {
            errors.push(format!(
                "Session timer expires must be greater than minimum session expires time on \
                 endpoint '{id}'"
            ));
        }
        self.rtp_port_errors(id, &mut errors);
        if self.dtls_auto_generate_cert && !self.dtls_cert_file.is_empty() {
            errors.push(
                "You cannot request automatically generated certificates \
                 (dtls_auto_generate_cert) and also specify a certificate file \
                 (dtls_cert_file) at the same time"
                    .to_string(),
            );
        }
        if self.preferred_codec_only
            && self.incoming_call_offer_pref != IncomingCallOfferPref::Local
        {
            errors.push(format!(
                "Setting both preferred_codec_only and incoming_call_offer_pref is not \
                 supported on endpoint '{id}'"
            ));
        }
        if self.codec_prefs_incoming_offer.operation == Some(CodecOperation::Union) {
            errors.push(format!(
                "Endpoint '{id}': Codec preference 'operation' has invalid value 'union' for \
                 option: 'codec_prefs_incoming_offer'"
            ));
        }
        if let Some(c) = self
            .from_user
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !FROM_USER_MARKS.contains(*c))
        {
            errors.push(format!(
                "Error configuring endpoint '{id}' - 'from_user' field contains invalid \
                 character '{c}'"
            ));
        }
        if let Some(problem) = callerid_problem(&self.callerid) {
            errors.push(format!(
                "callerid '{}' on endpoint '{id}' is not \"Name\" <number>: {problem}",
                self.callerid
            ));
        }
        for var in &self.set_var.0 {
            if var.split_once('=').is_none_or(|(n, _)| n.trim().is_empty()) {
                errors.push(format!(
                    "set_var '{var}' on endpoint '{id}' is not NAME=value"
                ));
            }
        }
        errors
    }

    fn references(&self) -> Vec<Reference> {
        let mut r: Vec<Reference> = refs("aors", Kind::Aor, self.aors.iter())
            .chain(refs("auth", Kind::Auth, self.auth.iter()))
            .chain(refs("outbound_auth", Kind::Auth, self.outbound_auth.iter()))
            .collect();
        if !self.transport.is_empty() {
            r.push(Reference::new(
                "transport",
                Kind::Transport,
                &self.transport,
            ));
        }
        r
    }

    fn into_object(self) -> Object {
        Object::Endpoint(Box::new(self))
    }
}
