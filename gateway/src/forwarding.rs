//! Header hygiene for a proxy: hop-by-hop headers removed (RFC 9110 §7.6.1), ambiguous framing
//! refused (RFC 9112 §6.3, the request smuggling cases), and `X-Forwarded-*` set from what the
//! gateway saw, believing a client's values only when it is a configured trusted proxy.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
use http::Method;

use crate::respond::GatewayError;

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// The client address as the gateway determined it; services use it for per-client limits.
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// Refuses requests whose method the services never take.
pub fn check_method(method: &Method) -> Result<(), GatewayError> {
    match *method {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => Ok(()),
        _ => Err(GatewayError::MethodNotAllowed),
    }
}

/// Refuses requests whose body length or host two parsers could read differently.
///
/// hyper has already refused differing lengths and non-chunked encodings (with an empty 400).
/// Identical lengths it merged and a `Content-Length` beside `Transfer-Encoding` it dropped
/// are seen in the raw bytes (`head_scan`); what remains is checked here, whatever parser
/// stands in front.
pub fn check_framing(headers: &HeaderMap) -> Result<(), GatewayError> {
    if headers.get_all(header::HOST).iter().nth(1).is_some() {
        return Err(GatewayError::BadFraming("more than one Host header"));
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let first_length = lengths.next();
    if lengths.next().is_some() {
        return Err(GatewayError::BadFraming(
            "more than one Content-Length header",
        ));
    }
    if let Some(length) = first_length {
        let digits = length.as_bytes();
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(GatewayError::BadFraming("Content-Length is not a number"));
        }
    }
    let mut encodings = headers.get_all(header::TRANSFER_ENCODING).iter();
    if let Some(encoding) = encodings.next() {
        if first_length.is_some() {
            return Err(GatewayError::BadFraming(
                "both Content-Length and Transfer-Encoding are set",
            ));
        }
        if encodings.next().is_some() || !encoding.as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Err(GatewayError::BadFraming(
                "only `Transfer-Encoding: chunked` is accepted",
            ));
        }
    }
    Ok(())
}

/// Removes hop-by-hop headers, including every header named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages have none: one pass over the names is cheaper than eight removals.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// Proxies whose forwarding headers are believed: exact IPs or CIDR ranges.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let ranges = entries
            .iter()
            .map(|entry| {
                let (ip, prefix) = match entry.split_once('/') {
                    Some((ip, prefix)) => (ip, Some(prefix)),
                    None => (entry.as_str(), None),
                };
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("TRUSTED_PROXIES: `{entry}` is not an IP or CIDR"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max),
                    None => Some(max),
                }
                .ok_or_else(|| format!("TRUSTED_PROXIES: `{entry}` has a bad prefix length"))?;
                Ok((ip, prefix))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { ranges })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges
            .iter()
            .any(|(net, prefix)| in_range(ip, *net, *prefix))
    }

    /// The client as far as can be believed: the nearest `X-Forwarded-For` hop that is not a
    /// trusted proxy, when the peer itself is one; otherwise the peer.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.contains(ip) => continue,
                Some(ip) => return ip,
                None => break,
            }
        }
        peer
    }
}

/// An `X-Forwarded-For` hop: an address, which some proxies write with a port
/// (`203.0.113.7:5123`, `[2001:db8::1]:443`) or in brackets. IPv4-mapped IPv6 is read as IPv4.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = if let Some(bracketed) = hop.strip_prefix('[') {
        let (v6, after) = bracketed.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        IpAddr::V6(v6.parse().ok().filter(|_| port_ok)?)
    } else if let Ok(ip) = hop.parse() {
        ip
    } else {
        let (v4, port) = hop.split_once(':')?;
        IpAddr::V4(v4.parse().ok().filter(|_| is_port(port))?)
    };
    Some(ip.to_canonical())
}

/// Digits only: `u16`'s parser would also take a sign.
fn is_port(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u16>().is_ok()
}

/// The `host[:port]` of an absolute-form target, without any userinfo, as a `Host` value.
pub fn authority_host(authority: &Authority) -> Option<HeaderValue> {
    let host_and_port = authority.as_str().rsplit('@').next()?;
    HeaderValue::from_str(host_and_port).ok()
}

fn in_range(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if prefix == 0 {
        return true;
    }
    let shift = bits - u32::from(prefix);
    (ip >> shift) == (net >> shift)
}

/// An IP address as a header value.
pub fn ip_value(ip: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&ip.to_string()).expect("an IP is a valid header value")
}

/// Sets `X-Forwarded-For/-Proto/-Host` for the service. From an untrusted peer, whatever the
/// client sent is replaced; from a trusted proxy, its values are kept and the peer appended.
/// `peer_value` is `peer` as made by [`ip_value`], once per connection.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    peer_value: &HeaderValue,
    trusted_peer: bool,
) {
    let host = headers.get(header::HOST).cloned();
    if trusted_peer {
        let chain = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let value = if chain.is_empty() {
            peer.to_string()
        } else {
            format!("{chain}, {peer}")
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(X_FORWARDED_FOR, value);
        }
        if !headers.contains_key(X_FORWARDED_PROTO) {
            headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
        }
        if let (false, Some(host)) = (headers.contains_key(X_FORWARDED_HOST), host) {
            headers.insert(X_FORWARDED_HOST, host);
        }
    } else {
        headers.remove(header::FORWARDED);
        headers.insert(X_FORWARDED_FOR, peer_value.clone());
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
        match host {
            Some(host) => headers.insert(X_FORWARDED_HOST, host),
            None => headers.remove(X_FORWARDED_HOST),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn connection_named_and_standard_hop_by_hop_headers_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(map.len(), 1, "{map:?}");
        assert!(map.contains_key("x-kept"));
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let bad = [
            headers(&[("content-length", "5"), ("transfer-encoding", "chunked")]),
            headers(&[("content-length", "5"), ("content-length", "6")]),
            headers(&[("content-length", "5, 5")]),
            headers(&[("content-length", "-1")]),
            headers(&[("transfer-encoding", "gzip, chunked")]),
            headers(&[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ]),
            headers(&[("host", "a.example"), ("host", "b.example")]),
        ];
        for map in bad {
            assert!(check_framing(&map).is_err(), "{map:?}");
        }
        assert!(check_framing(&headers(&[("content-length", "5")])).is_ok());
        assert!(check_framing(&headers(&[("transfer-encoding", "Chunked")])).is_ok());
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_forwarded_for() {
        let mut map = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("host", "api.example"),
        ]);
        let peer: IpAddr = "10.0.0.7".parse().unwrap();
        set_forwarded(&mut map, peer, &ip_value(peer), false);
        assert_eq!(map["x-forwarded-for"], "10.0.0.7");
        assert_eq!(map["x-forwarded-proto"], "http");
        assert_eq!(map["x-forwarded-host"], "api.example");
    }

    #[test]
    fn a_trusted_proxy_chain_is_kept_and_extended() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let mut map = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let peer: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            trusted.client_ip(peer, &map),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        set_forwarded(&mut map, peer, &ip_value(peer), trusted.contains(peer));
        assert_eq!(map["x-forwarded-for"], "203.0.113.9, 10.1.2.3");
        assert_eq!(map["x-forwarded-proto"], "https");
    }

    #[test]
    fn only_the_methods_the_services_take_are_forwarded() {
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(check_method(&method.parse().unwrap()).is_ok(), "{method}");
        }
        for method in ["CONNECT", "TRACE", "PROPFIND", "BREW"] {
            assert_eq!(
                check_method(&method.parse().unwrap()),
                Err(GatewayError::MethodNotAllowed),
                "{method}"
            );
        }
    }

    #[test]
    fn forwarded_for_hops_are_read_with_or_without_a_port() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(parse_hop("203.0.113.7"), Some(ip("203.0.113.7")));
        assert_eq!(parse_hop("203.0.113.7:5123"), Some(ip("203.0.113.7")));
        assert_eq!(parse_hop("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("::ffff:198.51.100.4"), Some(ip("198.51.100.4")));
        for bad in [
            "unknown",
            "203.0.113.7:port",
            "203.0.113.7:+80",
            "[203.0.113.7]",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "1.2.3.4:99999",
            "",
        ] {
            assert_eq!(parse_hop(bad), None, "{bad}");
        }
        // Behind a proxy that writes ports, the client is still told apart from it.
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let map = headers(&[("x-forwarded-for", "198.51.100.4:40000, 10.0.0.9:8080")]);
        assert_eq!(trusted.client_ip(ip("10.1.1.1"), &map), ip("198.51.100.4"));
    }

    #[test]
    fn an_absolute_form_target_names_the_host_without_userinfo() {
        let authority = |s: &str| s.parse::<Authority>().unwrap();
        assert_eq!(
            authority_host(&authority("user:pw@api.example:8443")).unwrap(),
            "api.example:8443"
        );
        assert_eq!(
            authority_host(&authority("api.example")).unwrap(),
            "api.example"
        );
    }

    #[test]
    fn cidr_ranges_match_by_prefix() {
        let trusted = TrustedProxies::parse(&["192.168.1.0/24".into(), "::1".into()]).unwrap();
        assert!(trusted.contains("192.168.1.200".parse().unwrap()));
        assert!(!trusted.contains("192.168.2.1".parse().unwrap()));
        assert!(trusted.contains("::1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
    }
}
