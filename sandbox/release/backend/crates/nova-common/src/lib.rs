//! Shared helpers of the Nova services (a stand-in crate for the gate's code-quality checks).

/// The error rate in percent of `errors` out of `requests`; zero requests is a zero rate.
pub fn error_rate_pct(errors: u64, requests: u64) -> f64 {
    if requests == 0 {
        return 0.0;
    }
    errors as f64 * 100.0 / requests as f64
}

/// A request count rendered for a log line, without allocation.
pub fn count_label(count: u64) -> String {
    itoa::Buffer::new().format(count).to_owned()
}

/// Whether a canary may proceed: error rate and P95 latency under their limits.
pub fn canary_healthy(error_pct: f64, p95_ms: f64) -> bool {
    error_pct < 1.0 && p95_ms < 500.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_of_nothing_is_zero() {
        assert_eq!(error_rate_pct(0, 0), 0.0);
    }

    #[test]
    fn rate_is_a_percentage() {
        assert_eq!(error_rate_pct(3, 300), 1.0);
    }

    #[test]
    fn canary_limits_are_the_checklists() {
        assert!(canary_healthy(0.5, 120.0));
        assert!(!canary_healthy(1.4, 120.0));
        assert!(!canary_healthy(0.2, 520.0));
    }
}
