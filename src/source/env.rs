//! The `env` source: `<prefix><name>` in secret-init's own environment (default prefix
//! `TRUSS_SECRET_`, as Truss reads it). The name is appended verbatim and case-sensitively, so
//! `TRUSS_SECRET_db` and `TRUSS_SECRET_DB` are two different secrets. Values are taken whole:
//! the environment block is already split on the first `=`, so `a=b==` stays `a=b==`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use super::{Found, Origin, Source, SourceKind, not_mine};
use crate::environ::Environ;
use crate::error::Error;
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;

/// Reads prefixed variables from the start-time environment snapshot.
pub(crate) struct EnvSource {
    prefix: String,
    env: Environ,
    /// The prefixed variables by the name after the prefix, indexed once: a start looks up every
    /// declared secret here, and a scan of the whole environment per secret showed in profiles.
    prefixed: HashMap<Vec<u8>, OsString>,
}

impl EnvSource {
    /// A source over `env` with `prefix`.
    pub(crate) fn new(prefix: String, env: Environ) -> Self {
        // A name given twice keeps its first value, as getenv(3) and `Environ::get` do (and as
        // the program's environment does): every reader sees the same value.
        let mut prefixed: HashMap<Vec<u8>, OsString> = HashMap::new();
        for (k, v) in env.0.iter() {
            if let Some(name) = k.as_bytes().strip_prefix(prefix.as_bytes()) {
                prefixed.entry(name.to_vec()).or_insert_with(|| v.clone());
            }
        }
        EnvSource {
            prefix,
            env,
            prefixed,
        }
    }

    fn read(&self, var: &str) -> Option<Found> {
        let value = match var.strip_prefix(self.prefix.as_str()) {
            Some(name) => self.prefixed.get(name.as_bytes()).map(OsString::as_os_str),
            None => self.env.get(var),
        };
        value.map(|v| Found {
            value: Secret::new(v.as_bytes().to_vec()),
            origin: Origin {
                kind: SourceKind::Env,
                label: format!("env:{var}"),
                path: None,
                version: None,
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
            other => Err(not_mine(SourceKind::Env, other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TRUSS_SECRET_a` given twice. The source lookup, a
    /// `from: env:` reference and getenv(3) all take the first value.
    #[test]
    fn a_name_given_twice_resolves_to_its_first_value() {
        let env = Environ::from_pairs(&[("TRUSS_SECRET_a", "first"), ("TRUSS_SECRET_a", "second")]);
        let mut s = EnvSource::new("TRUSS_SECRET_".into(), env);
        let name = SecretName::parse("a").expect("name");
        let by_lookup = s.lookup(&name).expect("lookup").expect("found");
        assert_eq!(by_lookup.value.expose(), b"first");
        let by_ref = s
            .fetch(&Reference::Env("TRUSS_SECRET_a".into()), &name)
            .expect("fetch")
            .expect("found");
        assert_eq!(by_ref.value.expose(), b"first");
    }
}
