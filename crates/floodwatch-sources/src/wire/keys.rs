//! A JSON object's known keys told apart by one multiply, one table read and one compare. Keys
//! whose order varies from record to record (eslogger's, NSDictionary's) made a `match` on their
//! bytes walk a tree of length and letter compares that mispredicted at every level; this leaves
//! one jump on the key's index.

/// Up to 31 keys, each in its own place of 32: the place is the key's length, first two bytes and
/// last byte mixed by a multiply whose constant was searched for per set. A set whose keys would
/// share a place does not build.
pub(crate) struct KeySet<const N: usize> {
    keys: [&'static [u8]; N],
    places: [u8; 32],
    mul: u64,
}

impl<const N: usize> KeySet<N> {
    pub(crate) const fn new(keys: [&'static [u8]; N], mul: u64) -> Self {
        assert!(N < 32, "at most 31 keys");
        let mut places = [N as u8; 32];
        let mut k = 0;
        while k < N {
            let p = place(keys[k], mul);
            assert!(places[p] as usize == N, "two keys share a place");
            places[p] = k as u8;
            k += 1;
        }
        KeySet { keys, places, mul }
    }

    /// The key's index in the set, or `N` for any other key.
    #[inline(always)]
    pub(crate) fn index(&self, key: &[u8]) -> usize {
        let k = self.candidate(key);
        match self.keys.get(k) {
            Some(&known) if crate::wire::swar::short_eq(known, key) => k,
            _ => N,
        }
    }

    /// The only key of the set `key` may be (`N`: none), not yet compared with it.
    #[inline(always)]
    pub(crate) fn candidate(&self, key: &[u8]) -> usize {
        self.places[place(key, self.mul)] as usize
    }

    pub(crate) const fn keys(&self) -> &[&'static [u8]; N] {
        &self.keys
    }
}

#[inline(always)]
const fn place(key: &[u8], mul: u64) -> usize {
    let n = key.len();
    let first = if n > 0 { key[0] as u64 } else { 0 };
    let second = if n > 1 { key[1] as u64 } else { 0 };
    let last = if n > 0 { key[n - 1] as u64 } else { 0 };
    let x = n as u64 | first << 8 | second << 16 | last << 24;
    (x.wrapping_mul(mul) >> 59) as usize
}

#[cfg(test)]
pub(crate) mod tests {
    use super::KeySet;

    /// Every key of `set` is told by its own index, and nothing else is taken for one: one byte
    /// changed anywhere, cut or extended (unless that is another key of the set, `action` of
    /// `action_type`), or any of `others`.
    pub(crate) fn told_apart<const N: usize>(set: &KeySet<N>, others: &[&[u8]]) {
        for (k, key) in set.keys().iter().enumerate() {
            assert_eq!(set.index(key), k, "{}", String::from_utf8_lossy(key));
            for at in 0..key.len() {
                for c in [b'_', b'x', b'A', b'"', 0, 0xff] {
                    let mut near = key.to_vec();
                    if near[at] == c {
                        continue;
                    }
                    near[at] = c;
                    assert_eq!(set.index(&near), N, "{near:?}");
                }
                let cut = &key[..at];
                let want = set.keys().iter().position(|k| *k == cut).unwrap_or(N);
                assert_eq!(set.index(cut), want, "{}", String::from_utf8_lossy(cut));
            }
            let mut longer = key.to_vec();
            longer.push(b's');
            let want = set
                .keys()
                .iter()
                .position(|k| **k == longer[..])
                .unwrap_or(N);
            assert_eq!(set.index(&longer), want);
        }
        for other in others {
            assert_eq!(set.index(other), N, "{}", String::from_utf8_lossy(other));
        }
    }
}
