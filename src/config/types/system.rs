//! `[system]`: low-level stack settings read at start-up (Asterisk `res_pjsip/config_system.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::Alias;
use crate::define_object;

define_object! {
    /// System settings.
    pub struct System {
        /// RFC 3261 T1, ms (Asterisk raises values below 100 to 100).
        timer_t1: u32 = ("timer_t1", "500", Yes),
        /// RFC 3261 Timer B, ms (Asterisk raises values below 64 * T1).
        timer_b: u32 = ("timer_b", "32000", Yes),
        /// Compact header names.
        compact_headers: bool = ("compact_headers", "no", NotYet),
        /// Fewest worker threads.
        taskpool_minimum_size: u32 = ("taskpool_minimum_size", "4", NotYet),
        /// Worker threads at start.
        taskpool_initial_size: u32 = ("taskpool_initial_size", "4", NotYet),
        /// Threads added when all are busy.
        taskpool_auto_increment: u32 = ("taskpool_auto_increment", "1", NotYet),
        /// Seconds before an idle thread ends.
        taskpool_idle_timeout: u32 = ("taskpool_idle_timeout", "60", NotYet),
        /// Most worker threads.
        taskpool_max_size: u32 = ("taskpool_max_size", "50", NotYet),
        /// Don't switch from UDP to TCP for large requests.
        disable_tcp_switch: bool = ("disable_tcp_switch", "yes", NotYet),
        /// Follow SDP of forked early media (stack-wide switch).
        follow_early_media_fork: bool = ("follow_early_media_fork", "yes", NotYet),
        /// Accept changed SDP in later same-tag responses (stack-wide switch).
        accept_multiple_sdp_answers: bool = ("accept_multiple_sdp_answers", "no", NotYet),
        /// Don't add `;rport` to our Via.
        disable_rport: bool = ("disable_rport", "no", NotYet),
    }
}

/// Deprecated names keep their value.
fn same(value: &str) -> String {
    value.to_string()
}

impl ConfigObject for System {
    const KIND: Kind = Kind::System;
    // Asterisk renamed its threadpool to taskpool; the old names still work.
    const ALIASES: &'static [Alias] = &[
        Alias {
            name: "threadpool_initial_size",
            target: "taskpool_initial_size",
            rewrite: same,
        },
        Alias {
            name: "threadpool_auto_increment",
            target: "taskpool_auto_increment",
            rewrite: same,
        },
        Alias {
            name: "threadpool_idle_timeout",
            target: "taskpool_idle_timeout",
            rewrite: same,
        },
        Alias {
            name: "threadpool_max_size",
            target: "taskpool_max_size",
            rewrite: same,
        },
    ];

    fn into_object(self) -> Object {
        Object::System(self)
    }
}
