//! `type=domain_alias`: the section name is an alias for `domain`.

use super::{ConfigObject, Kind, Object};
use crate::define_object;

define_object! {
    /// A domain alias.
    pub struct DomainAlias {
        /// The real domain.
        domain: String = ("domain", "", Yes),
    }
}

impl ConfigObject for DomainAlias {
    const KIND: Kind = Kind::DomainAlias;

    fn validate(&self, id: &str) -> Vec<String> {
        if self.domain.is_empty() {
            return vec![format!("domain_alias '{id}' has no domain")];
        }
        Vec::new()
    }

    fn into_object(self) -> Object {
        Object::DomainAlias(self)
    }
}
