//! Hangup causes (Q.850), their SIP status codes and Dial()'s DIALSTATUS.
//!
//! The values are Asterisk's (`include/asterisk/causes.h`), not strictly Q.850: Asterisk
//! has no "originator cancel" cause (a caller giving up shows as DIALSTATUS `CANCEL`), and
//! its aliases (`AST_CAUSE_BUSY`, `AST_CAUSE_CONGESTION`, `AST_CAUSE_FAILURE`, ...) are the
//! constants below under their Q.850 names.
//! - [`Cause::from_sip`] is chan_pjsip's `hangup_sip2cause` (a final response received).
//! - [`Cause::to_sip`] is chan_pjsip's `hangup_cause2sip` (the response we send when a
//!   channel that is not answered hangs up).
//! - [`DialStatus::after_failures`] is how app_dial turns the causes of the callees that
//!   failed into DIALSTATUS.

use std::fmt;

/// An Asterisk hangup cause code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cause(pub u16);

/// Code, symbolic name (as `Hangup(NAME)` accepts it) and text (`ast_cause2str`).
const TABLE: &[(u16, &str, &str)] = &[
    (1, "UNALLOCATED", "Unallocated (unassigned) number"),
    (
        2,
        "NO_ROUTE_TRANSIT_NET",
        "No route to specified transmit network",
    ),
    (3, "NO_ROUTE_DESTINATION", "No route to destination"),
    (5, "MISDIALLED_TRUNK_PREFIX", "Misdialed trunk prefix"),
    (6, "CHANNEL_UNACCEPTABLE", "Channel unacceptable"),
    (
        7,
        "CALL_AWARDED_DELIVERED",
        "Call awarded and being delivered in an established channel",
    ),
    (14, "NUMBER_PORTED_NOT_HERE", "Number ported elsewhere"),
    (16, "NORMAL_CLEARING", "Normal Clearing"),
    (17, "USER_BUSY", "User busy"),
    (18, "NO_USER_RESPONSE", "No user responding"),
    (19, "NO_ANSWER", "User alerting, no answer"),
    (20, "SUBSCRIBER_ABSENT", "Subscriber absent"),
    (21, "CALL_REJECTED", "Call Rejected"),
    (22, "NUMBER_CHANGED", "Number changed"),
    (
        23,
        "REDIRECTED_TO_NEW_DESTINATION",
        "Redirected to new destination",
    ),
    (26, "ANSWERED_ELSEWHERE", "Answered elsewhere"),
    (27, "DESTINATION_OUT_OF_ORDER", "Destination out of order"),
    (28, "INVALID_NUMBER_FORMAT", "Invalid number format"),
    (29, "FACILITY_REJECTED", "Facility rejected"),
    (
        30,
        "RESPONSE_TO_STATUS_ENQUIRY",
        "Response to STATus ENQuiry",
    ),
    (31, "NORMAL_UNSPECIFIED", "Normal, unspecified"),
    (
        34,
        "NORMAL_CIRCUIT_CONGESTION",
        "Circuit/channel congestion",
    ),
    (38, "NETWORK_OUT_OF_ORDER", "Network out of order"),
    (41, "NORMAL_TEMPORARY_FAILURE", "Temporary failure"),
    (42, "SWITCH_CONGESTION", "Switching equipment congestion"),
    (43, "ACCESS_INFO_DISCARDED", "Access information discarded"),
    (
        44,
        "REQUESTED_CHAN_UNAVAIL",
        "Requested channel not available",
    ),
    (45, "PRE_EMPTED", "Pre-empted"),
    (50, "FACILITY_NOT_SUBSCRIBED", "Facility not subscribed"),
    (52, "OUTGOING_CALL_BARRED", "Outgoing call barred"),
    (54, "INCOMING_CALL_BARRED", "Incoming call barred"),
    (
        57,
        "BEARERCAPABILITY_NOTAUTH",
        "Bearer capability not authorized",
    ),
    (
        58,
        "BEARERCAPABILITY_NOTAVAIL",
        "Bearer capability not available",
    ),
    (
        65,
        "BEARERCAPABILITY_NOTIMPL",
        "Bearer capability not implemented",
    ),
    (66, "CHAN_NOT_IMPLEMENTED", "Channel not implemented"),
    (69, "FACILITY_NOT_IMPLEMENTED", "Facility not implemented"),
    (81, "INVALID_CALL_REFERENCE", "Invalid call reference value"),
    (88, "INCOMPATIBLE_DESTINATION", "Incompatible destination"),
    (95, "INVALID_MSG_UNSPECIFIED", "Invalid message unspecified"),
    (
        96,
        "MANDATORY_IE_MISSING",
        "Mandatory information element is missing",
    ),
    (97, "MESSAGE_TYPE_NONEXIST", "Message type nonexist."),
    (98, "WRONG_MESSAGE", "Wrong message"),
    (
        99,
        "IE_NONEXIST",
        "Info. element nonexist or not implemented",
    ),
    (
        100,
        "INVALID_IE_CONTENTS",
        "Invalid information element contents",
    ),
    (
        101,
        "WRONG_CALL_STATE",
        "Message not compatible with call state",
    ),
    (102, "RECOVERY_ON_TIMER_EXPIRE", "Recover on timer expiry"),
    (
        103,
        "MANDATORY_IE_LENGTH_ERROR",
        "Mandatory IE length error",
    ),
    (111, "PROTOCOL_ERROR", "Protocol error, unspecified"),
    (127, "INTERWORKING", "Interworking, unspecified"),
];

impl Cause {
    /// 0: no cause recorded (`AST_CAUSE_NOTDEFINED`).
    pub const NOT_DEFINED: Cause = Cause(0);
    /// 1: the number does not exist.
    pub const UNALLOCATED: Cause = Cause(1);
    /// 2.
    pub const NO_ROUTE_TRANSIT_NET: Cause = Cause(2);
    /// 3: unknown endpoint or extension.
    pub const NO_ROUTE_DESTINATION: Cause = Cause(3);
    /// 6: unusable dial string.
    pub const CHANNEL_UNACCEPTABLE: Cause = Cause(6);
    /// 16: an ordinary hangup.
    pub const NORMAL_CLEARING: Cause = Cause(16);
    /// 17 (Asterisk's `AST_CAUSE_BUSY`).
    pub const USER_BUSY: Cause = Cause(17);
    /// 18: no response (SIP 408).
    pub const NO_USER_RESPONSE: Cause = Cause(18);
    /// 19: rang, not answered (Asterisk's `AST_CAUSE_NOANSWER`).
    pub const NO_ANSWER: Cause = Cause(19);
    /// 20 (Asterisk's `AST_CAUSE_UNREGISTERED`).
    pub const SUBSCRIBER_ABSENT: Cause = Cause(20);
    /// 21.
    pub const CALL_REJECTED: Cause = Cause(21);
    /// 22.
    pub const NUMBER_CHANGED: Cause = Cause(22);
    /// 27.
    pub const DESTINATION_OUT_OF_ORDER: Cause = Cause(27);
    /// 28.
    pub const INVALID_NUMBER_FORMAT: Cause = Cause(28);
    /// 29.
    pub const FACILITY_REJECTED: Cause = Cause(29);
    /// 31.
    pub const NORMAL_UNSPECIFIED: Cause = Cause(31);
    /// 34 (Asterisk's `AST_CAUSE_CONGESTION`).
    pub const NORMAL_CIRCUIT_CONGESTION: Cause = Cause(34);
    /// 34, under Asterisk's alias.
    pub const CONGESTION: Cause = Cause(34);
    /// 38 (Asterisk's `AST_CAUSE_FAILURE`).
    pub const NETWORK_OUT_OF_ORDER: Cause = Cause(38);
    /// 41.
    pub const NORMAL_TEMPORARY_FAILURE: Cause = Cause(41);
    /// 42.
    pub const SWITCH_CONGESTION: Cause = Cause(42);
    /// 44.
    pub const REQUESTED_CHAN_UNAVAIL: Cause = Cause(44);
    /// 58: no common codec.
    pub const BEARERCAPABILITY_NOTAVAIL: Cause = Cause(58);
    /// 66 (Asterisk's `AST_CAUSE_NOSUCHDRIVER`).
    pub const CHAN_NOT_IMPLEMENTED: Cause = Cause(66);
    /// 88.
    pub const INCOMPATIBLE_DESTINATION: Cause = Cause(88);
    /// 102 (SIP 504).
    pub const RECOVERY_ON_TIMER_EXPIRE: Cause = Cause(102);
    /// 111.
    pub const PROTOCOL_ERROR: Cause = Cause(111);
    /// 127: everything SIP-specific without a better cause.
    pub const INTERWORKING: Cause = Cause(127);

    /// The numeric code.
    pub fn code(self) -> u16 {
        self.0
    }

    fn entry(self) -> Option<&'static (u16, &'static str, &'static str)> {
        TABLE.iter().find(|e| e.0 == self.0)
    }

    /// The text `core show channel` and `ast_cause2str` print ("Normal Clearing"),
    /// "Unknown" for a code Asterisk has no text for.
    pub fn name(self) -> &'static str {
        self.entry().map_or("Unknown", |e| e.2)
    }

    /// The symbolic name (`NORMAL_CLEARING`), if the code has one.
    pub fn symbol(self) -> Option<&'static str> {
        self.entry().map(|e| e.1)
    }

    /// The cause a symbolic name stands for (`USER_BUSY`, any case), as `Hangup(USER_BUSY)`
    /// accepts (Asterisk's `ast_str2cause`; it compares only the table name's length, we
    /// compare exactly).
    pub fn from_symbol(name: &str) -> Option<Cause> {
        TABLE
            .iter()
            .find(|e| e.1.eq_ignore_ascii_case(name.trim()))
            .map(|e| Cause(e.0))
    }

    /// The cause for a final SIP failure response (chan_pjsip's `hangup_sip2cause`).
    pub fn from_sip(status: u16) -> Cause {
        match status {
            401 | 403 | 407 | 603 => Cause::CALL_REJECTED,
            404 | 485 | 604 => Cause::UNALLOCATED,
            408 => Cause::NO_USER_RESPONSE,
            409 => Cause::NORMAL_TEMPORARY_FAILURE,
            410 => Cause::NUMBER_CHANGED,
            420 => Cause::NO_ROUTE_DESTINATION,
            480 | 483 => Cause::NO_ANSWER,
            484 => Cause::INVALID_NUMBER_FORMAT,
            486 | 600 => Cause::USER_BUSY,
            488 | 606 => Cause::BEARERCAPABILITY_NOTAVAIL,
            500 => Cause::NETWORK_OUT_OF_ORDER,
            501 => Cause::FACILITY_REJECTED,
            502 => Cause::DESTINATION_OUT_OF_ORDER,
            503 => Cause::CONGESTION,
            504 => Cause::RECOVERY_ON_TIMER_EXPIRE,
            505 => Cause::INTERWORKING,
            // 405, 411, 413-415, 481, 482, 487, 491, 493 are listed as INTERWORKING, as
            // every other 4xx and 6xx is.
            _ => match status / 100 {
                4 | 6 => Cause::INTERWORKING,
                5 => Cause::CONGESTION,
                _ => Cause::NORMAL_CLEARING,
            },
        }
    }

    /// The SIP status to reject an unanswered call with (chan_pjsip's `hangup_cause2sip`);
    /// `None` where chan_pjsip has no mapping (then the session layer's default applies:
    /// 603 for an unanswered incoming call, BYE or CANCEL otherwise).
    pub fn to_sip(self) -> Option<u16> {
        let status = match self.0 {
            1..=3 => 404,
            34 | 42 => 503,
            18 => 408,
            19 | 20 | 31 => 480,
            21 => 403,
            22 => 410,
            28 => 484,
            17 => 486,
            38 | 127 => 500,
            29 => 501,
            66 => 503,
            27 => 502,
            58 => 488,
            _ => return None,
        };
        Some(status)
    }

    /// How app_dial counts a callee that ended with this cause: `None` for causes it does
    /// not count (NO_ANSWER, NORMAL_CLEARING), which leave DIALSTATUS at `NOANSWER`.
    pub fn dial_failure(self) -> Option<DialStatus> {
        match self {
            Cause::USER_BUSY => Some(DialStatus::Busy),
            Cause::CONGESTION => Some(DialStatus::Congestion),
            Cause::NO_ANSWER | Cause::NORMAL_CLEARING => None,
            _ => Some(DialStatus::ChanUnavail),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The DIALSTATUS values app_dial sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialStatus {
    /// A callee answered.
    Answer,
    /// Every callee was busy (or busy and others unavailable).
    Busy,
    /// Nobody answered before the timeout, or a callee declined without a counted cause.
    NoAnswer,
    /// The caller hung up while the callees rang.
    Cancel,
    /// Every callee failed, at least one with congestion and none busy.
    Congestion,
    /// No callee could be reached (unknown endpoint, no contact, rejected...).
    ChanUnavail,
    /// Privacy manager: the callee chose "don't call".
    DontCall,
    /// Privacy manager: the callee chose "torture".
    Torture,
    /// Dial() was given unusable arguments.
    InvalidArgs,
}

impl DialStatus {
    /// The text stored in DIALSTATUS.
    pub fn as_str(self) -> &'static str {
        match self {
            DialStatus::Answer => "ANSWER",
            DialStatus::Busy => "BUSY",
            DialStatus::NoAnswer => "NOANSWER",
            DialStatus::Cancel => "CANCEL",
            DialStatus::Congestion => "CONGESTION",
            DialStatus::ChanUnavail => "CHANUNAVAIL",
            DialStatus::DontCall => "DONTCALL",
            DialStatus::Torture => "TORTURE",
            DialStatus::InvalidArgs => "INVALIDARGS",
        }
    }

    /// DIALSTATUS when no callee answered and the caller did not hang up. `causes` holds one
    /// cause per callee that failed (could not be created or hung up before answering);
    /// `callees` is how many there were. As app_dial: only when every callee failed with a
    /// counted cause does the status become BUSY (any busy), else CONGESTION (any
    /// congestion), else CHANUNAVAIL; otherwise it is NOANSWER. With no callee at all
    /// (none could be created) it is CHANUNAVAIL.
    pub fn after_failures(causes: &[Cause], callees: usize) -> DialStatus {
        if callees == 0 {
            return DialStatus::ChanUnavail;
        }
        let counted: Vec<DialStatus> = causes.iter().filter_map(|c| c.dial_failure()).collect();
        if counted.len() < callees {
            return DialStatus::NoAnswer;
        }
        [DialStatus::Busy, DialStatus::Congestion]
            .into_iter()
            .find(|s| counted.contains(s))
            .unwrap_or(DialStatus::ChanUnavail)
    }
}

impl fmt::Display for DialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "cause_tests.rs"]
mod cause_tests;
