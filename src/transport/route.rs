//! Which listening socket sends a request the daemon originates (an outbound REGISTER),
//! and the local address to write into its Via and Contact.
//!
//! With no transport named, the first UDP listener of the remote's address family is used;
//! a named transport is returned whatever its protocol (over TCP the message opens a
//! connection, `stream::connector`; TLS and WebSocket are for the caller to refuse).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;

use crate::config::types::TransportProtocol;
use crate::core::registrations::Network;
use crate::transport::{Flow, Listener};

/// Routes over the daemon's listening sockets.
#[derive(Debug, Default)]
pub struct UdpRoutes {
    listeners: Vec<Listener>,
    /// Our address towards each remote address, for listeners bound to 0.0.0.0 or `::`
    /// (one entry per registrar or proxy address: bounded by the configuration).
    local_ips: Mutex<HashMap<IpAddr, IpAddr>>,
    /// Host names resolved by the daemon at load.
    hosts: std::sync::Arc<super::HostCache>,
}

impl UdpRoutes {
    /// Routes over `listeners` (the transport's [`crate::transport::TransportHandle::listeners`]).
    pub fn new(listeners: Vec<Listener>) -> Self {
        Self {
            listeners,
            local_ips: Mutex::default(),
            hosts: std::sync::Arc::default(),
        }
    }

    /// Looks host names up in `hosts`.
    pub fn with_hosts(mut self, hosts: std::sync::Arc<super::HostCache>) -> Self {
        self.hosts = hosts;
        self
    }

    /// The local address the system would send from towards `remote`: a connected UDP
    /// socket that sends nothing is asked for its address (cached per remote address).
    fn local_ip_towards(&self, remote: IpAddr) -> Option<IpAddr> {
        let mut cache = self.local_ips.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ip) = cache.get(&remote) {
            return Some(*ip);
        }
        let any: IpAddr = if remote.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let socket = UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
        socket.connect(SocketAddr::new(remote, 5060)).ok()?;
        let ip = socket.local_addr().ok()?.ip();
        if ip.is_unspecified() {
            return None;
        }
        cache.insert(remote, ip);
        Some(ip)
    }
}

impl Network for UdpRoutes {
    fn resolve(&self, host: &str) -> Option<IpAddr> {
        // An address of a family some UDP socket can reach (`localhost` may list ::1
        // first on a daemon that only listens on IPv4).
        self.hosts.lookup(host, |ip| {
            self.listeners
                .iter()
                .any(|l| l.protocol == TransportProtocol::Udp && l.local.is_ipv4() == ip.is_ipv4())
        })
    }

    fn route(&self, transport: Option<&str>, remote: SocketAddr) -> Option<(Flow, SocketAddr)> {
        let same_family = |l: &&Listener| l.local.is_ipv4() == remote.is_ipv4();
        let listener = match transport {
            Some(name) => self
                .listeners
                .iter()
                .filter(same_family)
                .find(|l| &*l.transport == name)?,
            None => self
                .listeners
                .iter()
                .filter(same_family)
                .find(|l| l.protocol == TransportProtocol::Udp)?,
        };
        let local = if listener.local.ip().is_unspecified() {
            SocketAddr::new(self.local_ip_towards(remote.ip())?, listener.local.port())
        } else {
            listener.local
        };
        let flow = Flow {
            transport: listener.transport.clone(),
            protocol: listener.protocol,
            remote,
            connection: None,
        };
        Some((flow, local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(transport: &str, protocol: TransportProtocol, local: &str) -> Listener {
        Listener {
            transport: transport.into(),
            protocol,
            local: local.parse().expect("address"),
        }
    }

    fn routes() -> UdpRoutes {
        UdpRoutes::new(vec![
            listener("tcp", TransportProtocol::Tcp, "0.0.0.0:5060"),
            listener("udp-any", TransportProtocol::Udp, "0.0.0.0:5060"),
            listener("udp-lo", TransportProtocol::Udp, "127.0.0.1:5070"),
        ])
    }

    #[test]
    fn the_first_udp_listener_of_the_family_is_used_with_the_local_address_towards_the_remote() {
        let (flow, local) = routes()
            .route(None, "127.0.0.1:5080".parse().expect("address"))
            .expect("a route");
        assert_eq!(&*flow.transport, "udp-any");
        assert_eq!(flow.protocol, TransportProtocol::Udp);
        assert_eq!(flow.remote.to_string(), "127.0.0.1:5080");
        assert_eq!(
            local.to_string(),
            "127.0.0.1:5060",
            "0.0.0.0 replaced by the address towards the remote"
        );
    }

    #[test]
    fn a_named_transport_is_used_as_bound_whatever_its_protocol() {
        let r = routes();
        let remote: SocketAddr = "127.0.0.1:5080".parse().expect("address");
        let (flow, local) = r.route(Some("udp-lo"), remote).expect("a route");
        assert_eq!(&*flow.transport, "udp-lo");
        assert_eq!(local.to_string(), "127.0.0.1:5070");
        let (flow, _) = r.route(Some("tcp"), remote).expect("a route");
        assert_eq!(
            flow.protocol,
            TransportProtocol::Tcp,
            "the caller refuses it"
        );
        assert!(r.route(Some("nope"), remote).is_none());
    }

    #[test]
    fn no_listener_of_the_remote_family_is_no_route() {
        assert!(
            routes()
                .route(None, "[::1]:5060".parse().expect("address"))
                .is_none()
        );
    }
}
