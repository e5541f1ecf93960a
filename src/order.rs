//! Sorting, with one copy of std's sort algorithm in the binary.
//!
//! `slice::sort_by` compiles std's stable sort (driftsort, its quicksort and small-sort paths:
//! 3 to 4 KB) once for every element type and comparison, and `collect()` into a `BTreeMap` or
//! `BTreeSet` sorts its input first, so it does too: twenty-odd copies were 73 KB of the static
//! binary (docs/size.md). Here the one sort runs over indices through a `dyn` comparison
//! and the slice is then permuted in place; ordered collections are filled by insertion. The
//! results are std's: the sort is stable, and of equal keys the last one inserted is kept.

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`, as `slice::sort_by` does.
pub(crate) fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..v.len()).collect();
    sort_indices(&mut order, &mut |a, b| cmp(&v[a], &v[b]));
    permute(&mut order, &mut |a, b| v.swap(a, b));
}

/// Sorts `v` stably by the key `key` gives, as `slice::sort_by_key` does.
pub(crate) fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `v` stably, as `slice::sort` does.
pub(crate) fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// The one instance of std's sort: indices, compared through `cmp`.
fn sort_indices(order: &mut [usize], cmp: &mut dyn FnMut(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| cmp(a, b));
}

/// Moves the element at `order[k]` to `k`, for every `k`, by swaps along each cycle of the
/// permutation; `order` is left as the identity.
fn permute(order: &mut [usize], swap: &mut dyn FnMut(usize, usize)) {
    for start in 0..order.len() {
        let mut at = start;
        loop {
            let from = order[at];
            order[at] = at;
            if from == start {
                break;
            }
            swap(at, from);
            at = from;
        }
    }
}

/// `collect()` into an ordered collection (`BTreeMap`, `BTreeSet`, `serde_json::Map`) by
/// inserting each item, which keeps std's sort out of the collection's code.
pub(crate) trait CollectOrdered: Iterator + Sized {
    /// The collection of these items, as `collect()` makes it (the last of equal keys kept).
    fn collect_ordered<C: Default + Extend<Self::Item>>(self) -> C {
        let mut out = C::default();
        out.extend(self);
        out
    }
}

impl<I: Iterator> CollectOrdered for I {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every arrangement of up to six elements with repeated keys sorts as std's stable sort
    /// does (the second field tells equal keys apart).
    #[test]
    fn sorts_as_std_does() {
        fn arrangements(rest: &[u8], done: &mut Vec<u8>, out: &mut Vec<Vec<(u8, usize)>>) {
            if rest.is_empty() {
                out.push(done.iter().enumerate().map(|(i, &k)| (k, i)).collect());
            }
            for i in 0..rest.len() {
                let mut left = rest.to_vec();
                done.push(left.remove(i));
                arrangements(&left, done, out);
                done.pop();
            }
        }
        let mut cases = Vec::new();
        for n in 0..=6 {
            arrangements(&[2, 0, 1, 2, 0, 3][..n], &mut Vec::new(), &mut cases);
        }
        assert!(cases.len() > 800);
        for case in cases {
            let mut ours = case.clone();
            let mut std = case.clone();
            sort_by_key(&mut ours, |e| e.0);
            std.sort_by_key(|e| e.0);
            assert_eq!(ours, std, "{case:?}");
            let mut ours = case.clone();
            let mut std = case;
            sort_by(&mut ours, |a, b| a.0.cmp(&b.0).reverse());
            std.sort_by(|a, b| a.0.cmp(&b.0).reverse());
            assert_eq!(ours, std);
        }
        let mut words = vec!["b", "c", "a", "b"];
        sort(&mut words);
        assert_eq!(words, ["a", "b", "b", "c"]);
    }

    /// Of equal keys the last is kept, as `collect()` keeps it.
    #[test]
    fn collect_ordered_keeps_the_last() {
        let pairs = [("b", 1), ("a", 2), ("b", 3)];
        let ours: BTreeMap<&str, i32> = pairs.iter().copied().collect_ordered();
        let std: BTreeMap<&str, i32> = pairs.iter().copied().collect();
        assert_eq!(ours, std);
        assert_eq!(ours["b"], 3);
    }
}
