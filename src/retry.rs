//! When to try a transient failure again: exponential backoff with full
//! jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), bounded
//! both in attempts and in total time. A pure function of the attempt
//! number and a random input, so tests pin it exactly.

/// Retry bounds. The browser layer reads them from the `retry` option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 1 means never retry.
    pub max_attempts: u32,
    /// Delay cap before the first retry, in ms; doubles each retry.
    pub base_delay_ms: f64,
    /// No single wait is longer than this.
    pub max_delay_ms: f64,
    /// No retry is started once this much time has passed since the first
    /// attempt (waits included).
    pub max_total_ms: f64,
}

impl RetryPolicy {
    /// 5 attempts, waits drawn from [0, 0.5 s], [0, 1 s], [0, 2 s], [0, 4 s];
    /// at most 15 s in all, so a user is not left staring at a spinner.
    pub const DEFAULT: RetryPolicy =
        RetryPolicy { max_attempts: 5, base_delay_ms: 500.0, max_delay_ms: 8_000.0, max_total_ms: 15_000.0 };

    /// How long to wait before attempt `failed_attempts + 1`, or `None` to
    /// give up. `failed_attempts` counts from 1; `random` is uniform in
    /// [0, 1); `elapsed_ms` is the time since the first attempt started.
    pub fn delay_ms(&self, failed_attempts: u32, random: f64, elapsed_ms: f64) -> Option<f64> {
        if failed_attempts == 0 || failed_attempts >= self.max_attempts {
            return None;
        }
        // 2^(attempt - 1), exactly; `powi` is not in `core`.
        let doubling = f64::from(1u32 << (failed_attempts - 1).min(30));
        let cap = (self.base_delay_ms * doubling).min(self.max_delay_ms);
        let delay = cap * random.clamp(0.0, 1.0);
        // Waiting past the budget only to fail anyway helps nobody.
        (elapsed_ms + delay < self.max_total_ms).then_some(delay)
    }
}

impl RetryPolicy {
    /// `delay_ms`, but never shorter than `at_least_ms` (a service's
    /// `retryAfter`), still within the total bound.
    pub fn delay_at_least_ms(&self, failed_attempts: u32, random: f64, elapsed_ms: f64, at_least_ms: f64) -> Option<f64> {
        let delay = self.delay_ms(failed_attempts, random, elapsed_ms)?.max(at_least_ms);
        (elapsed_ms + delay < self.max_total_ms).then_some(delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_under_full_jitter() {
        let p = RetryPolicy::DEFAULT;
        assert_eq!(p.delay_ms(1, 0.999_999, 0.0).map(f64::round), Some(500.0));
        assert_eq!(p.delay_ms(2, 0.999_999, 0.0).map(f64::round), Some(1000.0));
        assert_eq!(p.delay_ms(3, 0.5, 0.0), Some(1000.0));
        assert_eq!(p.delay_ms(4, 0.0, 0.0), Some(0.0));
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy::DEFAULT;
        assert!(p.delay_ms(4, 0.5, 0.0).is_some());
        assert_eq!(p.delay_ms(5, 0.5, 0.0), None);
        assert_eq!(p.delay_ms(0, 0.5, 0.0), None);
        let once = RetryPolicy { max_attempts: 1, ..p };
        assert_eq!(once.delay_ms(1, 0.5, 0.0), None);
    }

    #[test]
    fn a_service_retry_after_is_a_floor_within_the_total_bound() {
        let p = RetryPolicy::DEFAULT;
        assert_eq!(p.delay_at_least_ms(1, 0.0, 0.0, 2_000.0), Some(2_000.0));
        assert_eq!(p.delay_at_least_ms(1, 0.999_999, 0.0, 0.0).map(f64::round), Some(500.0));
        assert_eq!(p.delay_at_least_ms(1, 0.5, 14_000.0, 2_000.0), None);
        assert_eq!(p.delay_at_least_ms(5, 0.5, 0.0, 1.0), None);
    }

    #[test]
    fn total_time_is_bounded_and_single_waits_capped() {
        let p = RetryPolicy { max_attempts: 100, ..RetryPolicy::DEFAULT };
        assert_eq!(p.delay_ms(40, 0.999_999, 0.0).map(f64::round), Some(8000.0));
        assert_eq!(p.delay_ms(2, 0.9, 14_500.0), None);
        assert!(p.delay_ms(2, 0.1, 14_500.0).is_some());
    }
}
