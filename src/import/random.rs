//! Uniform random choices from a cryptographic source, for generated codes.
//!
//! The core knows no source of randomness (it runs in the Worker, in Node
//! and natively): the caller hands [`RandomBytes`] a function that fills a
//! buffer with cryptographic random bytes (`getrandom` in the Worker, which
//! is Web Crypto's `getRandomValues`). The bytes are drawn in blocks of
//! [`RANDOM_BLOCK`], so a million codes cost a few hundred calls of the
//! source, not one per character.
//!
//! A choice among `n` is unbiased: a draw is rejected when it falls in the
//! incomplete last run of `n` values, so every value is equally likely
//! (`byte % 31` alone would make the first 8 characters of a 31-character
//! set more likely than the others).

use crate::error::Result;

/// Random bytes drawn from the source per call: Web Crypto's
/// `getRandomValues` fills at most 65,536 bytes per call.
pub const RANDOM_BLOCK: usize = 64 * 1024;

/// The largest `n` [`RandomBytes::below`] chooses among: two bytes a draw.
pub const MAX_CHOICES: usize = 1 << 16;

/// Random bytes from a source, drawn in blocks, and uniform choices made
/// from them.
pub struct RandomBytes<F> {
    fill: F,
    block: Vec<u8>,
    /// Bytes of `block` already used.
    used: usize,
}

impl<F: FnMut(&mut [u8]) -> Result<()>> RandomBytes<F> {
    /// Draws from `fill`, which fills its buffer with cryptographic random
    /// bytes (or fails, which fails the choice that needed them).
    pub fn new(fill: F) -> Self {
        RandomBytes {
            fill,
            block: vec![0; RANDOM_BLOCK],
            used: RANDOM_BLOCK,
        }
    }

    /// The next random byte.
    fn byte(&mut self) -> Result<u8> {
        if self.used == self.block.len() {
            (self.fill)(&mut self.block)?;
            self.used = 0;
        }
        let byte = self.block[self.used];
        self.used += 1;
        Ok(byte)
    }

    /// A uniform choice in `0..n`, for `1 <= n <=` [`MAX_CHOICES`]; a draw
    /// of one byte when `n <= 256`, else of two.
    ///
    /// # Panics
    ///
    /// When `n` is 0 or above [`MAX_CHOICES`] (callers check their sets).
    pub fn below(&mut self, n: usize) -> Result<usize> {
        assert!((1..=MAX_CHOICES).contains(&n), "a choice among {n}");
        let (range, two) = if n <= 256 {
            (256, false)
        } else {
            (MAX_CHOICES, true)
        };
        // Draws at or above `zone` would favour the low values: drawn again.
        let zone = range - range % n;
        loop {
            let mut draw = usize::from(self.byte()?);
            if two {
                draw = draw << 8 | usize::from(self.byte()?);
            }
            if draw < zone {
                return Ok(draw % n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that repeats `bytes`, counting its calls.
    fn cycling<'a>(
        bytes: &'static [u8],
        calls: &'a std::cell::Cell<usize>,
    ) -> impl FnMut(&mut [u8]) -> Result<()> + 'a {
        let mut next = 0;
        move |buf: &mut [u8]| {
            calls.set(calls.get() + 1);
            for b in buf {
                *b = bytes[next % bytes.len()];
                next += 1;
            }
            Ok(())
        }
    }

    #[test]
    fn draws_in_the_incomplete_run_are_drawn_again() {
        let calls = std::cell::Cell::new(0);
        // 31 choices: 248..=255 would favour 0..=7, so they are skipped.
        let mut random = RandomBytes::new(cycling(&[248, 255, 247, 31, 0], &calls));
        assert_eq!(random.below(31).unwrap(), 247 % 31);
        assert_eq!(random.below(31).unwrap(), 0);
        assert_eq!(random.below(31).unwrap(), 0);
        // 256 choices: every byte is taken as it is.
        assert_eq!(random.below(256).unwrap(), 248);
        // Two bytes, big-endian, for more than 256 choices: 65,536 - 65,536 % 1000
        // = 65,000, so 0xFF_F7 (65,527) is drawn again and 0x1F_00 (7,936) kept.
        let mut random = RandomBytes::new(cycling(&[0xFF, 0xF7, 0x1F, 0x00], &calls));
        assert_eq!(random.below(1000).unwrap(), 7_936 % 1000);
    }

    #[test]
    fn the_source_is_called_once_a_block() {
        let calls = std::cell::Cell::new(0);
        let mut random = RandomBytes::new(cycling(&[1, 2, 3], &calls));
        for _ in 0..RANDOM_BLOCK * 3 {
            random.below(10).unwrap();
        }
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_failing_source_fails_the_choice() {
        let mut random = RandomBytes::new(|_: &mut [u8]| Err(crate::Error::internal("no entropy")));
        assert_eq!(random.below(2).unwrap_err().message(), "no entropy");
    }

    #[test]
    fn choices_are_uniform() {
        // A chi-squared test over OS randomness would be flaky; over every
        // byte value once, rejection must leave each choice equally often.
        let all: Vec<u8> = (0..=255).collect();
        let all: &'static [u8] = Box::leak(all.into_boxed_slice());
        for n in [2, 10, 26, 31, 36, 100, 255, 256] {
            let calls = std::cell::Cell::new(0);
            let mut random = RandomBytes::new(cycling(all, &calls));
            let mut seen = vec![0usize; n];
            for _ in 0..(256 - 256 % n) {
                seen[random.below(n).unwrap()] += 1;
            }
            assert!(seen.iter().all(|&k| k == 256 / n), "{n}: {seen:?}");
        }
    }
}
