//! The start-up arena: the executable's global allocator while a start runs (a part of `sys`,
//! which alone may use `unsafe`).
//!
//! A start makes a couple of thousand small, short-lived allocations (an empty manifest: ~1,800;
//! most are freed within microseconds). musl's mallocng maps and unmaps pages for them (31 mmap
//! and 12 munmap calls for an empty manifest) and costs ~35% of the start's instructions. Here
//! they come from a 1 MiB zero-filled `.bss` block instead, so the only cost of its memory is the
//! page faults of the pages a start touches (and their teardown when the program is exec'd):
//! every freed block is kept on a free list of its size class and handed out again, so the
//! pages touched are those of the start's peak of live bytes, not of everything it ever
//! allocated (a pure bump arena touched 27 pages for an empty manifest and 94 for 50 secrets).
//!
//! Size classes are powers of two from 16 bytes to 64 KiB: a request is rounded up to its class
//! (at most half of a block is slack; untouched slack costs no page), a `realloc` that stays
//! within its block's class is free, and the newest block grows in place. Larger requests and
//! those aligned beyond 16 bytes are bumped to their own size and only given back when they are
//! the newest. When the arena is full, or after [`end_start_arena`], everything comes from musl's
//! allocator, so the long-lived supervisor never allocates from the arena and a large start
//! (10,000 secrets) is served like before.
//!
//! One lock guards the arena's state, taken with a single compare-and-swap and never waited on:
//! an allocation that finds it held (another thread allocating at that instant) is served by
//! musl, and a free that finds it held leaves its block unused. Arena memory is never returned
//! to the system, which changes nothing for what secrets leave behind: secret buffers are zeroed
//! on drop, before their block is reused.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Size of the arena: a 50-secret start's live bytes peak well under it; a larger start falls
/// back to musl for the rest.
const ARENA_SIZE: usize = 1 << 20;

/// The smallest class, and the alignment of every arena block (the free-list link fits in it).
const MIN_CLASS: usize = 16;
/// The largest class: larger requests are bumped to their own size.
const MAX_CLASS: usize = 64 << 10;
/// 16, 32, ..., 64 KiB.
const CLASSES: usize = (MAX_CLASS.trailing_zeros() - MIN_CLASS.trailing_zeros() + 1) as usize;

/// The arena's memory: zero-filled `.bss`, so only the pages a start touches are ever mapped.
#[repr(C, align(4096))]
struct Memory(UnsafeCell<[u8; ARENA_SIZE]>);

/// The bump offset and the free lists, only touched while [`LOCK`] is held.
struct State {
    /// Offset of the first never-used byte of [`MEMORY`]; always a multiple of [`MIN_CLASS`].
    top: usize,
    /// Head of each class's list of freed blocks; each block's first word links to the next.
    free: [*mut u8; CLASSES],
}

struct Shared(UnsafeCell<State>);

// SAFETY: the bytes are only reached through pointers handed out by `StartAlloc`, each block to
// one owner at a time (claimed and given back under `LOCK`).
unsafe impl Sync for Memory {}
// SAFETY: the state is read and written only by the thread that holds `LOCK`.
unsafe impl Sync for Shared {}

static MEMORY: Memory = Memory(UnsafeCell::new([0; ARENA_SIZE]));
static STATE: Shared = Shared(UnsafeCell::new(State {
    top: 0,
    free: [std::ptr::null_mut(); CLASSES],
}));
/// Held while [`STATE`] is read or changed.
static LOCK: AtomicBool = AtomicBool::new(false);
/// Whether new allocations come from the arena; only between [`begin_start_arena`] and
/// [`end_start_arena`].
static ON: AtomicBool = AtomicBool::new(false);

/// The global allocator of the executable: the arena for the short start-up phase, musl's
/// allocator otherwise (see the module's text).
pub struct StartAlloc;

/// Starts serving allocations from the arena (the start-up phase).
pub(crate) fn begin_start_arena() {
    ON.store(true, Ordering::Release);
}

/// Ends the start-up phase: from here on every allocation is musl's. What the arena holds stays
/// valid; its free blocks are never handed out again.
pub(crate) fn end_start_arena() {
    ON.store(false, Ordering::Release);
}

#[inline(always)]
fn base() -> usize {
    MEMORY.0.get() as usize
}

#[inline(always)]
fn in_arena(ptr: *mut u8) -> bool {
    let p = ptr as usize;
    p >= base() && p < base() + ARENA_SIZE
}

/// The class index of a block for `layout`: `None` for the bumped ones (too large, or aligned
/// beyond 16). The same layout always gives the same answer, at allocation and at free.
#[inline(always)]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > MIN_CLASS || layout.size() > MAX_CLASS {
        return None;
    }
    let size = layout.size().max(MIN_CLASS).next_power_of_two();
    Some((size.trailing_zeros() - MIN_CLASS.trailing_zeros()) as usize)
}

/// The bytes a block for `layout` owns.
#[inline(always)]
fn capacity(layout: Layout) -> usize {
    match class_of(layout) {
        Some(c) => MIN_CLASS << c,
        None => round_up(layout.size()),
    }
}

#[inline(always)]
fn round_up(size: usize) -> usize {
    size.div_ceil(MIN_CLASS) * MIN_CLASS
}

/// Runs `f` on the state if the arena is on and the lock is free; `None` otherwise.
#[inline(always)]
fn with_state<T>(f: impl FnOnce(&mut State) -> Option<T>) -> Option<T> {
    if !ON.load(Ordering::Acquire) {
        return None;
    }
    if LOCK
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return None;
    }
    // SAFETY: `LOCK` is held, so no other reference to the state exists until it is released.
    let out = f(unsafe { &mut *STATE.0.get() });
    LOCK.store(false, Ordering::Release);
    out
}

/// A block for `layout` from its class's free list, else bumped; `None` when the arena is off,
/// busy or full.
fn claim(layout: Layout) -> Option<*mut u8> {
    with_state(|st| {
        let class = class_of(layout);
        if let Some(c) = class {
            let head = st.free[c];
            if !head.is_null() {
                // SAFETY: `head` is a freed arena block of this class (at least 16 bytes,
                // 16-aligned) whose first word was written by `give_back`.
                st.free[c] = unsafe { head.cast::<*mut u8>().read() };
                return Some(head);
            }
        }
        let align = layout.align().max(MIN_CLASS);
        let start = (base() + st.top).checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(capacity(layout))?;
        if end > base() + ARENA_SIZE {
            return None;
        }
        st.top = end - base();
        Some(MEMORY.0.get().cast::<u8>().wrapping_add(start - base()))
    })
}

/// Gives an arena block back: the newest one lowers the bump offset, any other goes on its
/// class's list (a bumped block that is not the newest stays unused).
fn give_back(ptr: *mut u8, layout: Layout) {
    with_state(|st| {
        let start = ptr as usize - base();
        if start + capacity(layout) == st.top {
            st.top = start;
        } else if let Some(c) = class_of(layout) {
            // SAFETY: the block is ours again (its owner freed it), at least 16 bytes and
            // 16-aligned: its first word holds the link.
            unsafe { ptr.cast::<*mut u8>().write(st.free[c]) };
            st.free[c] = ptr;
        }
        Some(())
    });
}

/// Grows the newest block in place to hold `new` bytes; false when it is not the newest or
/// there is no room.
fn grow_newest(ptr: *mut u8, old: Layout, new: Layout) -> bool {
    with_state(|st| {
        let start = ptr as usize - base();
        let end = start + capacity(new);
        (start + capacity(old) == st.top && end <= ARENA_SIZE).then(|| st.top = end)
    })
    .is_some()
}

// SAFETY: every pointer returned is either musl's (System) or an arena block claimed under the
// lock, so no two live allocations overlap; a block owns `capacity(layout)` bytes, at least the
// size asked for, at the alignment asked for (16-aligned classes serve only alignments up to
// 16); a pointer is handed back to whichever of the two gave it out (told apart by address).
unsafe impl GlobalAlloc for StartAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match claim(layout) {
            Some(p) => p,
            // SAFETY: the caller's layout contract is passed on unchanged.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match claim(layout) {
            Some(p) => {
                // SAFETY: `p` is a block of at least `layout.size()` bytes; a reused one is dirty.
                unsafe { p.write_bytes(0, layout.size()) };
                p
            }
            // SAFETY: as in `alloc`.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if in_arena(ptr) {
            give_back(ptr, layout);
            return;
        }
        // SAFETY: not an arena pointer, so System allocated it with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !in_arena(ptr) {
            // SAFETY: System allocated it with this layout; the caller guarantees `new_size`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size` is valid for this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // Within the block's own bytes (its class's slack, or a shrink): nothing moves. The
        // block keeps at least `capacity(new_layout)` bytes, which is all a later free or
        // realloc with the new layout assumes.
        if new_size <= capacity(layout) || grow_newest(ptr, layout, new_layout) {
            return ptr;
        }
        // SAFETY: a non-zero-size layout, as `new_size` > `layout.size()`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both ranges are live, distinct allocations at least `layout.size()` long.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
            give_back(ptr, layout);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test that switches the arena on: the test binary's own allocator is System, so
    /// only these direct calls reach it.
    #[test]
    fn classes_reuse_grow_in_place_and_fall_back() {
        let a = StartAlloc;
        let l100 = Layout::from_size_align(100, 8).expect("layout");
        let l16 = Layout::from_size_align(16, 64).expect("layout");
        let l40 = Layout::from_size_align(40, 8).expect("layout");
        begin_start_arena();
        // SAFETY: every pointer is used within its layout and freed with the layout it was
        // allocated (or reallocated) with.
        unsafe {
            let p = a.alloc(l100);
            assert!(in_arena(p) && (p as usize).is_multiple_of(16));
            p.write_bytes(7, 100);
            let q = a.alloc(l16);
            assert!(
                in_arena(q) && (q as usize).is_multiple_of(64) && q as usize >= p as usize + 100
            );
            a.dealloc(q, l16);
            let r = a.alloc(l16);
            assert_eq!(r, q, "the newest allocation's bytes are reused");
            let r2 = a.realloc(r, l16, 4096);
            assert_eq!(r2, r, "the newest allocation grows in place");
            r2.write_bytes(1, 4096);
            // An older block grows within its class (100 → 128 bytes) without moving.
            assert_eq!(a.realloc(p, l100, 120), p);
            let l120 = Layout::from_size_align(120, 8).expect("layout");
            let p2 = a.realloc(p, l120, 200);
            assert_ne!(p2, p, "an older allocation moves past its class");
            assert!(std::slice::from_raw_parts(p2, 100).iter().all(|&b| b == 7));
            // The block it left is on the 128-byte list: the next request of that class gets it.
            let reused = a.alloc(l100);
            assert_eq!(reused, p, "a freed block is handed out again");
            // Two blocks of one class freed in turn come back last in, first out.
            let (x, y, guard) = (a.alloc(l40), a.alloc(l40), a.alloc(l40));
            a.dealloc(x, l40);
            a.dealloc(y, l40);
            assert_eq!(a.alloc(l40), y);
            assert_eq!(a.alloc(l40), x);
            let big = Layout::from_size_align(2 * ARENA_SIZE, 8).expect("layout");
            let b = a.alloc(big);
            assert!(
                !b.is_null() && !in_arena(b),
                "too big for the arena: musl's"
            );
            a.dealloc(b, big);
            // A dirty reused block is zeroed when zeroed memory is asked for.
            reused.write_bytes(9, 100);
            a.dealloc(reused, l100);
            let z = a.alloc_zeroed(l100);
            assert_eq!(z, reused);
            assert!(std::slice::from_raw_parts(z, 100).iter().all(|&b| b == 0));
            // The lock held by another thread: served by musl, never waiting.
            LOCK.store(true, Ordering::Release);
            let busy = a.alloc(l40);
            LOCK.store(false, Ordering::Release);
            assert!(!in_arena(busy), "a busy arena hands the request to musl");
            a.dealloc(busy, l40);
            end_start_arena();
            let s = a.alloc(l100);
            assert!(
                !in_arena(s),
                "after the start-up phase every allocation is musl's"
            );
            a.dealloc(s, l100);
            a.dealloc(z, l100);
            a.dealloc(guard, l40);
            a.dealloc(p2, Layout::from_size_align(200, 8).expect("layout"));
            a.dealloc(r2, Layout::from_size_align(4096, 64).expect("layout"));
        }
    }
}
