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

use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::plan::EnvDelivery;

/// Credentials of other tools secret-init consumes; never passed on.
pub const ALWAYS_SCRUBBED: &[&str] = crate::name::OWN_CREDENTIAL_VARS;

/// Whether `key` is one of secret-init's inputs that the program must not inherit.
pub(crate) fn is_scrubbed(key: &[u8], prefix: &str, extra: &[String]) -> bool {
    key.starts_with(prefix.as_bytes())
        || key.starts_with(b"SECRET_INIT_")
        || ALWAYS_SCRUBBED.iter().any(|k| k.as_bytes() == key)
        || extra.iter().any(|k| k.as_bytes() == key)
}

/// Which entries of `parent`, by position, the program inherits unchanged: not one of our inputs,
/// not replaced by a delivery, and the first of a name the parent holds twice. The supervisor
/// wipes the values of all the others from its own environment block, by the same positions
/// (a name alone cannot tell the input `VAULT_TOKEN` from a delivery named `VAULT_TOKEN`).
pub(crate) fn inherited(
    parent: &Environ,
    prefix: &str,
    extra_scrub: &[String],
    deliveries: &[EnvDelivery],
) -> Vec<bool> {
    // A parent environment can hold one name twice (execve does not prevent it). The program
    // gets it once, with the first value: the one secret-init itself read (`Environ::get`) and the
    // one getenv(3) returns. Passing both would leave the choice to each runtime (Python's
    // os.environ keeps the last), so the program could see another value than the one checked.
    let mut seen: HashSet<&[u8]> = HashSet::new();
    parent
        .0
        .iter()
        .map(|(k, _)| {
            let k = k.as_bytes();
            !is_scrubbed(k, prefix, extra_scrub)
                && !deliveries.iter().any(|d| d.var.as_bytes() == k)
                && seen.insert(k)
        })
        .collect()
}

/// The value the program's environment would hold for `name` with no env deliveries (what
/// [`child_environment`] would pass), found without building that environment.
pub(crate) fn inherited_value<'a>(
    parent: &'a Environ,
    prefix: &str,
    extra_scrub: &[String],
    name: &str,
) -> Option<&'a std::ffi::OsStr> {
    if is_scrubbed(name.as_bytes(), prefix, extra_scrub) {
        return None;
    }
    parent.get(name)
}

/// Builds the program's environment: the [`inherited`] entries, then the deliveries.
pub fn child_environment(
    parent: &Environ,
    prefix: &str,
    extra_scrub: &[String],
    deliveries: &[EnvDelivery],
) -> Vec<(OsString, OsString)> {
    let keep = inherited(parent, prefix, extra_scrub, deliveries);
    let mut out: Vec<(OsString, OsString)> = parent
        .0
        .iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|(kv, _)| kv.clone())
        .collect();
    for d in deliveries {
        out.push((
            OsString::from(&d.var),
            OsString::from(std::ffi::OsStr::from_bytes(d.value.expose())),
        ));
    }
    out
}

/// The kernel's room for argv plus envp, by its own rule (`bprm_stack_limits` in fs/exec.c): a
/// quarter of the stack rlimit, at most 6 MiB (three quarters of `_STK_LIM`), at least 128 KiB
/// (`ARG_MAX`, 32 pages). Not `sysconf(_SC_ARG_MAX)`: musl returns a constant 131072 there, which
/// refused ordinary Kubernetes environments that the kernel takes.
pub(crate) fn exec_limit(stack_rlimit: Option<u64>) -> usize {
    const MIN: u64 = 32 * 4096;
    const MAX: u64 = 6 * 1024 * 1024;
    stack_rlimit.map_or(MAX, |r| (r / 4).min(MAX)).max(MIN) as usize
}

/// The soft stack rlimit, `None` when unlimited (or unreadable, which the kernel treats alike).
fn stack_rlimit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_STACK)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|&soft| soft != nix::sys::resource::RLIM_INFINITY)
}

/// Checks argv plus envp as `execve` will, before anything is published, so an oversized
/// environment fails cleanly (65) rather than as an `E2BIG` exec failure afterwards: every string
/// (NUL included) within `MAX_ARG_STRLEN`, and the strings plus one pointer each within
/// [`exec_limit`].
pub fn check_exec_size(argv: &[OsString], env: &[(OsString, OsString)]) -> Result<(), Error> {
    check_exec_size_within(argv, env, exec_limit(stack_rlimit()))
}

fn check_exec_size_within(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    limit: usize,
) -> Result<(), Error> {
    let ptr = std::mem::size_of::<usize>();
    let per_string = crate::plan::MAX_ARG_STRLEN;
    if let Some(i) = argv.iter().position(|a| a.len() + 1 > per_string) {
        return Err(Error::new(
            Kind::Data,
            format!(
                "argument {i} of the program is over execve's {per_string}-byte limit per string"
            ),
        ));
    }
    if let Some((k, _)) = env
        .iter()
        .find(|(k, v)| k.len() + 1 + v.len() + 1 > per_string)
    {
        return Err(Error::new(
            Kind::Data,
            format!(
                "env var {} is over execve's {per_string}-byte limit per string; deliver large secrets as files",
                k.to_string_lossy()
            ),
        ));
    }
    let total: usize = argv.iter().map(|a| a.len() + 1 + ptr).sum::<usize>()
        + env
            .iter()
            .map(|(k, v)| k.len() + 1 + v.len() + 1 + ptr)
            .sum::<usize>();
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

    /// The kernel's rule, not musl's constant 131072.
    #[test]
    fn exec_limit_is_the_kernels_rule() {
        assert_eq!(exec_limit(Some(8 << 20)), 2 << 20, "8 MiB stack: a quarter");
        assert_eq!(exec_limit(None), 6 << 20, "unlimited: 6 MiB");
        assert_eq!(exec_limit(Some(1 << 30)), 6 << 20, "capped at 6 MiB");
        assert_eq!(exec_limit(Some(64 << 10)), 128 << 10, "at least 128 KiB");
        let env: Vec<(OsString, OsString)> = (0..4)
            .map(|i| (format!("K{i}").into(), "x".repeat(60_000).into()))
            .collect();
        assert!(check_exec_size_within(&[OsString::from("x")], &env, 2 << 20).is_ok());
        assert!(check_exec_size_within(&[OsString::from("x")], &env, 128 << 10).is_err());
        let long = [OsString::from("x".repeat(128 << 10))];
        assert_eq!(
            check_exec_size_within(&long, &[], 6 << 20).map_err(|e| e.exit_code()),
            Err(65),
            "one string over MAX_ARG_STRLEN"
        );
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

    /// Property tests of the env builder (docs/fuzzing.md, "Property tests"): for any parent
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
                let parent_env = Environ::new(
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
