//! `type=transport`: a listening socket and how it presents itself
//! (Asterisk `res_pjsip/config_transport.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::{BindAddr, Networks};
use crate::{define_object, option_enum};

option_enum! {
    /// Transport protocol.
    pub enum TransportProtocol {
        /// UDP.
        #[default]
        Udp = ["udp"],
        /// TCP.
        Tcp = ["tcp"],
        /// TLS over TCP.
        Tls = ["tls"],
        /// WebSocket (RFC 7118).
        Ws = ["ws"],
        /// Secure WebSocket.
        Wss = ["wss"],
        /// Virtual transport for outbound flows.
        Flow = ["flow"],
    }
}

impl TransportProtocol {
    /// The port used when `bind` names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tls | Self::Wss => 5061,
            _ => 5060,
        }
    }
}

define_object! {
    /// A transport.
    pub struct Transport {
        /// Protocol.
        protocol: TransportProtocol = ("protocol", "udp", NotYet),
        /// Address to listen on.
        bind: BindAddr = ("bind", "", NotYet),
        /// Local networks (no NAT rewriting toward them).
        local_net: Networks = ("local_net", "", NotYet),
        /// Public address for Contact/Via.
        external_signaling_address: String = ("external_signaling_address", "", NotYet),
        /// Public port.
        external_signaling_port: u16 = ("external_signaling_port", "0", NotYet),
        /// Public address for SDP.
        external_media_address: String = ("external_media_address", "", NotYet),
        /// ToS.
        tos: u32 = ("tos", "0", NotYet),
        /// CoS.
        cos: u32 = ("cos", "0", NotYet),
    }
}

impl ConfigObject for Transport {
    const KIND: Kind = Kind::Transport;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if self.bind.0.is_none() && self.protocol != TransportProtocol::Flow {
            errors.push(format!(
                "Transport '{id}' could not be started as binding not specified"
            ));
        }
        errors
    }

    fn into_object(self) -> Object {
        Object::Transport(self)
    }
}
