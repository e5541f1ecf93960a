//! Masking: every delivered secret value, and the encodings a program prints values in
//! (encode.rs), replaced by a marker in the program's output as it streams through
//! secret-init (`--mask`; docs/masking.md).
//!
//! Every form of every value is matched leftmost-longest, so of two overlapping values the
//! longer is masked. Output arrives in arbitrary pieces, so a [`Stream`]
//! decides bytes as soon as they cannot be part of a value any more, and holds only the
//! shortest tail that may still begin one: if the bytes from position `q` to the end are a
//! proper beginning of some form, nothing from `q` on can be decided yet, and a match that
//! starts before the earliest such `q` is complete (no form can extend it past what was read).
//! Everything before the held tail is written at once; there is no timer on it. A tail that
//! stays undecided because the program stopped writing mid-value is settled by the caller
//! after [`HOLD`] ([`Stream::stall`]): at least `mask_min_length` bytes of a value's beginning
//! are masked (and the rest of that value is swallowed if it follows), anything shorter is
//! written as it is.
//!
//! Not every byte is looked at: every form is at least `m` bytes long (the shortest one), so
//! any occurrence contains an 8-byte window (4 when `m` < 8) starting at one of its first
//! `m - 7` positions, and looking at one window every `m - 7` bytes is enough to see every
//! occurrence. Each form's first `m - 7` windows are set in a bit table (a Bloom filter of two
//! hashes) and kept exactly; only where a sampled window is in both are the forms compared,
//! at each start in the span in which that occurrence could begin, longest first. With
//! 40-byte values that is one load and one bit test per 33 bytes of output (Wu and Manber's
//! sampling, as in agrep). Below 4 bytes (`mask_min_length` under 4) every position is tried.
//! No automaton: a hit is rare, and a comparison of the few forms that begin with its byte is
//! all it needs.
//!
//! Pure: no I/O here; the threads that read the program's pipes are in pump.rs.

mod encode;
pub(crate) mod pump;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::secret::Secret;

/// How long a possible beginning of a value is held when the program stops writing in the
/// middle of it, before it is settled ([`Stream::stall`]).
pub(crate) const HOLD: Duration = Duration::from_millis(200);

/// How long a value a refresh replaced stays masked (at least; it goes at the first publish
/// after that): a program may still print the old one while it reloads.
pub(crate) const RETIRED_FOR: Duration = Duration::from_secs(3600);

/// The default shortest value masked (`mask_min_length`).
pub(crate) const DEFAULT_MIN_LENGTH: usize = 8;

/// The longest value masked: a certificate bundle or a rendered document is not a value a
/// program prints whole, and its forms would make the matcher large.
pub(crate) const MAX_LENGTH: usize = 64 * 1024;

/// The default marker (`mask_marker`); `{name}` becomes the secret's name.
pub(crate) const DEFAULT_MARKER: &str = "<secret:{name}>";

/// What is masked and how it is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Values shorter than this (in bytes) are not masked.
    pub min_length: usize,
    /// What replaces a value; `{name}` is the secret's name.
    pub marker: String,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_length: DEFAULT_MIN_LENGTH,
            marker: DEFAULT_MARKER.to_string(),
        }
    }
}

/// The matcher for one set of values. Its tables hold the values (the process is
/// non-dumpable); the pattern copies here are wiped when it drops.
pub(crate) struct Masker {
    /// Pattern ids by their first byte, longest first: the candidates at a position.
    by_first: Vec<Vec<u32>>,
    /// Every form, sorted and distinct; a form's id is its index.
    patterns: Vec<Zeroizing<Vec<u8>>>,
    /// Pattern id → marker index.
    owner: Vec<usize>,
    /// The marker of each named value.
    markers: Vec<Vec<u8>>,
    /// Whether a byte can begin some pattern.
    starts: [bool; 256],
    /// The longest pattern.
    max_len: usize,
    /// At least this much of a value's beginning is masked when the program stalls in it.
    min_length: usize,
    /// The sampling filter; `None` when some form is shorter than a window.
    windows: Option<Windows>,
}

/// log2 of the filter's bits (32 KiB: stays in the first-level cache).
const FILTER_BITS: u32 = 18;

/// Every form's first windows: one bit pair each in a filter, and exactly, sorted (a filter hit
/// is confirmed there before the forms are compared); the window length and the sampling step.
struct Windows {
    bits: Vec<u64>,
    exact: Zeroizing<Vec<u64>>,
    /// 8 bytes when every form has 8, else 4.
    len: usize,
    /// One window is looked at every `step` bytes: the shortest form's length minus `len - 1`.
    step: usize,
}

impl Windows {
    fn new(patterns: &[Zeroizing<Vec<u8>>]) -> Option<Windows> {
        let shortest = patterns.iter().map(|p| p.len()).min()?;
        let len = match shortest {
            8.. => 8,
            4..=7 => 4,
            _ => return None,
        };
        let step = shortest - len + 1;
        let mut w = Windows {
            bits: vec![0u64; FILTER_WORDS],
            exact: Zeroizing::new(Vec::new()),
            len,
            step,
        };
        for p in patterns {
            for j in 0..step {
                let x = w.key(&p[j..]);
                for h in window_hashes(x) {
                    w.bits[h >> 6] |= 1 << (h & 63);
                }
                w.exact.push(x);
            }
        }
        crate::order::sort(&mut w.exact);
        w.exact.dedup();
        Some(w)
    }

    /// The window at the start of `b` (at least `len` bytes) as a number.
    fn key(&self, b: &[u8]) -> u64 {
        let mut k = [0u8; 8];
        k[..self.len].copy_from_slice(&b[..self.len]);
        u64::from_le_bytes(k)
    }

    /// After the first hash's bit: whether window `x` is one of some form's first `step`
    /// windows (the second hash's bit, then exactly).
    #[inline(never)]
    fn confirmed(&self, x: u64) -> bool {
        let h = window_hashes(x)[1];
        self.bits[h >> 6] & (1 << (h & 63)) != 0 && self.exact.binary_search(&x).is_ok()
    }
}

const HASH_1: u64 = 0x9E37_79B9_7F4A_7C15;
const HASH_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// The filter's 64-bit words.
const FILTER_WORDS: usize = 1 << (FILTER_BITS - 6);

/// A window's two bit positions (two multiplicative hashes: about 1% false hits at 15,000
/// windows; each confirmed exactly before the forms are compared).
fn window_hashes(x: u64) -> [usize; 2] {
    let shift = 64 - FILTER_BITS;
    [
        (x.wrapping_mul(HASH_1) >> shift) as usize,
        (x.wrapping_mul(HASH_2) >> shift) as usize,
    ]
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masker(<{} patterns>)", self.patterns.len())
    }
}

impl Masker {
    /// The matcher for `values` (secret name, value): each value of at least
    /// `rules.min_length` bytes, in every form encode.rs knows.
    pub(crate) fn new(values: &[(String, Secret)], rules: &Rules) -> Masker {
        let mut forms: Vec<(Zeroizing<Vec<u8>>, usize)> = Vec::new();
        let mut markers = Vec::new();
        for (name, value) in values {
            let v = value.expose();
            if v.len() < rules.min_length.max(1) || v.len() > MAX_LENGTH {
                continue;
            }
            let index = markers.len();
            markers.push(rules.marker.replace("{name}", name).into_bytes());
            forms.push((Zeroizing::new(v.to_vec()), index));
            forms.extend(
                encode::forms(v)
                    .into_iter()
                    .filter(|f| !f.is_empty())
                    .map(|f| (f, index)),
            );
        }
        // Stable: of equal forms the first value's name wins.
        crate::order::sort_by(&mut forms, |a, b| a.0.as_slice().cmp(b.0.as_slice()));
        forms.dedup_by(|a, b| a.0.as_slice() == b.0.as_slice());
        let mut starts = [false; 256];
        for (f, _) in &forms {
            starts[usize::from(f[0])] = true;
        }
        let max_len = forms.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
        let mut by_first: Vec<Vec<u32>> = vec![Vec::new(); 256];
        for (id, (f, _)) in forms.iter().enumerate() {
            by_first[usize::from(f[0])].push(u32::try_from(id).unwrap_or(u32::MAX));
        }
        for ids in &mut by_first {
            crate::order::sort_by_key(ids, |&id| std::cmp::Reverse(forms[id as usize].0.len()));
        }
        let (patterns, owner): (Vec<_>, Vec<_>) = forms.into_iter().unzip();
        let windows = Windows::new(&patterns);
        Masker {
            windows,
            by_first,
            patterns,
            owner,
            markers,
            starts,
            max_len,
            min_length: rules.min_length.max(1),
        }
    }

    /// The first pattern not less than `s`.
    fn lower_bound(&self, s: &[u8]) -> usize {
        self.patterns.partition_point(|p| p.as_slice() < s)
    }

    /// Whether some pattern is longer than `s` and begins with it.
    fn begins_longer(&self, s: &[u8]) -> bool {
        let i = self.lower_bound(s);
        // Patterns are distinct: `s` itself may come first, then those extending it.
        self.patterns[i..]
            .iter()
            .take(2)
            .any(|p| p.len() > s.len() && p.starts_with(s))
    }

    /// Whether some pattern begins with `s` (or is `s`).
    fn begins(&self, s: &[u8]) -> Option<usize> {
        let i = self.lower_bound(s);
        self.patterns.get(i).filter(|p| p.starts_with(s)).map(|_| i)
    }

    /// The earliest position at or after `from` where the rest of `buf` may begin a pattern.
    fn undecided_from(&self, buf: &[u8], from: usize) -> usize {
        let lowest = buf.len().saturating_sub(self.max_len.saturating_sub(1));
        (from.max(lowest)..buf.len())
            .find(|&q| self.starts[usize::from(buf[q])] && self.begins_longer(&buf[q..]))
            .unwrap_or(buf.len())
    }

    /// Decides what it can of `buf`: returns where the undecided tail begins (`buf.len()`
    /// when everything was decided) and whether a value was replaced. Only then is the decided
    /// part, values replaced, appended to `out`; otherwise it is `buf[..hold]` as it is. With
    /// `last`, nothing more follows: everything is decided.
    fn scan(&self, buf: &[u8], out: &mut Vec<u8>, last: bool) -> (usize, bool) {
        let mut hold = if last {
            buf.len()
        } else {
            self.undecided_from(buf, 0)
        };
        if self.patterns.is_empty() {
            return (hold, false);
        }
        let mut pos = 0;
        let mut masked = false;
        // Where the next sampled window starts.
        let mut sample = 0;
        loop {
            let found = match &self.windows {
                None => (pos..buf.len()).find_map(|a| self.longest_at(buf, a)),
                Some(w) => self.sampled(w, buf, pos, &mut sample),
            };
            match found {
                Some((start, id)) if start < hold => {
                    out.extend_from_slice(&buf[pos..start]);
                    out.extend_from_slice(&self.markers[self.owner[id]]);
                    masked = true;
                    pos = start + self.patterns[id].len();
                    sample = pos;
                    if pos > hold {
                        hold = self.undecided_from(buf, pos);
                    }
                }
                _ => {
                    if masked {
                        out.extend_from_slice(&buf[pos..hold]);
                    }
                    return (hold, masked);
                }
            }
        }
    }
}

impl Masker {
    /// The longest form that `buf[a..]` begins with: its start and id.
    fn longest_at(&self, buf: &[u8], a: usize) -> Option<(usize, usize)> {
        self.by_first[usize::from(buf[a])]
            .iter()
            .map(|&id| id as usize)
            .find(|&id| buf[a..].starts_with(&self.patterns[id]))
            .map(|id| (a, id))
    }

    /// The leftmost-longest match starting at or after `pos`, looking only where a sampled
    /// window (from `*sample` on, every `step` bytes) is in the filter. A form occurring at `a`
    /// has its window at the one sample in `a ..= a + step - 1`, so a hit at `p` can only be a
    /// form starting in `p - (step - 1) ..= p`; those starts are tried in order, each with its
    /// candidates longest first. A form starting after `p` is left to a later sample.
    fn sampled(
        &self,
        w: &Windows,
        buf: &[u8],
        pos: usize,
        sample: &mut usize,
    ) -> Option<(usize, usize)> {
        // The hot loop: one load, one multiplication and one bit test per sample; the rest
        // only on a hit.
        let shift = 64 - FILTER_BITS;
        while *sample + w.len <= buf.len() {
            let p = *sample;
            *sample += w.step;
            let mut word = [0u8; 8];
            if w.len == 8 {
                word.copy_from_slice(&buf[p..p + 8]);
            } else {
                word[..4].copy_from_slice(&buf[p..p + 4]);
            }
            let x = u64::from_le_bytes(word);
            let h = (x.wrapping_mul(HASH_1) >> shift) as usize;
            if w.bits[(h >> 6) & (FILTER_WORDS - 1)] & (1 << (h & 63)) == 0 || !w.confirmed(x) {
                continue;
            }
            let from = pos.max(p.saturating_sub(w.step - 1));
            if let Some(found) = (from..=p).find_map(|a| self.longest_at(buf, a)) {
                return Some(found);
            }
        }
        None
    }
}

/// One output stream's state between reads: its buffer, whose front holds the undecided
/// tail (the next read lands right after it, so nothing is copied), and a value being
/// swallowed after a stall masked its beginning.
#[derive(Default)]
pub(crate) struct Stream {
    buf: Zeroizing<Vec<u8>>,
    /// The held bytes are `buf[held.0..held.1]`.
    held: (usize, usize),
    swallowing: Option<Zeroizing<Vec<u8>>>,
}

impl Stream {
    /// Whether a possible beginning of a value is held.
    pub(crate) fn holding(&self) -> bool {
        self.held.1 > self.held.0
    }

    /// Room for the next read of up to `chunk` bytes, right after the held bytes.
    pub(crate) fn room(&mut self, chunk: usize) -> &mut [u8] {
        let (start, end) = self.held;
        if start > 0 {
            self.buf.copy_within(start..end, 0);
            self.held = (0, end - start);
        }
        let end = self.held.1;
        if self.buf.len() < end + chunk {
            self.buf.resize(end + chunk, 0);
        }
        &mut self.buf[end..end + chunk]
    }

    /// `n` bytes were read into [`Stream::room`]: returns what is decided, values replaced
    /// (borrowed from the buffer when nothing was replaced, else from `out`), and whether
    /// bytes held before this read are still held (the caller's hold timer keeps running).
    pub(crate) fn filled<'a>(
        &'a mut self,
        m: &Masker,
        n: usize,
        out: &'a mut Vec<u8>,
    ) -> (&'a [u8], bool) {
        out.clear();
        let before = self.held.1;
        let end = before + n;
        let mut base = 0;
        if let Some(prefix) = &mut self.swallowing {
            // Held is empty while swallowing: the new bytes start at 0.
            while base < end {
                prefix.push(self.buf[base]);
                if m.begins(prefix).is_none() {
                    prefix.pop();
                    break;
                }
                base += 1;
            }
            if base < end || !m.begins_longer(prefix) {
                self.swallowing = None;
            }
        }
        let region = &self.buf[base..end];
        let (hold, masked) = m.scan(region, out, false);
        self.held = (base + hold, end);
        let still = base + hold < before;
        if masked {
            (out.as_slice(), still)
        } else {
            (&self.buf[base..base + hold], still)
        }
    }

    /// Takes `data` as if read (for tests and callers without a read of their own), appending
    /// what is decided to `out`.
    #[cfg(test)]
    pub(crate) fn feed(&mut self, m: &Masker, data: &[u8], out: &mut Vec<u8>) {
        self.room(data.len()).copy_from_slice(data);
        let mut scratch = Vec::new();
        let (decided, _) = self.filled(m, data.len(), &mut scratch);
        out.extend_from_slice(decided);
    }

    fn held_bytes(&self) -> &[u8] {
        &self.buf[self.held.0..self.held.1]
    }

    /// The program stopped writing in the middle of a possible value for [`HOLD`]: at least
    /// `mask_min_length` bytes of a value's beginning become its marker (and the rest of the
    /// value is swallowed if it comes), fewer are written as they are.
    pub(crate) fn stall(&mut self, m: &Masker, out: &mut Vec<u8>) {
        if !self.holding() {
            return;
        }
        match m.begins(self.held_bytes()) {
            Some(i) if self.held_bytes().len() >= m.min_length => {
                out.extend_from_slice(&m.markers[m.owner[i]]);
                self.swallowing = Some(Zeroizing::new(self.held_bytes().to_vec()));
                self.held = (0, 0);
            }
            _ => self.end(m, out),
        }
    }

    /// Nothing more will come: every held byte is written, complete values replaced.
    pub(crate) fn end(&mut self, m: &Masker, out: &mut Vec<u8>) {
        let (start, end) = self.held;
        let mut replaced = Vec::new();
        let (_, masked) = m.scan(&self.buf[start..end], &mut replaced, true);
        if masked {
            out.extend_from_slice(&replaced);
        } else {
            out.extend_from_slice(&self.buf[start..end]);
        }
        self.held = (0, 0);
    }
}

/// The values masked now, shared by the pumps and updated by a refresh.
pub(crate) struct Masks {
    rules: Rules,
    state: Mutex<Published>,
    /// Bumped on every publish; the pumps compare it to theirs before each chunk.
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Masks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masks({:?})", self.rules)
    }
}

struct Published {
    current: Vec<(String, Secret)>,
    /// Values replaced by a refresh, and when.
    retired: Vec<(String, Secret, Instant)>,
    masker: Arc<Masker>,
}

impl Masks {
    /// Masks for the values delivered at the start.
    pub(crate) fn new(values: Vec<(String, Secret)>, rules: Rules) -> Arc<Masks> {
        let masker = Arc::new(Masker::new(&values, &rules));
        Arc::new(Masks {
            rules,
            state: Mutex::new(Published {
                current: values,
                retired: Vec::new(),
                masker,
            }),
            generation: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A refresh published `values`: they are masked from now on, and those they replaced
    /// for [`RETIRED_FOR`] more.
    pub(crate) fn publish(&self, values: Vec<(String, Secret)>) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.current == values {
            return;
        }
        let old = std::mem::replace(&mut state.current, values);
        let state = &mut *state;
        let current = &state.current;
        let gone: Vec<(String, Secret, Instant)> = old
            .into_iter()
            .filter(|(_, v)| !current.iter().any(|(_, c)| c == v))
            .map(|(n, v)| (n, v, now))
            .collect();
        state.retired.retain(|(_, v, at)| {
            now.duration_since(*at) < RETIRED_FOR && !current.iter().any(|(_, c)| c == v)
        });
        state.retired.extend(gone);
        let all: Vec<(String, Secret)> = state
            .current
            .iter()
            .cloned()
            .chain(state.retired.iter().map(|(n, v, _)| (n.clone(), v.clone())))
            .collect();
        state.masker = Arc::new(Masker::new(&all, &self.rules));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// The current matcher and its generation.
    pub(crate) fn current(&self) -> (u64, Arc<Masker>) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (
            self.generation.load(std::sync::atomic::Ordering::Acquire),
            Arc::clone(&state.masker),
        )
    }

    /// Whether a publish happened since `generation`.
    pub(crate) fn changed_since(&self, generation: u64) -> bool {
        self.generation.load(std::sync::atomic::Ordering::Acquire) != generation
    }
}

/// For the fuzz target (`fuzz/fuzz_targets/mask.rs`): `input` masked as it streams, read in
/// pieces cut at `cuts` (with a stall, as after [`HOLD`], where the flag says), then ended; and
/// every form masked with its marker, for a model to compare with.
#[allow(clippy::type_complexity)]
pub fn fuzz_stream(
    values: &[(String, Vec<u8>)],
    min_length: usize,
    marker: &str,
    input: &[u8],
    cuts: &[(usize, bool)],
) -> (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>) {
    let values: Vec<(String, Secret)> = values
        .iter()
        .map(|(n, v)| (n.clone(), Secret::new(v.clone())))
        .collect();
    let rules = Rules {
        min_length,
        marker: marker.to_string(),
    };
    let m = Masker::new(&values, &rules);
    let mut s = Stream::default();
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let mut at = 0;
    let mut cuts = cuts.to_vec();
    crate::order::sort(&mut cuts);
    cuts.push((input.len(), false));
    for (cut, stall) in cuts {
        let cut = cut.min(input.len()).max(at);
        let piece = &input[at..cut];
        s.room(piece.len()).copy_from_slice(piece);
        let (decided, _) = s.filled(&m, piece.len(), &mut scratch);
        out.extend_from_slice(decided);
        if stall {
            s.stall(&m, &mut out);
        }
        at = cut;
    }
    s.end(&m, &mut out);
    let forms = m
        .patterns
        .iter()
        .zip(&m.owner)
        .map(|(p, &o)| (p.to_vec(), m.markers[o].clone()))
        .collect();
    (out, forms)
}

#[cfg(test)]
mod tests;
