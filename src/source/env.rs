//! The `env` source: `<prefix><name>` in secret-init's own environment (default prefix
//! `TRUSS_SECRET_`, as Truss reads it). The name is appended verbatim and case-sensitively, so
//! `TRUSS_SECRET_db` and `TRUSS_SECRET_DB` are two different secrets. Values are taken whole:
//! the environment block is already split on the first `=`, so `a=b==` stays `a=b==`.

use std::os::unix::ffi::OsStrExt;

use super::{Found, Origin, Source, SourceKind};
use crate::error::Error;
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;
use crate::settings::Environ;

/// Reads prefixed variables from the start-time environment snapshot.
pub struct EnvSource {
    prefix: String,
    env: Environ,
}

impl EnvSource {
    /// A source over `env` with `prefix`.
    pub fn new(prefix: String, env: Environ) -> Self {
        EnvSource { prefix, env }
    }

    fn read(&self, var: &str) -> Option<Found> {
        self.env.get(var).map(|v| Found {
            value: Secret::new(v.as_bytes().to_vec()),
            origin: Origin {
                kind: SourceKind::Env,
                label: format!("env:{var}"),
                path: None,
            },
        })
    }
}

impl Source for EnvSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Env
    }

    fn describe(&self, name: &SecretName) -> String {
        format!("env:{}{name}", self.prefix)
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        Ok(self.read(&format!("{}{name}", self.prefix)))
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        match reference {
            Reference::Env(var) => Ok(self.read(var)),
            other => Err(Error::new(
                crate::error::Kind::Config,
                format!("env cannot serve {other}"),
            )),
        }
    }
}
