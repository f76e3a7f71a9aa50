//! How many codes a dispenser asks for: a few seconds of its recent demand.

use std::collections::{BTreeMap, VecDeque};

/// The seconds of demand a lease is sized for.
pub const BLOCK_SECONDS: usize = 5;
/// The most codes one lease asks for, however busy the dispenser.
pub const MAX_BLOCK: usize = 1000;

/// Codes handed out per pool in the last [`BLOCK_SECONDS`] seconds, by
/// second. Kept in memory: a dispenser that restarts starts small again.
#[derive(Debug, Clone, Default)]
pub struct Demand {
    pools: BTreeMap<String, VecDeque<(i64, usize)>>,
}

impl Demand {
    /// Notes `n` codes of a pool handed out at `now` (Unix milliseconds).
    pub fn note(&mut self, pool: &str, n: usize, now: i64) {
        let second = now.div_euclid(1000);
        let seconds = self.pools.entry(pool.to_owned()).or_default();
        match seconds.back_mut() {
            Some((s, count)) if *s == second => *count += n,
            _ => seconds.push_back((second, n)),
        }
        while seconds
            .front()
            .is_some_and(|(s, _)| *s <= second - BLOCK_SECONDS as i64)
        {
            seconds.pop_front();
        }
    }

    /// The codes of a pool a lease should bring: what the last
    /// [`BLOCK_SECONDS`] seconds took, at least one, at most [`MAX_BLOCK`].
    pub fn block(&self, pool: &str, now: i64) -> usize {
        let since = now.div_euclid(1000) - BLOCK_SECONDS as i64;
        let recent: usize = self
            .pools
            .get(pool)
            .map(|s| s.iter().filter(|(s, _)| *s > since).map(|(_, n)| n).sum())
            .unwrap_or(0);
        recent.clamp(1, MAX_BLOCK)
    }

    /// The pools that had demand in the last [`BLOCK_SECONDS`] seconds:
    /// those worth keeping a block of. Not every pool ever served: `block`
    /// is at least one code, so an idle dispenser would otherwise renew a
    /// lease of one code at every deadline, forever (an alarm every
    /// `LEASE_MS`, and a code counted leased that no one will ask for).
    pub fn pools(&self, now: i64) -> impl Iterator<Item = &str> {
        let since = now.div_euclid(1000) - BLOCK_SECONDS as i64;
        self.pools
            .iter()
            .filter(move |(_, seconds)| seconds.iter().any(|(s, n)| *s > since && *n > 0))
            .map(|(pool, _)| pool.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_to_recent_demand() {
        let mut demand = Demand::default();
        assert_eq!(demand.block("p", 0), 1);
        for ms in (0..5000).step_by(10) {
            demand.note("p", 1, ms);
        }
        assert_eq!(demand.block("p", 4999), 500);
        // Ten quiet seconds later, a block is one code again.
        assert_eq!(demand.block("p", 15_000), 1);
        for ms in 0..5000 {
            demand.note("q", 1, 20_000 + ms);
        }
        assert_eq!(demand.block("q", 25_000), MAX_BLOCK);
        assert_eq!(demand.pools(25_000).collect::<Vec<_>>(), ["q"]);
        assert_eq!(demand.pools(40_000).count(), 0);
    }
}
