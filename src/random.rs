//! Random numbers without a random-number crate, for temporary file names and retry jitter.
//!
//! SipHash under the standard library's randomly keyed hasher (std seeds the keys from the
//! system's random source) over the pid, a counter and the time. Good enough to make names
//! unguessable and to spread retries; not for keys or secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};

/// Makes two calls within one clock tick differ.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// 64 unpredictable bits.
pub fn u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u32(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

/// A number in [0, 1).
pub fn fraction() -> f64 {
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn fractions_stay_in_range_and_vary() {
        let draws: Vec<f64> = (0..100).map(|_| super::fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }
}
