//! Who a client is, for per-client limits (the gateway's rate limits, auth-svc's sign-in and
//! sign-up counts): its address, with IPv6 taken by the /64 a site or a single host gets, so
//! picking new addresses from it does not make a new client.

use std::net::{IpAddr, Ipv6Addr};

/// An IPv4 address as it is (also when it arrives IPv4-mapped, `::ffff:a.b.c.d`), or the /64
/// of an IPv6 address.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_client_its_address() {
        assert_eq!(network_of(ip("2001:db8:1:2:aaaa::9")), ip("2001:db8:1:2::"));
        assert_ne!(network_of(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(network_of(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(network_of(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
