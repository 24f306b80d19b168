//! `type=contact`: a contact written in the configuration (registered contacts live in the
//! location service, not here).

use super::{ConfigObject, Kind, Object};
use crate::config::options::SipUri;
use crate::define_object;

define_object! {
    /// A static contact.
    pub struct Contact {
        /// The contact URI.
        uri: SipUri = ("uri", "", NotYet),
        /// OPTIONS ping interval, seconds.
        qualify_frequency: u32 = ("qualify_frequency", "0", NotYet),
        /// Wait for an OPTIONS answer, seconds.
        qualify_timeout: f64 = ("qualify_timeout", "3.0", NotYet),
    }
}

impl ConfigObject for Contact {
    const KIND: Kind = Kind::Contact;

    fn validate(&self, id: &str) -> Vec<String> {
        if self.uri.0.is_empty() {
            return vec![format!("Contact '{id}' has no uri")];
        }
        Vec::new()
    }

    fn into_object(self) -> Object {
        Object::Contact(self)
    }
}
