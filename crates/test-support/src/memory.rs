//! This process's resident memory, from `/proc/self/status` (Linux), for tests that prove a
//! service streams: services run inside the test process, so their buffers show up here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often [`PeakSampler`] looks.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// Resident set size in bytes (`VmRSS`), or `None` where `/proc` has no such line.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Samples the resident set size on a thread of its own until stopped.
pub struct PeakSampler {
    baseline: u64,
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PeakSampler {
    /// Starts sampling; the current size is the baseline.
    pub fn start() -> Self {
        let baseline = resident_bytes().expect("/proc/self/status has VmRSS (Linux only)");
        let peak = Arc::new(AtomicU64::new(baseline));
        let running = Arc::new(AtomicBool::new(true));
        let thread = {
            let (peak, running) = (Arc::clone(&peak), Arc::clone(&running));
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    if let Some(now) = resident_bytes() {
                        peak.fetch_max(now, Ordering::Relaxed);
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Self {
            baseline,
            peak,
            running,
            thread: Some(thread),
        }
    }

    /// Stops sampling; returns how far the peak rose above the baseline, in bytes.
    pub fn stop(mut self) -> u64 {
        self.halt();
        self.peak
            .load(Ordering::Relaxed)
            .saturating_sub(self.baseline)
    }

    fn halt(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PeakSampler {
    fn drop(&mut self) {
        self.halt();
    }
}
