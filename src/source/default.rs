//! The `default` source: the non-null value a secret has in config.yaml itself.

use std::collections::BTreeMap;

use super::{Found, Origin, Source, SourceKind};
use crate::error::Error;
use crate::name::SecretName;
use crate::secret::Secret;

/// The manifest's fallback values.
pub(crate) struct DefaultSource {
    values: BTreeMap<SecretName, Secret>,
}

impl DefaultSource {
    /// Takes the defaults the manifest declares, by secret.
    pub(crate) fn new(values: BTreeMap<SecretName, Secret>) -> Self {
        DefaultSource { values }
    }
}

impl Source for DefaultSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Default
    }

    fn describe(&self, _name: &SecretName) -> String {
        "default".to_string()
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        Ok(self.values.get(name).map(|v| Found {
            value: v.clone(),
            origin: Origin {
                kind: SourceKind::Default,
                label: "default".into(),
                path: None,
                version: None,
            },
        }))
    }
}
