//! The `local` source: the `secrets:` map of a developer machine's `~/.truss/config.yaml`, the
//! file Truss itself reads when a model runs locally. Read once, on the first lookup that reaches
//! it; a missing file is simply an empty source.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Found, Origin, Source, SourceKind};
use crate::error::Error;
use crate::name::SecretName;
use crate::secret::Secret;

/// Reads a local config's `secrets:` map: the file at the path, named as the second argument in
/// errors.
pub(crate) type ReadLocal = fn(&std::path::Path, &str) -> Result<BTreeMap<String, Secret>, Error>;

/// Values from a local Truss config.
pub(crate) struct LocalSource {
    path: PathBuf,
    read: ReadLocal,
    values: Option<BTreeMap<String, Secret>>,
}

impl LocalSource {
    /// A source over the file at `path` (not read yet), parsed by `read` (the manifest's YAML
    /// reader, handed down so that this layer does not import the manifest's).
    pub(crate) fn new(path: PathBuf, read: ReadLocal) -> Self {
        LocalSource {
            path,
            read,
            values: None,
        }
    }

    fn load(&mut self) -> Result<&BTreeMap<String, Secret>, Error> {
        if self.values.is_none() {
            let values = if self.path.exists() {
                let src = format!("local:{}", self.path.display());
                (self.read)(&self.path, &src)?
            } else {
                crate::log::debug!("local config {} does not exist", self.path.display());
                BTreeMap::new()
            };
            self.values = Some(values);
        }
        Ok(self.values.get_or_insert_with(BTreeMap::new))
    }
}

impl Source for LocalSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Local
    }

    fn describe(&self, _name: &SecretName) -> String {
        format!("local:{}", self.path.display())
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        let label = self.describe(name);
        Ok(self.load()?.get(name.as_str()).map(|v| Found {
            value: v.clone(),
            origin: Origin {
                kind: SourceKind::Local,
                label,
                path: None,
                version: None,
            },
        }))
    }
}
