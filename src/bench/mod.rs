//! Benchmarks that print figures. Speed is measured here, never asserted in tests.
pub mod conversation;
pub mod eval;
pub mod metrics;
pub mod process;
mod reply;
pub mod retrieval;
pub mod serve;
pub mod served;

/// The `p`-th percentile (0–100) of `values` by the nearest-rank method; 0 when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&v, 50.0), 50.0);
        assert_eq!(super::percentile(&v, 99.0), 99.0);
        assert_eq!(super::percentile(&[3.0, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(super::percentile(&[], 50.0), 0.0);
    }
}
