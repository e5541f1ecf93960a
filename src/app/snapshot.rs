//! Writing the fallback snapshot (`src/fallback/` seals it) after a start or a refresh that
//! succeeded: with the deliveries' atomic publisher (its directory walked from `/` without
//! following a link and refused when another user could write to it, the file staged 0600 and
//! renamed into place, fsynced), owned by the user secret-init runs as, never recorded as a
//! delivery. The state file with its generation goes in the same atomic set.

use crate::deliver::file;
use crate::fallback::{Next, generation_path};
use crate::plan::FileDelivery;
use crate::secret::Secret;
use crate::settings::Settings;

/// Writes `next` where the settings say; a failure is a warning (the program does not depend
/// on its snapshot, and the last good one stays).
pub(crate) fn write(settings: &Settings, next: Option<Next>) {
    let (Some(fb), Some(next)) = (settings.fallback.as_ref(), next) else {
        return;
    };
    let files = [
        FileDelivery {
            secret: "fallback snapshot".into(),
            path: fb.path.clone(),
            content: next.bytes,
            mode: 0o600,
            owner: None,
        },
        FileDelivery {
            secret: "fallback snapshot generation".into(),
            path: generation_path(&fb.path),
            content: Secret::new(format!("{}\n", next.generation).into_bytes()),
            mode: 0o600,
            owner: None,
        },
    ];
    let opts = file::WriteOptions {
        allow_shared_dir: false,
        trusted_uids: Vec::new(),
        durable: true,
        record: None,
    };
    match file::publish(&files, &opts, || None) {
        Ok(_) => crate::log::debug!(
            "fallback snapshot {} written (generation {})",
            fb.path.display(),
            next.generation
        ),
        Err(e) => crate::log::warn!(
            "fallback snapshot {}: not written: {}",
            fb.path.display(),
            e.what
        ),
    }
}
