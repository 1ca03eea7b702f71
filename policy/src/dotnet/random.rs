//! .NET's `System.Random`: Knuth's subtractive generator, as `new Random(seed)` runs it in .NET
//! Framework and (for a seeded instance, kept for compatibility) in .NET Core, so that a policy
//! that seeds its generator gets the sequence it got in APIM. An unseeded one is seeded from the
//! operating system's randomness (.NET Core uses another algorithm there; its values are not
//! reproducible anyway).
//!
//! Must not: be used for anything secret (it is predictable from its outputs, as in .NET).

const MBIG: i32 = i32::MAX;
const MSEED: i32 = 161_803_398;

/// One generator's state.
#[derive(Clone, Debug)]
pub struct Random {
    seeds: [i32; 56],
    next: usize,
    next_p: usize,
}

impl Random {
    /// `new Random(seed)`.
    pub fn with_seed(seed: i32) -> Random {
        let mut seeds = [0i32; 56];
        let subtraction = if seed == i32::MIN {
            i32::MAX
        } else {
            seed.abs()
        };
        let mut mj = MSEED - subtraction;
        seeds[55] = mj;
        let mut mk = 1i32;
        for i in 1..55 {
            let ii = (21 * i) % 55;
            seeds[ii] = mk;
            mk = mj.wrapping_sub(mk);
            if mk < 0 {
                mk = mk.wrapping_add(MBIG);
            }
            mj = seeds[ii];
        }
        for _ in 1..5 {
            for i in 1..56 {
                seeds[i] = seeds[i].wrapping_sub(seeds[1 + (i + 30) % 55]);
                if seeds[i] < 0 {
                    seeds[i] = seeds[i].wrapping_add(MBIG);
                }
            }
        }
        Random {
            seeds,
            next: 0,
            next_p: 21,
        }
    }

    /// `new Random()`: seeded from `entropy` (the caller's random bytes).
    pub fn from_entropy(entropy: [u8; 4]) -> Random {
        Random::with_seed(i32::from_le_bytes(entropy))
    }

    fn internal_sample(&mut self) -> i32 {
        let mut next = self.next + 1;
        if next >= 56 {
            next = 1;
        }
        let mut next_p = self.next_p + 1;
        if next_p >= 56 {
            next_p = 1;
        }
        let mut r = self.seeds[next].wrapping_sub(self.seeds[next_p]);
        if r == MBIG {
            r -= 1;
        }
        if r < 0 {
            r = r.wrapping_add(MBIG);
        }
        self.seeds[next] = r;
        self.next = next;
        self.next_p = next_p;
        r
    }

    fn sample(&mut self) -> f64 {
        f64::from(self.internal_sample()) * (1.0 / f64::from(MBIG))
    }

    /// `Next()`: 0 ≤ n < `int.MaxValue`.
    pub fn next(&mut self) -> i32 {
        self.internal_sample()
    }

    /// `Next(max)` (max ≥ 0, checked by the caller): 0 ≤ n < max (0 when max is 0).
    pub fn next_below(&mut self, max: i32) -> i32 {
        (self.sample() * f64::from(max)) as i32
    }

    /// `Next(min, max)` (min ≤ max, checked by the caller): min ≤ n < max.
    pub fn next_between(&mut self, min: i32, max: i32) -> i32 {
        let range = i64::from(max) - i64::from(min);
        if range <= i64::from(i32::MAX) {
            return (self.sample() * range as f64) as i32 + min;
        }
        // A range wider than int: two samples make one in [0, 2^32 - 1) (.NET's
        // GetSampleForLargeRange).
        let mut result = self.internal_sample();
        if self.internal_sample() % 2 == 0 {
            result = -result;
        }
        let d =
            (f64::from(result) + (f64::from(i32::MAX) - 1.0)) / (2.0 * f64::from(i32::MAX) - 1.0);
        (d * range as f64 + f64::from(min)) as i64 as i32
    }

    /// `NextDouble()`: 0 ≤ d < 1.
    pub fn next_double(&mut self) -> f64 {
        self.sample()
    }
}

#[cfg(test)]
mod tests {
    use super::Random;

    #[test]
    fn seeded_sequences_are_dotnets() {
        // .NET: new Random(0).Next() is 1559595546, then 1755192844 (documented widely; the
        // generator has been the same since .NET Framework 1.1).
        let mut r = Random::with_seed(0);
        assert_eq!(r.next(), 1_559_595_546);
        assert_eq!(r.next(), 1_755_192_844);
        let mut a = Random::with_seed(42);
        let mut b = Random::with_seed(42);
        for _ in 0..100 {
            let (x, y) = (a.next_between(-5, 5), b.next_between(-5, 5));
            assert_eq!(x, y);
            assert!((-5..5).contains(&x));
        }
        assert!((0.0..1.0).contains(&a.next_double()));
        assert_eq!(a.next_below(0), 0);
        let wide = a.next_between(i32::MIN, i32::MAX);
        let _ = wide;
    }
}
