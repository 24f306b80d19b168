//! `[system]`: low-level stack settings read at start-up (Asterisk `res_pjsip/config_system.c`).

use super::{ConfigObject, Kind, Object};
use crate::define_object;

define_object! {
    /// System settings.
    pub struct System {
        /// RFC 3261 T1, ms.
        timer_t1: u32 = ("timer_t1", "500", NotYet),
        /// RFC 3261 Timer B, ms.
        timer_b: u32 = ("timer_b", "32000", NotYet),
    }
}

impl ConfigObject for System {
    const KIND: Kind = Kind::System;

    fn into_object(self) -> Object {
        Object::System(self)
    }
}
