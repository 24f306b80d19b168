//! What a server transport writes into the top Via of a request it received (RFC 3261
//! 18.2.1, RFC 3581 4): `received` when the packet's source address differs from sent-by,
//! and the source port in an empty `rport`. Responses copy the Via, so they carry where the
//! request really came from.

use std::net::{IpAddr, SocketAddr};

use super::header::HeaderName;
use super::header::via::Via;
use super::msg::Request;
use super::syntax::{find_top_level, trim, trimmed_range};
use super::uri::Host;

/// Stamps the top Via of `req` with `source`. Returns false (and changes nothing) when the
/// top Via cannot be read; validation answers such requests with 400 anyway.
pub fn stamp_received(req: &mut Request, source: SocketAddr) -> bool {
    let Some(field) = req.headers.get(&HeaderName::Via).cloned() else {
        return false;
    };
    if trim(&field).is_empty() {
        return false;
    }
    // The first element of the first Via field.
    let cut = find_top_level(&field, b',').unwrap_or(field.len());
    let (start, end) = trimmed_range(&field, 0, cut);
    let mut value = Vec::with_capacity(field.len() + 48);
    match req.fields_mut() {
        // Parsed by validation: stamp the kept value too.
        Some(p) => {
            stamp(&mut p.top_via, source);
            p.top_via.write_to(&mut value);
        }
        None => {
            let Ok(mut via) = Via::parse(field.get(start..end).unwrap_or_default()) else {
                return false;
            };
            stamp(&mut via, source);
            via.write_to(&mut value);
        }
    }
    value.extend_from_slice(field.get(end..).unwrap_or_default());
    req.headers.replace_first(HeaderName::Via, value);
    req.refresh_version();
    true
}

fn stamp(via: &mut Via, source: SocketAddr) {
    let ip = source.ip();
    let sent_by_matches = match &via.host {
        Host::Ipv4(h) => IpAddr::V4(*h) == ip,
        Host::Ipv6(h) => IpAddr::V6(*h) == ip,
        Host::Domain(_) => false,
    };
    let rport = via.rport();
    if rport == Some(None) {
        let mut port = String::with_capacity(5);
        super::syntax::push_decimal(&mut port, u64::from(source.port()));
        via.params.set("rport", Some(&port));
    }
    if !sent_by_matches || rport.is_some() {
        // RFC 3261 25.1: `received = IPv4address / IPv6address`, no brackets.
        let text = match ip {
            IpAddr::V4(v4) => {
                let mut t = String::with_capacity(15);
                for (i, octet) in v4.octets().iter().enumerate() {
                    if i > 0 {
                        t.push('.');
                    }
                    super::syntax::push_decimal(&mut t, u64::from(*octet));
                }
                t
            }
            IpAddr::V6(_) => ip.to_string(),
        };
        via.params.set("received", Some(&text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;
    use bytes::Bytes;

    fn request(via: &str) -> Request {
        let text = format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP proxy:5060;branch=z9hG4bKp\r\n\
             From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn top(req: &Request) -> Via {
        req.headers.top_via().expect("top via")
    }

    #[test]
    fn rfc3581_empty_rport_gets_the_source_port_and_received() {
        let mut r = request("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1");
        assert!(stamp_received(
            &mut r,
            "192.0.2.7:40000".parse().expect("addr")
        ));
        let v = top(&r);
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(v.received(), Some("192.0.2.7".parse().expect("ip")));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        // The second Via is untouched.
        assert_eq!(r.headers.vias().expect("vias").len(), 2);
    }

    #[test]
    fn rfc3261_18_2_1_received_only_when_sent_by_differs() {
        let mut same = request("SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1");
        stamp_received(&mut same, "192.0.2.7:5060".parse().expect("addr"));
        assert_eq!(top(&same).received(), None);
        let mut name = request("SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1");
        stamp_received(&mut name, "192.0.2.7:5060".parse().expect("addr"));
        assert_eq!(
            top(&name).received(),
            Some("192.0.2.7".parse().expect("ip"))
        );
        assert_eq!(top(&name).rport(), None, "no rport asked, none added");
    }

    #[test]
    fn checked_and_unchecked_requests_are_stamped_alike() {
        for via in [
            "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1",
            "SIP / 2.0 / UDP  host.example.com ; branch=z9hG4bK1;received=10.9.9.9",
            "SIP/2.0/TCP [::1]:5060;rport=7;branch=z9hG4bK1, SIP/2.0/UDP x;branch=z9hG4bK2",
        ] {
            for source in ["192.0.2.7:40000", "[2001:db8::9]:5070", "10.0.0.1:5060"] {
                let source: SocketAddr = source.parse().expect("addr");
                let mut plain = request(via);
                let mut checked = request(via);
                assert_eq!(crate::sip::check_request(&mut checked), Ok(()));
                assert!(stamp_received(&mut plain, source));
                assert!(stamp_received(&mut checked, source));
                assert_eq!(plain.headers, checked.headers, "{via} from {source}");
                // The kept top Via is the stamped one.
                assert!(checked.is_checked());
                assert_eq!(checked.top_via().map(|v| v.into_owned()), Ok(top(&plain)));
            }
        }
    }

    #[test]
    fn comma_separated_vias_keep_the_rest() {
        let mut r =
            request("SIP/2.0/TCP [::1]:5060;rport;branch=z9hG4bK1, SIP/2.0/UDP x;branch=z9hG4bK2");
        stamp_received(&mut r, "[2001:db8::9]:5070".parse().expect("addr"));
        let vias = r.headers.vias().expect("vias");
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].received(), Some("2001:db8::9".parse().expect("ip")));
        assert_eq!(vias[0].rport(), Some(Some(5070)));
        assert_eq!(vias[1].branch(), Some("z9hG4bK2"));
    }
}
