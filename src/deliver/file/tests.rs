//! The publisher's unit tests.

use std::cell::Cell;
use std::os::unix::fs::symlink;

use super::super::staging::is_staging_name;
use super::*;
use crate::secret::Secret;
use nix::fcntl::FlockArg;

fn opts() -> WriteOptions {
    WriteOptions {
        allow_shared_dir: false,
        trusted_uids: Vec::new(),
        durable: false,
        record: None,
    }
}

fn delivery(dir: &Path, name: &str, content: &str) -> FileDelivery {
    FileDelivery {
        secret: name.into(),
        path: dir.join(name),
        content: Secret::new(content.as_bytes().to_vec()),
        mode: 0o600,
        owner: None,
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A stop arriving between two renames (the third poll here) rolls the set
/// back: the old files hold their old bytes, new names are gone, no staging dir is left.
/// Also a stop after the last rename, at the commit point, rolls back.
#[test]
fn stop_between_renames_rolls_back_to_the_old_set() {
    for stop_at in [3usize, 6] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::write(dir.join("a"), "old-a").expect("write");
        std::fs::write(dir.join("c"), "old-c").expect("write");
        let files: Vec<FileDelivery> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| delivery(dir, n, &format!("new-{n}")))
            .collect();
        let polls = Cell::new(0usize);
        let held = Cell::new(false);
        struct Counting<'a>(&'a Cell<usize>, &'a Cell<bool>, usize);
        impl Stop for Counting<'_> {
            fn pending(&self) -> Option<i32> {
                self.0.set(self.0.get() + 1);
                (self.0.get() >= self.2).then_some(15)
            }
            fn hold(&self) {
                self.1.set(true);
            }
        }
        let err = publish(&files, &opts(), Counting(&polls, &held, stop_at)).expect_err("stopped");
        assert_eq!(err.exit_code(), 143, "{err}");
        assert_eq!(names(dir), ["a", "c"], "stop at poll {stop_at}");
        assert_eq!(std::fs::read_to_string(dir.join("a")).expect("a"), "old-a");
        assert_eq!(std::fs::read_to_string(dir.join("c")).expect("c"), "old-c");
        assert_eq!(held.get(), stop_at == 6, "held only at the commit point");
    }
}

/// Negative control for the test above: with no stop the new set is published and held.
#[test]
fn no_stop_publishes_and_holds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let held = Cell::new(false);
    struct Hold<'a>(&'a Cell<bool>);
    impl Stop for Hold<'_> {
        fn pending(&self) -> Option<i32> {
            None
        }
        fn hold(&self) {
            self.0.set(true);
        }
    }
    let files = [delivery(tmp.path(), "a", "new")];
    publish(&files, &opts(), Hold(&held)).expect("publish");
    assert!(held.get());
    assert_eq!(names(tmp.path()), ["a"]);
}

/// The record of deliveries goes with the set: published first, listing the new files, and
/// put back as it was when a stop rolls the set back.
#[test]
fn the_record_is_rolled_back_with_the_set() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let with_record = WriteOptions {
        record: Some(dir.to_path_buf()),
        ..opts()
    };
    let first = [delivery(dir, "a", "1"), delivery(dir, "b", "1")];
    let p = publish(&first, &with_record, || None).expect("publish");
    assert_eq!(names(dir), ["..secret-init-delivered", "a", "b"]);
    assert_eq!(p.record, Some(dir.join(provenance::RECORD_NAME)));
    assert_eq!(p.files.len(), 2, "the record is not one of the files");
    let record = std::fs::read(dir.join(provenance::RECORD_NAME)).expect("record");
    let second = [delivery(dir, "a", "2"), delivery(dir, "b", "2")];
    // The record is renamed first: a stop at the second poll comes after it.
    let polls = Cell::new(0usize);
    let stop = || {
        polls.set(polls.get() + 1);
        (polls.get() >= 2).then_some(15)
    };
    publish(&second, &with_record, stop).expect_err("stopped");
    assert_eq!(
        std::fs::read(dir.join(provenance::RECORD_NAME)).expect("record"),
        record,
        "the old record is back"
    );
    assert_eq!(std::fs::read_to_string(dir.join("a")).expect("a"), "1");
    let p = publish(&second, &with_record, || None).expect("publish");
    assert_ne!(
        std::fs::read(dir.join(provenance::RECORD_NAME)).expect("record"),
        record
    );
    assert_eq!(p.ids.len(), 2);
}

/// A staging dir a SIGKILLed start left behind (unlocked, ours, our name) is
/// swept by the next publish; a live start's (locked), a symlink with our name, a directory
/// not of our naming and the link's target are all left alone.
#[test]
fn stale_staging_dirs_are_swept_safely() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let stale = dir.join(".secret-init-0123456789abcdef");
    std::fs::create_dir(&stale).expect("mkdir");
    std::fs::write(stale.join("db"), "plaintext").expect("write");
    let live = dir.join(".secret-init-fedcba9876543210");
    std::fs::create_dir(&live).expect("mkdir");
    std::fs::write(live.join("db"), "live").expect("write");
    let live_fd = std::fs::File::open(&live).expect("open");
    let _live_lock = Flock::lock(live_fd, FlockArg::LockExclusiveNonblock).expect("flock");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("keep"), "k").expect("write");
    symlink(outside.path(), dir.join(".secret-init-00000000000000aa")).expect("symlink");
    std::fs::create_dir(dir.join(".secret-init-mine")).expect("mkdir");

    publish(&[delivery(dir, "a", "new")], &opts(), || None).expect("publish");
    assert_eq!(
        names(dir),
        [
            ".secret-init-00000000000000aa",
            ".secret-init-fedcba9876543210",
            ".secret-init-mine",
            "a"
        ]
    );
    assert_eq!(names(&live), ["db"]);
    assert_eq!(names(outside.path()), ["keep"]);
}

#[test]
fn staging_names() {
    assert!(is_staging_name(b".secret-init-0123456789abcdef"));
    assert!(!is_staging_name(b".secret-init-0123456789ABCDEF"));
    assert!(!is_staging_name(b".secret-init-0123"));
    assert!(!is_staging_name(b"secret-init-0123456789abcdef"));
}
