//! The start-up arena, driven directly: the test binary's own allocator is System.

use super::*;
use std::alloc::{GlobalAlloc, Layout};

/// The only test that switches the arena on: the test binary's own allocator is System, so
/// only these direct calls reach it.
#[test]
fn bumps_aligns_reuses_the_newest_grows_in_place_and_falls_back() {
    let a = StartAlloc;
    let l100 = Layout::from_size_align(100, 8).expect("layout");
    let l16 = Layout::from_size_align(16, 64).expect("layout");
    begin_start_arena();
    // SAFETY: every pointer is used within its layout and freed with the layout it was
    // allocated (or reallocated) with.
    unsafe {
        let p = a.alloc(l100);
        assert!(in_arena(p));
        p.write_bytes(7, 100);
        let q = a.alloc(l16);
        assert!(in_arena(q) && (q as usize).is_multiple_of(64) && q as usize >= p as usize + 100);
        a.dealloc(q, l16);
        let r = a.alloc(l16);
        assert_eq!(r, q, "the newest allocation's bytes are reused");
        let r2 = a.realloc(r, l16, 4096);
        assert_eq!(r2, r, "the newest allocation grows in place");
        r2.write_bytes(1, 4096);
        let p2 = a.realloc(p, l100, 200);
        assert_ne!(p2, p, "an older allocation moves");
        assert!(std::slice::from_raw_parts(p2, 100).iter().all(|&b| b == 7));
        let big = Layout::from_size_align(2 * ARENA_SIZE, 8).expect("layout");
        let b = a.alloc(big);
        assert!(
            !b.is_null() && !in_arena(b),
            "too big for the arena: musl's"
        );
        a.dealloc(b, big);
        let z = a.alloc_zeroed(l100);
        assert!(std::slice::from_raw_parts(z, 100).iter().all(|&b| b == 0));
        end_start_arena();
        let s = a.alloc(l100);
        assert!(
            !in_arena(s),
            "after the start-up phase every allocation is musl's"
        );
        a.dealloc(s, l100);
        a.dealloc(z, l100);
        a.dealloc(p2, Layout::from_size_align(200, 8).expect("layout"));
        a.dealloc(r2, Layout::from_size_align(4096, 64).expect("layout"));
    }
}
