//! Prometheus metrics (text exposition format 0.0.4): requests by service and status, a
//! latency histogram (time to the response head) and upstream errors. Lock-free counters;
//! served at `/metrics` to admin keys only.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::routes::ServiceId;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// The five services plus the gateway's own answers (unrouted, refused before routing).
const TARGETS: usize = ServiceId::ALL.len() + 1;
const STATUSES: usize = 600;

#[derive(Debug, Clone, Copy)]
pub enum UpstreamErrorKind {
    Connect,
    Timeout,
    Other,
}

pub struct Metrics {
    requests: Vec<AtomicU64>,
    buckets: Vec<AtomicU64>,
    latency_sum_micros: Vec<AtomicU64>,
    latency_count: Vec<AtomicU64>,
    upstream_errors: Vec<AtomicU64>,
}

fn counters(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

fn target(service: Option<ServiceId>) -> usize {
    service.map_or(ServiceId::ALL.len(), ServiceId::index)
}

fn target_name(index: usize) -> &'static str {
    ServiceId::ALL.get(index).map_or("gateway", |s| s.name())
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: counters(TARGETS * STATUSES),
            buckets: counters(TARGETS * (BUCKETS.len() + 1)),
            latency_sum_micros: counters(TARGETS),
            latency_count: counters(TARGETS),
            upstream_errors: counters(TARGETS * 3),
        }
    }
}

impl Metrics {
    pub fn record(&self, service: Option<ServiceId>, status: u16, elapsed: Duration) {
        let t = target(service);
        self.requests[t * STATUSES + usize::from(status).min(STATUSES - 1)].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[t * (BUCKETS.len() + 1) + bucket].fetch_add(1, Relaxed);
        self.latency_sum_micros[t].fetch_add(elapsed.as_micros() as u64, Relaxed);
        self.latency_count[t].fetch_add(1, Relaxed);
    }

    pub fn upstream_error(&self, service: ServiceId, kind: UpstreamErrorKind) {
        self.upstream_errors[service.index() * 3 + kind as usize].fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP coglex_gateway_requests_total Requests answered, by service and status.\n",
        );
        out.push_str("# TYPE coglex_gateway_requests_total counter\n");
        for t in 0..TARGETS {
            for status in 0..STATUSES {
                let n = self.requests[t * STATUSES + status].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "coglex_gateway_requests_total{{service=\"{}\",status=\"{status}\"}} {n}",
                        target_name(t)
                    );
                }
            }
        }
        out.push_str("# HELP coglex_gateway_request_duration_seconds Time to the response head.\n");
        out.push_str("# TYPE coglex_gateway_request_duration_seconds histogram\n");
        for t in 0..TARGETS {
            let count = self.latency_count[t].load(Relaxed);
            if count == 0 {
                continue;
            }
            let name = target_name(t);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += self.buckets[t * (BUCKETS.len() + 1) + i].load(Relaxed);
                let _ = writeln!(out, "coglex_gateway_request_duration_seconds_bucket{{service=\"{name}\",le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "coglex_gateway_request_duration_seconds_bucket{{service=\"{name}\",le=\"+Inf\"}} {count}");
            let sum = self.latency_sum_micros[t].load(Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "coglex_gateway_request_duration_seconds_sum{{service=\"{name}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "coglex_gateway_request_duration_seconds_count{{service=\"{name}\"}} {count}"
            );
        }
        out.push_str("# HELP coglex_gateway_upstream_errors_total Failures reaching a service.\n");
        out.push_str("# TYPE coglex_gateway_upstream_errors_total counter\n");
        for service in ServiceId::ALL {
            for (k, kind) in ["connect", "timeout", "other"].iter().enumerate() {
                let n = self.upstream_errors[service.index() * 3 + k].load(Relaxed);
                let _ = writeln!(
                    out,
                    "coglex_gateway_upstream_errors_total{{service=\"{}\",kind=\"{kind}\"}} {n}",
                    service.name()
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_requests_show_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.record(Some(ServiceId::Auth), 200, Duration::from_millis(3));
        metrics.record(Some(ServiceId::Auth), 200, Duration::from_millis(30));
        metrics.record(None, 404, Duration::from_micros(10));
        metrics.upstream_error(ServiceId::Storage, UpstreamErrorKind::Timeout);
        let text = metrics.render();
        assert!(
            text.contains("coglex_gateway_requests_total{service=\"auth\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("coglex_gateway_requests_total{service=\"gateway\",status=\"404\"} 1")
        );
        assert!(text.contains(
            "coglex_gateway_request_duration_seconds_bucket{service=\"auth\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "coglex_gateway_request_duration_seconds_bucket{service=\"auth\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains(
            "coglex_gateway_upstream_errors_total{service=\"storage\",kind=\"timeout\"} 1"
        ));
    }
}
