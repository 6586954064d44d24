//! Per-client rate limits: a token bucket (GCRA, via governor) per service, keyed by the API
//! key and the client's network, so one noisy app or host cannot starve the others.

use std::net::IpAddr;

use coglex_common::client::network_of;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ClientKey {
    /// An IPv4 address, or an IPv6 /64 ([`network_of`]).
    network: IpAddr,
    /// Which configured API key (`KeySet::position`), so the table never holds a key; `None`
    /// for the keyless webhook, whose requests share one bucket per IP whatever key they send.
    api_key: Option<usize>,
}

/// One service's limiter; `None` inside when limiting is off.
pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<ClientKey>>,
    clock: DefaultClock,
}

impl RateLimit {
    pub fn new(rps: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(rps).map(|rps| {
            let burst = NonZeroU32::new(burst.max(rps.get())).unwrap_or(rps);
            RateLimiter::keyed(Quota::per_second(rps).allow_burst(burst))
        });
        Self {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when the client is over its rate.
    pub fn check(&self, ip: IpAddr, api_key: Option<usize>) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let key = ClientKey {
            network: network_of(ip),
            api_key,
        };
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets clients whose buckets are full again, bounding memory.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_burst_is_told_when_to_retry() {
        let limit = RateLimit::new(1, 2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(limit.check(ip, Some(0)).is_ok());
        assert!(limit.check(ip, Some(0)).is_ok());
        assert_eq!(limit.check(ip, Some(0)), Err(1));
        // Another key, no key, or another host has its own bucket.
        assert!(limit.check(ip, Some(1)).is_ok());
        assert!(limit.check(ip, None).is_ok());
        assert!(limit.check("10.0.0.1".parse().unwrap(), Some(0)).is_ok());
    }

    #[test]
    fn an_ipv6_host_has_one_bucket_for_its_whole_64() {
        let limit = RateLimit::new(1, 1);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(limit.check(ip("2001:db8:1:2::1"), Some(0)).is_ok());
        assert_eq!(limit.check(ip("2001:db8:1:2:ffff::9"), Some(0)), Err(1));
        assert!(
            limit.check(ip("2001:db8:1:3::1"), Some(0)).is_ok(),
            "another /64"
        );
        // An IPv4 client seen on a dual-stack socket is the same client as over IPv4.
        assert!(limit.check(ip("192.0.2.1"), Some(0)).is_ok());
        assert_eq!(limit.check(ip("::ffff:192.0.2.1"), Some(0)), Err(1));
    }

    #[test]
    fn zero_turns_limiting_off() {
        let limit = RateLimit::new(0, 0);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..1000).all(|_| limit.check(ip, Some(0)).is_ok()));
    }
}
