//! `check --offline`: a remote source stands in for itself without being contacted. Its
//! references were parsed and checked when the manifest was read; here each one it would serve,
//! and each lookup by name that reaches it, answers with a placeholder value, so the rest of the
//! pass (the plan, templates, providers, destinations) runs as the run's would. Nothing is sent,
//! no credential is read: the real source is only asked to describe itself and to hand back
//! what it holds, which it never filled.

use super::{Carry, Found, Origin, Source, SourceKind};
use crate::error::Error;
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;

/// The value every uncontacted read answers with. Its shape passes whatever a real value might
/// be checked against: one line of letters and digits (a host name for a provider's host
/// field), and valid base64 of plain text (`notcontacted`) for a template's `b64decode`.
pub(crate) const PLACEHOLDER: &[u8] = b"bm90Y29udGFjdGVk";

/// What `check --offline` shows for a value it did not read.
pub(crate) const NOT_CONTACTED: &str = "not contacted";

/// A remote source that answers every read with [`PLACEHOLDER`] and contacts nothing.
pub(crate) struct NotContacted {
    /// The source it stands in for: asked only for its kind and its description.
    real: Box<dyn Source>,
}

impl NotContacted {
    /// Stands in for `real`.
    pub(crate) fn new(real: Box<dyn Source>) -> NotContacted {
        NotContacted { real }
    }

    fn found(&self, label: String) -> Found {
        Found {
            value: Secret::new(PLACEHOLDER.to_vec()),
            origin: Origin {
                kind: self.real.kind(),
                // As the real source would name it, so that any error about the secret reads as
                // the run's; `check` marks the row.
                label,
                path: None,
                version: None,
            },
        }
    }
}

impl Source for NotContacted {
    fn kind(&self) -> SourceKind {
        self.real.kind()
    }

    fn describe(&self, name: &SecretName) -> String {
        self.real.describe(name)
    }

    /// A lookup by name that reaches a remote source would take its answer: the run cannot be
    /// judged without it, so it is taken as found.
    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        Ok(Some(self.found(self.real.describe(name))))
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        if SourceKind::of(reference) != self.kind() {
            return Err(super::not_mine(self.kind(), reference));
        }
        Ok(Some(self.found(reference.to_string())))
    }

    fn hand_back(&mut self, carry: &mut Carry) {
        self.real.hand_back(carry);
    }
}
