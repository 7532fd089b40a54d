//! Seeded mutations of valid inputs, shared by the fuzz-corpus replay and the hostile-input
//! wire test.

/// A small seeded generator: the same seed gives the same inputs on every run and machine.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One to four random edits of `seed`: a bit flip, an inserted delimiter byte, a deleted or
/// duplicated range, a truncation, a random byte.
pub fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                let interesting = [b'\n', b'\r', b':', b'"', b'{', b'}', 0, 0xff, b' '];
                b.insert(i, interesting[rng.below(interesting.len())]);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                b.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let piece: Vec<u8> = b[i..i + n].to_vec();
                let at = rng.below(len + 1);
                b.splice(at..at, piece);
            }
            4 if len > 0 => b.truncate(rng.below(len)),
            _ if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.next() as u8;
            }
            _ => b.push(rng.next() as u8),
        }
    }
    b
}
