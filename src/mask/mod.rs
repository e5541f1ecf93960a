//! Masking: every delivered secret value, and the encodings a program prints values in
//! (encode.rs), replaced by a marker in the program's output as it streams through
//! secret-init (`--mask`; docs/masking.md).
//!
//! One Aho-Corasick automaton holds every form of every value, leftmost-longest, so of two
//! overlapping values the longer is masked. Output arrives in arbitrary pieces, so a [`Stream`]
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
//! Pure: no I/O here; the threads that read the program's pipes are in pump.rs.

mod encode;
pub(crate) mod pump;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use zeroize::Zeroizing;

use crate::secret::Secret;

/// How long a possible beginning of a value is held when the program stops writing in the
/// middle of it, before it is settled ([`Stream::stall`]).
pub(crate) const HOLD: Duration = Duration::from_millis(100);

/// How long a value a refresh replaced stays masked (at least; it goes at the first publish
/// after that): a program may still print the old one while it reloads.
pub(crate) const RETIRED_FOR: Duration = Duration::from_secs(3600);

/// The default shortest value masked (`mask_min_length`).
pub(crate) const DEFAULT_MIN_LENGTH: usize = 8;

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
    ac: Option<AhoCorasick>,
    /// Every form, sorted and distinct; the automaton's pattern id is the index.
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
            if v.len() < rules.min_length.max(1) {
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
        forms.sort_by(|a, b| a.0.as_slice().cmp(b.0.as_slice()));
        forms.dedup_by(|a, b| a.0.as_slice() == b.0.as_slice());
        let mut starts = [false; 256];
        for (f, _) in &forms {
            starts[usize::from(f[0])] = true;
        }
        let max_len = forms.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
        let ac = (!forms.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(forms.iter().map(|(f, _)| f.as_slice()))
                    .or_else(|_| {
                        // Too many states for a DFA: the automaton's own choice.
                        AhoCorasick::builder()
                            .match_kind(MatchKind::LeftmostLongest)
                            .build(forms.iter().map(|(f, _)| f.as_slice()))
                    })
                    .inspect_err(|e| crate::log::error!("masking: cannot build the matcher: {e}"))
                    .ok()
            })
            .flatten();
        let (patterns, owner) = forms.into_iter().unzip();
        Masker {
            ac,
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

    /// Writes the decided part of `buf` to `out`, values replaced; returns where the undecided
    /// tail begins (`buf.len()` when everything was decided). With `last`, nothing more
    /// follows: everything is decided.
    fn scan(&self, buf: &[u8], out: &mut Vec<u8>, last: bool) -> usize {
        let Some(ac) = &self.ac else {
            out.extend_from_slice(buf);
            return buf.len();
        };
        let mut pos = 0;
        let mut hold = if last {
            buf.len()
        } else {
            self.undecided_from(buf, 0)
        };
        loop {
            let found = ac.find(Input::new(buf).span(pos..buf.len()));
            match found {
                Some(m) if m.start() < hold => {
                    out.extend_from_slice(&buf[pos..m.start()]);
                    out.extend_from_slice(&self.markers[self.owner[m.pattern().as_usize()]]);
                    pos = m.end();
                    if pos > hold {
                        hold = self.undecided_from(buf, pos);
                    }
                }
                _ => {
                    out.extend_from_slice(&buf[pos..hold]);
                    return hold;
                }
            }
        }
    }
}

/// One output stream's state between reads: the held tail, and a value being swallowed after
/// a stall masked its beginning.
#[derive(Default)]
pub(crate) struct Stream {
    held: Zeroizing<Vec<u8>>,
    swallowing: Option<Zeroizing<Vec<u8>>>,
}

impl Stream {
    /// Whether a possible beginning of a value is held.
    pub(crate) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Takes `data`, writes what is decided to `out`. Returns whether bytes held before this
    /// call are still held (the caller's hold timer keeps running then).
    pub(crate) fn feed(&mut self, m: &Masker, mut data: &[u8], out: &mut Vec<u8>) -> bool {
        if let Some(prefix) = &mut self.swallowing {
            let mut k = 0;
            while k < data.len() {
                prefix.push(data[k]);
                if m.begins(prefix).is_none() {
                    prefix.pop();
                    break;
                }
                k += 1;
            }
            let open = k == data.len() && m.begins_longer(prefix);
            data = &data[k..];
            if !open {
                self.swallowing = None;
            }
            if data.is_empty() {
                return false;
            }
        }
        if self.held.is_empty() {
            let hold = m.scan(data, out, false);
            self.held.extend_from_slice(&data[hold..]);
            return false;
        }
        let before = self.held.len();
        self.held.extend_from_slice(data);
        let hold = m.scan(&self.held, out, false);
        self.held.drain(..hold);
        hold < before
    }

    /// The program stopped writing in the middle of a possible value for [`HOLD`]: at least
    /// `mask_min_length` bytes of a value's beginning become its marker (and the rest of the
    /// value is swallowed if it comes), fewer are written as they are.
    pub(crate) fn stall(&mut self, m: &Masker, out: &mut Vec<u8>) {
        if self.held.is_empty() {
            return;
        }
        match m.begins(&self.held) {
            Some(i) if self.held.len() >= m.min_length => {
                out.extend_from_slice(&m.markers[m.owner[i]]);
                self.swallowing = Some(std::mem::take(&mut self.held));
            }
            _ => self.end(m, out),
        }
    }

    /// Nothing more will come: every held byte is written, complete values replaced.
    pub(crate) fn end(&mut self, m: &Masker, out: &mut Vec<u8>) {
        m.scan(&self.held, out, true);
        self.held.clear();
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

#[cfg(test)]
mod tests;
