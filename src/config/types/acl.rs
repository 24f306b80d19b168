//! `type=acl`: source-address and Contact ACLs applied to every request
//! (Asterisk `res_pjsip_acl.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::Networks;
use crate::define_object;

define_object! {
    /// An ACL.
    pub struct Acl {
        /// Permitted source networks.
        permit: Networks = ("permit", "", NotYet),
        /// Denied source networks.
        deny: Networks = ("deny", "", NotYet),
    }
}

impl ConfigObject for Acl {
    const KIND: Kind = Kind::Acl;

    fn into_object(self) -> Object {
        Object::Acl(self)
    }
}
