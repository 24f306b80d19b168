//! `[global]`: settings for the whole SIP stack (Asterisk `res_pjsip/config_global.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::ListOf;
use crate::config::types::IdentifyMethod;
use crate::define_object;

define_object! {
    /// Global settings.
    pub struct Global {
        /// Max-Forwards on new requests.
        max_forwards: u32 = ("max_forwards", "70", NotYet),
        /// User-Agent / Server header.
        user_agent: String = ("user_agent", "pjsipd", NotYet),
        /// Identifier order.
        endpoint_identifier_order: ListOf<IdentifyMethod> = ("endpoint_identifier_order", "ip,username", NotYet),
        /// Default realm.
        default_realm: String = ("default_realm", "asterisk", NotYet),
    }
}

impl ConfigObject for Global {
    const KIND: Kind = Kind::Global;

    fn into_object(self) -> Object {
        Object::Global(self)
    }
}
