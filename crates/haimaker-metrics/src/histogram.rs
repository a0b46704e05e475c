//! Fixed-bucket histograms, mergeable across workers.

use serde::{Deserialize, Serialize};

/// LiteLLM's latency buckets (seconds), so dashboards built for it keep working.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0,
    5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0,
    240.0, 300.0,
];

/// The gateway's own added latency is sub-millisecond: finer buckets (seconds).
pub const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// Counts per bucket (the last one is `+Inf`), their sum and count. Which bounds apply is the
/// metric's business; merging assumes the same bounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Non-cumulative counts, one per bound plus `+Inf`.
    pub buckets: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, bounds: &[f64], value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        if self.buckets.len() != bounds.len() + 1 {
            self.buckets.resize(bounds.len() + 1, 0);
        }
        let i = bounds.partition_point(|b| *b < value);
        self.buckets[i] += 1;
        self.sum += value;
        self.count += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Cumulative counts per bound, then `+Inf`, as the text format wants them.
    pub fn cumulative(&self, bounds: &[f64]) -> Vec<(String, u64)> {
        let mut total = 0;
        let mut out = Vec::with_capacity(bounds.len() + 1);
        for (i, bound) in bounds.iter().enumerate() {
            total += self.buckets.get(i).copied().unwrap_or(0);
            out.push((format_bound(*bound), total));
        }
        out.push(("+Inf".to_string(), self.count));
        out
    }
}

fn format_bound(b: f64) -> String {
    let s = format!("{b}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_merge_and_cumulate() {
        let bounds = [0.1, 1.0];
        let mut a = Histogram::default();
        a.observe(&bounds, 0.05);
        a.observe(&bounds, 0.1);
        a.observe(&bounds, 5.0);
        let mut b = Histogram::default();
        b.observe(&bounds, 0.5);
        a.merge(&b);
        assert_eq!(a.count, 4);
        assert_eq!(
            a.cumulative(&bounds),
            vec![
                ("0.1".to_string(), 2),
                ("1.0".to_string(), 3),
                ("+Inf".to_string(), 4)
            ]
        );
        a.observe(&bounds, f64::NAN);
        assert_eq!(a.count, 4, "NaN is ignored");
    }
}
