//! Reading inputs secret-init does not control (config files, CA bundles, /etc/passwd) with a
//! size cap: at most `max + 1` bytes are read, so an oversized or endless input is detected
//! without ever being loaded whole.

use std::io::{self, Read};

/// Reads all of `r` when it holds at most `max` bytes; `Ok(None)` when it holds more.
pub fn read_capped(r: impl Read, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= max).then_some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_inclusive() {
        assert_eq!(
            read_capped(&b"abc"[..], 3).expect("io"),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_capped(&b"abcd"[..], 3).expect("io"), None);
        assert_eq!(
            read_capped(io::repeat(b'x'), 1024).expect("io"),
            None,
            "endless input stops"
        );
    }
}
