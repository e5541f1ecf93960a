//! How long each store takes to answer: one histogram of request durations per store, kept in
//! static atomics so that the one HTTP client records every attempt (retries included) and the
//! metrics endpoint (app/observe/metrics.rs) reads them from its own thread without a lock.
//! Nothing about a request but its store and its duration is kept: no URL, no path, no status.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The store a client talks to: the histogram's `service` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// Vault or OpenBao.
    Vault,
    /// AWS (Secrets Manager, Parameter Store, STS, the metadata endpoints).
    Aws,
    /// GCP (Secret Manager, the token endpoints).
    Gcp,
    /// Azure (Key Vault, Entra ID).
    Azure,
    /// A bundle fetched by URL.
    Bundle,
    /// Anything else.
    Other,
}

impl Service {
    /// Every service, in the order the metrics list them.
    pub(crate) const ALL: [Service; 6] = [
        Service::Vault,
        Service::Aws,
        Service::Gcp,
        Service::Azure,
        Service::Bundle,
        Service::Other,
    ];

    /// Its label value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Vault => "vault",
            Service::Aws => "aws",
            Service::Gcp => "gcp",
            Service::Azure => "azure",
            Service::Bundle => "bundle",
            Service::Other => "other",
        }
    }
}

/// The histogram's upper bounds, in seconds (Prometheus' default buckets; `+Inf` is the count).
pub(crate) const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is above every bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    /// The sum of every duration, in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            counts: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            sum_us: AtomicU64::new(0),
        }
    }
}

static HISTOGRAMS: [Histogram; Service::ALL.len()] = [const { Histogram::new() }; 6];

/// Records one request's duration (an attempt, answered or not).
pub(crate) fn observe(service: Service, took: Duration) {
    let h = &HISTOGRAMS[service as usize];
    let s = took.as_secs_f64();
    let slot = BUCKETS
        .iter()
        .position(|b| s <= *b)
        .unwrap_or(BUCKETS.len());
    h.counts[slot].fetch_add(1, Ordering::Relaxed);
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    h.sum_us.fetch_add(us, Ordering::Relaxed);
}

/// One service's histogram as read now: cumulative counts per bound (the last is `+Inf`, the
/// count) and the sum in seconds.
pub(crate) struct Read {
    /// Cumulative counts, one per [`BUCKETS`] bound and then `+Inf`.
    pub cumulative: [u64; BUCKETS.len() + 1],
    /// Sum of the durations, in seconds.
    pub sum_seconds: f64,
}

/// Reads `service`'s histogram.
pub(crate) fn read(service: Service) -> Read {
    let h = &HISTOGRAMS[service as usize];
    let mut cumulative = [0u64; BUCKETS.len() + 1];
    let mut total = 0u64;
    for (c, n) in cumulative.iter_mut().zip(&h.counts) {
        total += n.load(Ordering::Relaxed);
        *c = total;
    }
    Read {
        cumulative,
        sum_seconds: h.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_cumulative_buckets() {
        let before = read(Service::Other);
        observe(Service::Other, Duration::from_millis(3));
        observe(Service::Other, Duration::from_millis(300));
        observe(Service::Other, Duration::from_secs(60));
        let after = read(Service::Other);
        let grew = |i: usize| after.cumulative[i] - before.cumulative[i];
        assert_eq!(grew(0), 1, "3 ms is under 5 ms");
        assert_eq!(grew(6), 2, "300 ms is under 0.5 s");
        assert_eq!(grew(BUCKETS.len() - 1), 2, "60 s is over 10 s");
        assert_eq!(grew(BUCKETS.len()), 3, "+Inf counts all");
        assert!(after.sum_seconds - before.sum_seconds >= 60.3 - 1e-6);
    }
}
