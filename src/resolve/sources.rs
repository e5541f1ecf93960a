//! Assembling the configured sources for one pass: which are built (from the merged settings and
//! the manifest), in which precedence order, and the whole-set operations (injected env, consumed
//! files). It sits above `settings` and `manifest` so that no source module needs either.

use crate::environ::Environ;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::order::CollectOrdered;
use crate::reference::Reference;
use crate::settings::Settings;
use crate::source::Carry;
use crate::source::offline::NotContacted;
use crate::source::{Injected, Outputs, Source, SourceKind};

/// Every configured source, plus the precedence order to walk for secrets without a reference.
pub(crate) struct Sources {
    /// In registry order.
    all: Vec<Box<dyn Source>>,
    order: Vec<SourceKind>,
}

impl Sources {
    /// Builds the configured sources (the registry's `SourceSettings::build`). No I/O happens
    /// here. `carry`: what an earlier pass of the pipeline left for this one (a live refresh);
    /// empty at a start. `inputs`: which files may be read as values. `offline` (`check
    /// --offline`): every source that is not local stands in for itself, contacting nothing
    /// (`source::offline`).
    pub(crate) fn build(
        settings: &Settings,
        manifest: &Manifest,
        env: &Environ,
        outputs: &Outputs,
        carry: &mut Carry,
        inputs: &crate::provenance::Inputs,
        offline: bool,
    ) -> Result<Sources, Error> {
        let generic = crate::source::registry::Generic {
            inputs: Some(inputs),
            ..settings.generic()
        };
        let built = settings.source.build(
            &generic,
            env,
            outputs,
            carry,
            defaults(manifest),
            crate::manifest::read_local_secrets,
        );
        // Sources that are not configured are skipped in the order (a vault with no address),
        // and so are those that serve references only (aws without prefixes).
        let order = settings
            .sources
            .iter()
            .copied()
            .filter(|k| built.iter().any(|b| b.in_order && b.source.kind() == *k))
            .collect();
        let all = built
            .into_iter()
            .map(|b| match b.source {
                s if offline && !s.kind().is_local() => Box::new(NotContacted::new(s)),
                s => s,
            })
            .collect();
        Ok(Sources { all, order })
    }

    /// Builds from explicit parts (unit tests).
    #[cfg(test)]
    pub(crate) fn from_parts(all: Vec<Box<dyn Source>>, order: Vec<SourceKind>) -> Sources {
        Sources { all, order }
    }

    /// Ends the pass: every source hands back to `carry` what it keeps for the next one
    /// ([`Source::hand_back`]), and the sources are dropped.
    pub(crate) fn hand_back(mut self, carry: &mut Carry) {
        for s in &mut self.all {
            s.hand_back(carry);
        }
    }

    /// The earliest [`Source::credentials_expire_at`] of all sources.
    pub(crate) fn credentials_expire_at(&self) -> Option<u64> {
        self.all
            .iter()
            .filter_map(|s| s.credentials_expire_at())
            .min()
    }

    /// Hands every source the references of its scheme among `references` ([`Source::prefetch`]).
    pub(crate) fn prefetch(&mut self, references: &[&Reference]) {
        for s in &mut self.all {
            let kind = s.kind();
            let mine: Vec<&Reference> = references
                .iter()
                .copied()
                .filter(|r| SourceKind::of(r) == kind)
                .collect();
            if !mine.is_empty() {
                s.prefetch(&mine);
            }
        }
    }

    /// The precedence order actually in use.
    pub(crate) fn order(&self) -> &[SourceKind] {
        &self.order
    }

    /// Every source's [`Source::consumed_files`].
    pub(crate) fn consumed_files(&mut self) -> Vec<std::path::PathBuf> {
        self.all
            .iter_mut()
            .flat_map(|s| s.consumed_files())
            .collect()
    }

    /// Every source's whole-environment injections, the registry's last row first, so that a
    /// variable of a source listed earlier (vault) replaces a later one's (bundle).
    pub(crate) fn injected_env(&mut self) -> Result<Vec<Injected>, crate::error::Errors> {
        let mut out: Vec<Injected> = Vec::new();
        // Position of each variable in `out`: a whole vault injects thousands, so no linear scans.
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut errors = crate::error::Errors::default();
        for s in self.all.iter_mut().rev() {
            match s.injected_env() {
                Ok(list) => {
                    for i in list {
                        match at.get(&i.var) {
                            Some(&k) => out[k] = i,
                            None => {
                                at.insert(i.var.clone(), out.len());
                                out.push(i);
                            }
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors.into_result().map(|()| out)
    }

    /// The source of a kind, if configured.
    pub(crate) fn get(&mut self, kind: SourceKind) -> Option<&mut (dyn Source + 'static)> {
        self.all
            .iter_mut()
            .find(|s| s.kind() == kind)
            .map(|b| b.as_mut())
    }
}

/// The non-null values the manifest gives its secrets, for the `default` source.
pub(crate) fn defaults(
    manifest: &Manifest,
) -> std::collections::BTreeMap<crate::name::SecretName, crate::secret::Secret> {
    manifest
        .secrets
        .iter()
        .filter_map(|d| d.default.clone().map(|v| (d.name.clone(), v)))
        .collect_ordered()
}
