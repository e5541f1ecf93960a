//! Assembling the configured sources for one pass: which are built (from the merged settings and
//! the manifest), in which precedence order, and the whole-set operations (injected env, consumed
//! files). It sits above `settings` and `manifest` so that no source module needs either.

use crate::environ::Environ;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::reference::Reference;
use crate::settings::Settings;
use crate::source::{
    Carry, Injected, Source, SourceKind, aws, azure, bundle, default, env, file, gcp, local, vault,
};

/// Every configured source, plus the precedence order to walk for secrets without a reference.
pub struct Sources {
    all: Vec<Box<dyn Source>>,
    order: Vec<SourceKind>,
}

impl Sources {
    /// Builds the configured sources. No I/O happens here. `carry`: what an earlier pass of the
    /// pipeline left for this one (a live refresh); empty at a start.
    pub fn build(
        settings: &Settings,
        manifest: &Manifest,
        env: &Environ,
        carry: &Carry,
    ) -> Result<Sources, Error> {
        let mut all: Vec<Box<dyn Source>> = vec![
            Box::new(
                file::FileSource::new(settings.secrets_dirs.clone(), settings.max_secret_bytes)
                    .skipping(&carry.written),
            ),
            Box::new(env::EnvSource::new(
                settings.env_prefix.clone(),
                env.clone(),
            )),
            Box::new(default::DefaultSource::new(defaults(manifest))),
        ];
        if let Some(b) = &settings.bundle {
            all.push(Box::new(
                bundle::BundleSource::new(b.clone(), env.clone()).with_url_cache(&carry.bundle_url),
            ));
        }
        if let Some(v) = &settings.vault {
            all.push(Box::new(
                vault::VaultSource::new(v.clone(), env.clone()).with_keep(&carry.vault),
            ));
        }
        // Always built (references need no settings); in the order only with prefixes.
        let aws = aws::AwsSource::new(settings.aws.clone(), env.clone(), settings.max_secret_bytes);
        let aws_in_order = aws.serves_names();
        all.push(Box::new(aws));
        let gcp = gcp::GcpSource::new(settings.gcp.clone(), env.clone(), settings.max_secret_bytes);
        let gcp_in_order = gcp.serves_names();
        all.push(Box::new(gcp));
        // Likewise: in the order only with secret_init.azure.vault.
        let azure = azure::AzureSource::new(
            settings.azure.clone(),
            env.clone(),
            settings.max_secret_bytes,
        );
        let azure_in_order = azure.has_vault();
        all.push(Box::new(azure));
        if let Some(path) = &settings.local_config {
            all.push(Box::new(local::LocalSource::new(
                path.clone(),
                crate::manifest::read_local_secrets,
            )));
        }
        // Sources that are not configured are skipped in the order (a vault with no address).
        let order = settings
            .sources
            .iter()
            .copied()
            .filter(|k| all.iter().any(|s| s.kind() == *k))
            .filter(|k| *k != SourceKind::Aws || aws_in_order)
            .filter(|k| *k != SourceKind::Gcp || gcp_in_order)
            .filter(|k| *k != SourceKind::Azure || azure_in_order)
            .collect();
        Ok(Sources { all, order })
    }

    /// Builds from explicit parts (unit tests).
    #[cfg(test)]
    pub fn from_parts(all: Vec<Box<dyn Source>>, order: Vec<SourceKind>) -> Sources {
        Sources { all, order }
    }

    /// The earliest [`Source::credentials_expire_at`] of all sources.
    pub fn credentials_expire_at(&self) -> Option<u64> {
        self.all
            .iter()
            .filter_map(|s| s.credentials_expire_at())
            .min()
    }

    /// Hands every source the references of its scheme among `references` ([`Source::prefetch`]).
    pub fn prefetch(&mut self, references: &[&Reference]) {
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
    pub fn order(&self) -> &[SourceKind] {
        &self.order
    }

    /// Every source's [`Source::consumed_files`].
    pub fn consumed_files(&mut self) -> Vec<std::path::PathBuf> {
        self.all
            .iter_mut()
            .flat_map(|s| s.consumed_files())
            .collect()
    }

    /// Every source's whole-environment injections, in source order (a later source's variable
    /// replaces an earlier one's).
    pub fn injected_env(&mut self) -> Result<Vec<Injected>, crate::error::Errors> {
        let mut out: Vec<Injected> = Vec::new();
        // Position of each variable in `out`: a whole vault injects thousands, so no linear scans.
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut errors = crate::error::Errors::default();
        for s in &mut self.all {
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
    pub fn get(&mut self, kind: SourceKind) -> Option<&mut (dyn Source + 'static)> {
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
        .collect()
}
