//! Per-client rate limits: a token bucket (GCRA, via governor) per service, keyed by the API
//! key and the client IP, so one noisy app or host cannot starve the others.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ClientKey {
    ip: IpAddr,
    /// A keyed hash of the API key: the key itself is not kept in the limiter's table.
    api_key: u64,
}

/// One service's limiter; `None` inside when limiting is off.
pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<ClientKey>>,
    hasher: std::collections::hash_map::RandomState,
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
            hasher: Default::default(),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when the client is over its rate.
    pub fn check(&self, ip: IpAddr, api_key: &[u8]) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let key = ClientKey {
            ip,
            api_key: self.hasher.hash_one(api_key),
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
        assert!(limit.check(ip, b"k").is_ok());
        assert!(limit.check(ip, b"k").is_ok());
        assert_eq!(limit.check(ip, b"k"), Err(1));
        // Another key or another host has its own bucket.
        assert!(limit.check(ip, b"other").is_ok());
        assert!(limit.check("10.0.0.1".parse().unwrap(), b"k").is_ok());
    }

    #[test]
    fn zero_turns_limiting_off() {
        let limit = RateLimit::new(0, 0);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..1000).all(|_| limit.check(ip, b"k").is_ok()));
    }
}
