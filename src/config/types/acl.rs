//! `type=acl`: source-address and Contact ACLs applied to every request
//! (Asterisk `res_pjsip_acl.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::{ListOf, Name, Networks};
use crate::define_object;

define_object! {
    /// An ACL.
    pub struct Acl {
        /// Named ACLs from acl.conf, for the source address.
        acl: ListOf<Name> = ("acl", "", NotYet),
        /// Permitted source networks.
        permit: Networks = ("permit", "", NotYet),
        /// Denied source networks.
        deny: Networks = ("deny", "", NotYet),
        /// Named ACLs from acl.conf, for Contact hosts.
        contact_acl: ListOf<Name> = ("contact_acl", "", NotYet),
        /// Permitted Contact networks.
        contact_permit: Networks = ("contact_permit", "", NotYet),
        /// Denied Contact networks.
        contact_deny: Networks = ("contact_deny", "", NotYet),
    }
}

impl ConfigObject for Acl {
    const KIND: Kind = Kind::Acl;

    fn into_object(self) -> Object {
        Object::Acl(self)
    }
}
