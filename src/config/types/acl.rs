//! `type=acl`: source-address and Contact ACLs applied to every request
//! (Asterisk `res_pjsip_acl.c`), evaluated by [`crate::acl::check_request`].

use super::{ConfigObject, Kind, Object};
use crate::config::options::{Alias, CONTACT_DENY_ALIAS, DENY_ALIAS, HaRules, ListOf, Name};
use crate::define_object;

define_object! {
    /// An ACL.
    pub struct Acl {
        /// Named ACLs from acl.conf, for the source address.
        acl: ListOf<Name> = ("acl", "", Yes),
        /// Source-address rules: `permit` and `deny` lines in the order written (`deny` is
        /// an alias read as `permit` with each entry's `!` flipped).
        source_rules: HaRules = ("permit", "", Yes),
        /// Named ACLs from acl.conf, for Contact hosts.
        contact_acl: ListOf<Name> = ("contact_acl", "", Yes),
        /// Contact-host rules: `contact_permit` and `contact_deny` lines in the order
        /// written (`contact_deny` is an alias, as `deny` is).
        contact_rules: HaRules = ("contact_permit", "", Yes),
    }
}

impl ConfigObject for Acl {
    const KIND: Kind = Kind::Acl;
    /// `deny` and `contact_deny` append to the rules of `permit` and `contact_permit`, so
    /// that the order of the lines is kept.
    const ALIASES: &'static [Alias] = &[DENY_ALIAS, CONTACT_DENY_ALIAS];

    fn into_object(self) -> Object {
        Object::Acl(self)
    }
}
