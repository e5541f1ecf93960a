//! The program's environment: secret-init's own minus its inputs, plus the env deliveries.
//!
//! Removed: every `<prefix>*` variable (the env source), every `SECRET_INIT_*` (our settings and
//! the bundle master key), Vault/OpenBao tokens and AppRole ids, `AZURE_CLIENT_SECRET`, and any
//! `scrub_env` names. A name
//! the parent holds twice is passed once, with its first value. The result is a value handed to
//! `execve`; the live environment is never modified.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Kind};
use crate::plan::EnvDelivery;
use crate::settings::Environ;

/// Credentials of other tools secret-init consumes; never passed on.
pub const ALWAYS_SCRUBBED: &[&str] = &[
    "VAULT_TOKEN",
    "BAO_TOKEN",
    "VAULT_ROLE_ID",
    "VAULT_SECRET_ID",
    "BAO_ROLE_ID",
    "BAO_SECRET_ID",
    "AZURE_CLIENT_SECRET",
];

/// Whether `key` is one of secret-init's inputs that the program must not inherit.
pub fn is_scrubbed(key: &[u8], prefix: &str, extra: &[String]) -> bool {
    key.starts_with(prefix.as_bytes())
        || key.starts_with(b"SECRET_INIT_")
        || ALWAYS_SCRUBBED.iter().any(|k| k.as_bytes() == key)
        || extra.iter().any(|k| k.as_bytes() == key)
}

/// Builds the program's environment.
pub fn child_environment(
    parent: &Environ,
    prefix: &str,
    extra_scrub: &[String],
    deliveries: &[EnvDelivery],
) -> Vec<(OsString, OsString)> {
    // A parent environment can hold one name twice (execve does not prevent it). The program
    // gets it once, with the first value: the one secret-init itself read (`Environ::get`) and the
    // one getenv(3) returns. Passing both would leave the choice to each runtime (Python's
    // os.environ keeps the last), so the program could see another value than the one checked.
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut out: Vec<(OsString, OsString)> = parent
        .0
        .iter()
        .filter(|(k, _)| !is_scrubbed(k.as_bytes(), prefix, extra_scrub))
        .filter(|(k, _)| !deliveries.iter().any(|d| d.var.as_bytes() == k.as_bytes()))
        .filter(|(k, _)| seen.insert(k.as_bytes()))
        .cloned()
        .collect();
    for d in deliveries {
        out.push((
            OsString::from(&d.var),
            OsString::from(std::ffi::OsStr::from_bytes(d.value.expose())),
        ));
    }
    out
}

/// Checks argv plus envp against the kernel's `ARG_MAX` before anything is published, so an
/// oversized environment fails cleanly (65) rather than as an `E2BIG` exec failure afterwards.
pub fn check_exec_size(argv: &[OsString], env: &[(OsString, OsString)]) -> Result<(), Error> {
    let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .unwrap_or(2 * 1024 * 1024) as usize;
    let ptr = std::mem::size_of::<usize>();
    let total: usize = argv.iter().map(|a| a.len() + 1 + ptr).sum::<usize>()
        + env
            .iter()
            .map(|(k, v)| k.len() + 1 + v.len() + 1 + ptr)
            .sum::<usize>();
    // Leave room for the auxiliary vector and the program path the kernel also copies.
    let limit = arg_max.saturating_sub(4096);
    if total > limit {
        return Err(Error::new(
            Kind::Data,
            format!(
                "the program's arguments and environment total {total} bytes, over the kernel's limit of {limit}; deliver large secrets as files"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn environ(pairs: &[(&str, &str)]) -> Environ {
        Environ::from_pairs(pairs)
    }

    #[test]
    fn inputs_removed_deliveries_added() {
        let parent = environ(&[
            ("PATH", "/bin"),
            ("TRUSS_SECRET_db", "x"),
            ("SECRET_INIT_MASTER_KEY", "k"),
            ("VAULT_TOKEN", "t"),
            ("OPENAI_API_KEY", "old"),
            ("KEEP", "a=b=="),
            ("DROPME", "1"),
        ]);
        let d = [EnvDelivery {
            var: "OPENAI_API_KEY".into(),
            secret: "openai".into(),
            value: Secret::new(b"new".to_vec()),
        }];
        let env = child_environment(&parent, "TRUSS_SECRET_", &["DROPME".into()], &d);
        let keys: Vec<_> = env
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        assert_eq!(keys, ["PATH=/bin", "KEEP=a=b==", "OPENAI_API_KEY=new"]);
    }

    /// Fuzz find (target `env`): a parent environment with one name twice gave the program both.
    #[test]
    fn duplicate_parent_names_passed_once_first_wins() {
        let parent = environ(&[("I", "first"), ("KEEP", "k"), ("I", "second"), ("I", "")]);
        let env = child_environment(&parent, "TRUSS_SECRET_", &[], &[]);
        let keys: Vec<_> = env
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        assert_eq!(keys, ["I=first", "KEEP=k"]);
    }

    #[test]
    fn exec_size_limit() {
        assert!(check_exec_size(&[OsString::from("x")], &[]).is_ok());
        let big: Vec<(OsString, OsString)> = (0..40)
            .map(|i| {
                (
                    OsString::from(format!("V{i}")),
                    OsString::from("x".repeat(100_000)),
                )
            })
            .collect();
        assert_eq!(
            check_exec_size(&[OsString::from("x")], &big).map_err(|e| e.exit_code()),
            Err(65)
        );
    }

    /// Property tests of the env builder (security.md §3.8 "Env builder"): for any parent
    /// environment and deliveries, no output key starts with the prefix or `SECRET_INIT_` or is
    /// in the deny set; keys are unique; delivered keys match `[A-Za-z_][A-Za-z0-9_]*`; each value
    /// equals its source bytes; `KEY=VALUE` splits back on the first `=`.
    mod properties {
        use std::os::unix::ffi::OsStringExt;

        use proptest::prelude::*;

        use super::*;

        /// Keys drawn so that prefixed, reserved, denied and duplicated names are common.
        fn key() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"PATH".to_vec()),
                Just(b"VAULT_TOKEN".to_vec()),
                Just(b"BAO_SECRET_ID".to_vec()),
                Just(b"DROPME".to_vec()),
                "(TRUSS_SECRET_|SECRET_INIT_|APP_)?[A-Za-z_][A-Za-z0-9_]{0,6}"
                    .prop_map(String::into_bytes),
                // Whatever the kernel allows in a key: no '=' and no NUL.
                proptest::collection::vec(1u8..=255, 1..8)
                    .prop_map(|k| k.into_iter().filter(|b| *b != b'=').collect::<Vec<u8>>())
                    .prop_filter("non-empty", |k| !k.is_empty()),
            ]
        }

        fn value() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(1u8..=255, 0..24)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn env_builder_properties(
                parent in proptest::collection::vec((key(), value()), 0..24),
                delivered in proptest::collection::btree_map("[A-Za-z_][A-Za-z0-9_]{0,6}", value(), 0..6),
                prefix in prop_oneof![Just("TRUSS_SECRET_".to_string()), "[A-Z]{1,3}_"],
            ) {
                let extra = vec!["DROPME".to_string()];
                let deliveries: Vec<EnvDelivery> = delivered
                    .iter()
                    .filter(|(k, _)| !is_scrubbed(k.as_bytes(), &prefix, &extra))
                    .map(|(k, v)| EnvDelivery {
                        var: k.clone(),
                        secret: "s".into(),
                        value: Secret::new(v.clone()),
                    })
                    .collect();
                let parent_env = Environ(
                    parent
                        .iter()
                        .map(|(k, v)| (OsString::from_vec(k.clone()), OsString::from_vec(v.clone())))
                        .collect(),
                );
                let out = child_environment(&parent_env, &prefix, &extra, &deliveries);
                for (i, (k, v)) in out.iter().enumerate() {
                    let k = k.as_bytes();
                    prop_assert!(!k.starts_with(prefix.as_bytes()));
                    prop_assert!(!k.starts_with(b"SECRET_INIT_"));
                    prop_assert!(!ALWAYS_SCRUBBED.iter().any(|d| d.as_bytes() == k));
                    prop_assert!(k != b"DROPME");
                    prop_assert!(!out[..i].iter().any(|(k2, _)| k2.as_bytes() == k), "duplicate key");
                    let line = [k, b"=", v.as_bytes()].concat();
                    let eq = line.iter().position(|b| *b == b'=').expect("has '='");
                    prop_assert_eq!(&line[..eq], k);
                    prop_assert_eq!(&line[eq + 1..], v.as_bytes());
                    match deliveries.iter().find(|d| d.var.as_bytes() == k) {
                        Some(d) => {
                            prop_assert!(crate::name::is_env_name(&d.var));
                            prop_assert_eq!(v.as_bytes(), d.value.expose());
                        }
                        // Inherited: the first value the parent holds for that key.
                        None => prop_assert_eq!(
                            Some(v.as_bytes()),
                            parent.iter().find(|(pk, _)| pk.as_slice() == k).map(|(_, pv)| pv.as_slice())
                        ),
                    }
                }
                for d in &deliveries {
                    prop_assert_eq!(out.iter().filter(|(k, _)| k.as_bytes() == d.var.as_bytes()).count(), 1);
                }
            }
        }
    }
}
