//! `type=contact`: a contact written in the configuration (registered contacts live in the
//! location service, not here). The fields are those Asterisk stores for every contact
//! (`res_pjsip/location.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::SipUri;
use crate::define_object;

define_object! {
    /// A static contact.
    pub struct Contact {
        /// The contact URI.
        uri: SipUri = ("uri", "", NotYet),
        /// Path header values from the REGISTER (RFC 3327).
        path: String = ("path", "", NotYet),
        /// When the contact expires, absolute Unix seconds (0 = never).
        expiration_time: u64 = ("expiration_time", "0", NotYet),
        /// OPTIONS ping interval, seconds (0 to 86400).
        qualify_frequency: u32 = ("qualify_frequency", "0", NotYet),
        /// Wait for an OPTIONS answer, seconds.
        qualify_timeout: f64 = ("qualify_timeout", "3.0", NotYet),
        /// Only a 2xx makes the contact reachable.
        qualify_2xx_only: bool = ("qualify_2xx_only", "no", NotYet),
        /// Answer challenges to qualify OPTIONS.
        authenticate_qualify: bool = ("authenticate_qualify", "no", NotYet),
        /// Proxy for requests to the contact.
        outbound_proxy: SipUri = ("outbound_proxy", "", NotYet),
        /// User-Agent of the REGISTER.
        user_agent: String = ("user_agent", "", NotYet),
        /// Endpoint that registered it.
        endpoint: String = ("endpoint", "", NotYet),
        /// Server (system name) that accepted the registration.
        reg_server: String = ("reg_server", "", NotYet),
        /// Address of the last Via of the REGISTER.
        via_addr: String = ("via_addr", "", NotYet),
        /// Port of the last Via of the REGISTER.
        via_port: u16 = ("via_port", "0", NotYet),
        /// Call-ID of the REGISTER.
        call_id: String = ("call_id", "", NotYet),
        /// Reachable only over the current connection: deleted at start-up.
        prune_on_boot: bool = ("prune_on_boot", "no", NotYet),
    }
}

impl ConfigObject for Contact {
    const KIND: Kind = Kind::Contact;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.uri.0.is_empty() {
            errors.push(format!("Contact '{id}' has no uri"));
        }
        if self.qualify_frequency > 86_400 {
            errors.push(format!(
                "qualify_frequency {} is more than 86400 seconds",
                self.qualify_frequency
            ));
        }
        errors
    }

    fn into_object(self) -> Object {
        Object::Contact(self)
    }
}
