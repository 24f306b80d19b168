//! `type=registration`: an outbound registration to a trunk's registrar
//! (Asterisk `res_pjsip_outbound_registration.c`).

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
        /// Transport.
        transport: String = ("transport", "", NotYet),
        /// Auth objects for challenges.
        outbound_auth: ListOf<Name> = ("outbound_auth", "", NotYet),
        /// Requested expiry, seconds.
        expiration: u32 = ("expiration", "3600", NotYet),
        /// Endpoint for `line` identification.
        endpoint: String = ("endpoint", "", NotYet),
    }
}

impl ConfigObject for Registration {
    const KIND: Kind = Kind::Registration;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.server_uri.0.is_empty() {
            errors.push(format!("No server URI specified on outbound registration '{id}'"));
        }
        if self.client_uri.0.is_empty() {
            errors.push(format!("No client URI specified on outbound registration '{id}'"));
        }
        errors
    }

    fn references(&self) -> Vec<Reference> {
        let mut r: Vec<Reference> =
            refs("outbound_auth", Kind::Auth, self.outbound_auth.iter()).collect();
        if !self.transport.is_empty() {
            r.push(Reference::new("transport", Kind::Transport, &self.transport));
        }
        if !self.endpoint.is_empty() {
            r.push(Reference::new("endpoint", Kind::Endpoint, &self.endpoint));
        }
        r
    }

    fn into_object(self) -> Object {
        Object::Registration(self)
    }
}
