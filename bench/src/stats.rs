//! Order statistics of timing samples.

use std::time::Duration;

/// Summary of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub min: Duration,
    /// The middle value (the mean of the two middle values for an even count).
    pub median: Duration,
    /// Nearest-rank 99th percentile: the smallest sample at or above 99 % of them.
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// `None` for no samples.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_unstable();
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2
        };
        Some(Self {
            min: v[0],
            median,
            p99: v[nearest_rank(n, 0.99)],
            max: v[n - 1],
        })
    }
}

/// Index of the nearest-rank `q` quantile in a sorted slice of `n` (> 0) values.
fn nearest_rank(n: usize, q: f64) -> usize {
    ((n as f64 * q).ceil() as usize).clamp(1, n) - 1
}

/// The median of plain numbers (for memory sizes).
pub fn median_u64(values: &[u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
