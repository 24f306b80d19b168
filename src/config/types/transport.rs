//! `type=transport`: a listening socket and how it presents itself
//! (Asterisk `res_pjsip/config_transport.c`).

use super::{ConfigObject, Kind, Object};
use crate::config::options::{BindAddr, ListOf, Networks, Tos};
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

option_enum! {
    /// TLS protocol version (`method`). An empty value means `default`, as in Asterisk.
    pub enum TlsMethod {
        /// The TLS library's default.
        #[default]
        Default = ["default", ""],
        /// Unspecified.
        Unspecified = ["unspecified"],
        /// TLS 1.0.
        Tlsv1 = ["tlsv1"],
        /// TLS 1.1.
        Tlsv1_1 = ["tlsv1_1"],
        /// TLS 1.2.
        Tlsv1_2 = ["tlsv1_2"],
        /// TLS 1.3.
        Tlsv1_3 = ["tlsv1_3"],
        /// SSL 2.
        Sslv2 = ["sslv2"],
        /// SSL 3.
        Sslv3 = ["sslv3"],
        /// SSL 2/3 negotiation (any version).
        Sslv23 = ["sslv23"],
    }
}

define_object! {
    /// A transport.
    pub struct Transport {
        /// Protocol.
        protocol: TransportProtocol = ("protocol", "udp", Yes),
        /// Address to listen on.
        bind: BindAddr = ("bind", "", Yes),
        /// Asynchronous operations (Asterisk always uses 1).
        async_operations: u32 = ("async_operations", "1", NotYet),
        /// TLS: CA certificates file.
        ca_list_file: String = ("ca_list_file", "", Yes),
        /// TLS: CA certificates directory.
        ca_list_path: String = ("ca_list_path", "", Yes),
        /// TLS: certificate file.
        cert_file: String = ("cert_file", "", Yes),
        /// TLS: private key file.
        priv_key_file: String = ("priv_key_file", "", Yes),
        /// TLS: private key password.
        password: String = ("password", "", Yes),
        /// Public address for Contact/Via.
        external_signaling_address: String = ("external_signaling_address", "", Yes),
        /// Public port (0 = the bind port).
        external_signaling_port: u16 = ("external_signaling_port", "0", Yes),
        /// Public host name for Contact/Via instead of an address.
        external_signaling_hostname: String = ("external_signaling_hostname", "", NotYet),
        /// Public address for SDP.
        external_media_address: String = ("external_media_address", "", Yes),
        /// Domain this transport serves.
        domain: String = ("domain", "", NotYet),
        /// TLS: check the server certificate.
        verify_server: bool = ("verify_server", "no", NotYet),
        /// TLS: check client certificates.
        verify_client: bool = ("verify_client", "no", Yes),
        /// TLS: require a client certificate.
        require_client_cert: bool = ("require_client_cert", "no", Yes),
        /// TLS: accept wildcard certificates.
        allow_wildcard_certs: bool = ("allow_wildcard_certs", "no", NotYet),
        /// TLS: protocol version.
        method: TlsMethod = ("method", "", Yes),
        /// TLS: cipher names.
        cipher: ListOf<String> = ("cipher", "", NotYet),
        /// Local networks (no NAT rewriting toward them).
        local_net: Networks = ("local_net", "", Yes),
        /// ToS of signalling.
        tos: Tos = ("tos", "0", NotYet),
        /// 802.1p priority of signalling.
        cos: u32 = ("cos", "0", NotYet),
        /// WebSocket write timeout, ms.
        websocket_write_timeout: u32 = ("websocket_write_timeout", "100", NotYet),
        /// Rebuild the transport when its configuration changes on reload.
        allow_reload: bool = ("allow_reload", "no", NotYet),
        /// Send requests back over the transport a contact registered on.
        symmetric_transport: bool = ("symmetric_transport", "no", NotYet),
        /// OS TCP keepalive.
        tcp_keepalive_enable: bool = ("tcp_keepalive_enable", "no", Yes),
        /// Idle seconds before the first keepalive probe.
        tcp_keepalive_idle_time: u32 = ("tcp_keepalive_idle_time", "30", Yes),
        /// Seconds between keepalive probes.
        tcp_keepalive_interval_time: u32 = ("tcp_keepalive_interval_time", "1", Yes),
        /// Unanswered probes before the connection is dropped.
        tcp_keepalive_probe_count: u32 = ("tcp_keepalive_probe_count", "5", Yes),
    }
}

impl ConfigObject for Transport {
    const KIND: Kind = Kind::Transport;

    fn validate(&self, id: &str) -> Vec<String> {
        let mut errors = Vec::new();
        // A flow transport borrows the connection of a registration: it binds nothing.
        if self.bind.0.is_none() && self.protocol != TransportProtocol::Flow {
            errors.push(format!(
                "Transport '{id}' could not be started as binding not specified"
            ));
        }
        // Asterisk registers the option with a 1..INT_MAX range.
        if self.websocket_write_timeout == 0 || self.websocket_write_timeout > i32::MAX as u32 {
            errors.push(format!(
                "Transport '{id}': websocket_write_timeout must be from 1 to {}",
                i32::MAX
            ));
        }
        errors
    }

    fn into_object(self) -> Object {
        Object::Transport(Box::new(self))
    }
}
