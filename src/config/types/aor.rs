//! `type=aor`: an address of record, the set of contacts an endpoint is reached at
//! (Asterisk `res_pjsip/location.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::{ListOf, Name, SipUri};
use crate::define_object;

define_object! {
    /// An address of record.
    pub struct Aor {
        /// Permanent contacts (comma-separated; lines add, as in Asterisk).
        contact: ListOf<SipUri> = ("contact", "", Yes),
        /// Most dynamic contacts; 0 refuses REGISTER with 403.
        max_contacts: u32 = ("max_contacts", "0", Yes),
        /// Evict the soonest-expiring contact instead of refusing.
        remove_existing: bool = ("remove_existing", "no", Yes),
        /// Prefer evicting unreachable contacts.
        remove_unavailable: bool = ("remove_unavailable", "no", Yes),
        /// Lowest expiry granted, seconds.
        minimum_expiration: u32 = ("minimum_expiration", "60", Yes),
        /// Highest expiry granted, seconds.
        maximum_expiration: u32 = ("maximum_expiration", "7200", Yes),
        /// Expiry when the REGISTER asks for none, seconds.
        default_expiration: u32 = ("default_expiration", "3600", Yes),
        /// OPTIONS ping interval, seconds (0 = off).
        qualify_frequency: u32 = ("qualify_frequency", "0", Yes),
        /// Wait for an OPTIONS answer, seconds.
        qualify_timeout: f64 = ("qualify_timeout", "3.0", Yes),
        /// Only a 2xx makes a contact reachable.
        qualify_2xx_only: bool = ("qualify_2xx_only", "no", Yes),
        /// Answer challenges to qualify OPTIONS.
        authenticate_qualify: bool = ("authenticate_qualify", "no", Yes),
        /// Proxy for qualify OPTIONS.
        outbound_proxy: SipUri = ("outbound_proxy", "", NotYet),
        /// Store Path (RFC 3327) from REGISTER.
        support_path: bool = ("support_path", "no", Yes),
        /// pjsipd: answer 423 Interval Too Brief (with Min-Expires) to an expiry below
        /// minimum_expiration instead of raising it, as RFC 3261 10.3 allows.
        reject_short_expiration: bool = ("reject_short_expiration", "no", Yes),
        /// Mailboxes for solicited MWI.
        mailboxes: ListOf<Name> = ("mailboxes", "", NotYet),
        /// Message-Account value.
        voicemail_extension: String = ("voicemail_extension", "", NotYet),
    }
}

impl ConfigObject for Aor {
    const KIND: Kind = Kind::Aor;

    fn validate(&self, _id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.qualify_frequency > 86_400 {
            errors.push(format!(
                "qualify_frequency {} is more than 86400 seconds",
                self.qualify_frequency
            ));
        }
        if self.minimum_expiration > self.maximum_expiration {
            errors.push(format!(
                "minimum_expiration ({}) is greater than maximum_expiration ({})",
                self.minimum_expiration, self.maximum_expiration
            ));
        }
        errors
    }

    fn into_object(self) -> Object {
        Object::Aor(self)
    }
}
