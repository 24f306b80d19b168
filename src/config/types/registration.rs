//! `type=registration`: an outbound registration to a trunk's registrar
//! (Asterisk `res_pjsip_outbound_registration.c`).

use super::endpoint_values::{SecurityMechanism, SecurityNegotiation};
use super::{ConfigObject, Kind, Object, Reference, refs};
use crate::config::options::{ListOf, Name, SipUri};
use crate::define_object;

define_object! {
    /// An outbound registration.
    pub struct Registration {
        /// Registrar Request-URI.
        server_uri: SipUri = ("server_uri", "", NotYet),
        /// AOR registered (To/From).
        client_uri: SipUri = ("client_uri", "", NotYet),
        /// Contact user part.
        contact_user: String = ("contact_user", "s", NotYet),
        /// Extra parameters appended to the Contact URI.
        contact_header_params: String = ("contact_header_params", "", NotYet),
        /// Transport.
        transport: String = ("transport", "", NotYet),
        /// Proxy the REGISTER goes through.
        outbound_proxy: SipUri = ("outbound_proxy", "", NotYet),
        /// Requested expiry, seconds.
        expiration: u32 = ("expiration", "3600", NotYet),
        /// First attempt at a random 1..N seconds after load.
        max_random_initial_delay: u32 = ("max_random_initial_delay", "10", NotYet),
        /// Delay after a temporary failure, seconds.
        retry_interval: u32 = ("retry_interval", "60", NotYet),
        /// Retry after 403 after this many seconds (0 = give up).
        forbidden_retry_interval: u32 = ("forbidden_retry_interval", "0", NotYet),
        /// Retry after other fatal responses after this many seconds (0 = give up).
        fatal_retry_interval: u32 = ("fatal_retry_interval", "0", NotYet),
        /// Attempts before giving up.
        max_retries: u32 = ("max_retries", "10", NotYet),
        /// A failed challenge response is permanent.
        auth_rejection_permanent: bool = ("auth_rejection_permanent", "yes", NotYet),
        /// Auth objects for challenges.
        outbound_auth: ListOf<Name> = ("outbound_auth", "", NotYet),
        /// Advertise Path support.
        support_path: bool = ("support_path", "no", NotYet),
        /// RFC 5626 outbound (`reg-id`, `+sip.instance`).
        support_outbound: bool = ("support_outbound", "no", NotYet),
        /// Add `;line=` to the Contact to identify inbound requests.
        line: bool = ("line", "no", NotYet),
        /// Endpoint for `line` identification.
        endpoint: String = ("endpoint", "", NotYet),
        /// User-Agent of the REGISTER (default: global `user_agent`).
        user_agent: String = ("user_agent", "", NotYet),
        /// RFC 3329 security agreement.
        security_negotiation: SecurityNegotiation = ("security_negotiation", "no", NotYet),
        /// RFC 3329 mechanisms offered.
        security_mechanisms: ListOf<SecurityMechanism> = ("security_mechanisms", "", NotYet),
    }
}

impl ConfigObject for Registration {
    const KIND: Kind = Kind::Registration;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.server_uri.0.is_empty() {
            errors.push(format!(
                "No server URI specified on outbound registration '{id}'"
            ));
        }
        if self.client_uri.0.is_empty() {
            errors.push(format!(
                "No client URI specified on outbound registration '{id}'"
            ));
        }
        if self.line && self.endpoint.is_empty() {
            errors.push(format!(
                "Line support has been enabled on outbound registration '{id}' without \
                 providing an endpoint"
            ));
        } else if !self.line && !self.endpoint.is_empty() {
            errors.push(format!(
                "An endpoint has been specified on outbound registration '{id}' without \
                 enabling line support"
            ));
        }
        errors
    }

    fn references(&self) -> Vec<Reference> {
        let mut r: Vec<Reference> =
            refs("outbound_auth", Kind::Auth, self.outbound_auth.iter()).collect();
        if !self.transport.is_empty() {
            r.push(Reference::new(
                "transport",
                Kind::Transport,
                &self.transport,
            ));
        }
        if !self.endpoint.is_empty() {
            r.push(Reference::new("endpoint", Kind::Endpoint, &self.endpoint));
        }
        r
    }

    fn into_object(self) -> Object {
        Object::Registration(Box::new(self))
    }
}
