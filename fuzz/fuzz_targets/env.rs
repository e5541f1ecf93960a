//! Env names and values: `SecretName::parse`, `name::is_env_name`, `plan::check_env` and the
//! child-environment builder `deliver::env::child_environment`.
//!
//! Invariants: the name checks agree with independent models of their documented rules; an env
//! delivery `check_env` accepts has a valid name, no NUL and fits execve's per-string limit; the
//! program's environment has no key starting with the prefix or `SECRET_INIT_`, none of the always
//! scrubbed or `scrub_env` names, unique keys, every delivery exactly once with its bytes unchanged,
//! every other parent variable kept with its value, and `KEY=VALUE` splits back on the first `=`.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::env::{
    ALWAYS_SCRUBBED, EnvDelivery, Environ, check_env, check_exec_size, child_environment,
};
use secret_init::name::{self, SecretName};
use secret_init::secret::Secret;

#[derive(Arbitrary, Debug)]
struct Input {
    prefix: String,
    names: Vec<String>,
    parent: Vec<(Vec<u8>, Vec<u8>)>,
    extra: Vec<String>,
    deliveries: Vec<(String, Vec<u8>)>,
    allow_dangerous: bool,
}

fn model_secret_name(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s != "."
        && s != ".."
        && !s.starts_with("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

fn model_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn scrubbed(key: &[u8], prefix: &str, extra: &[String]) -> bool {
    key.starts_with(prefix.as_bytes())
        || key.starts_with(b"SECRET_INIT_")
        || ALWAYS_SCRUBBED.iter().any(|k| k.as_bytes() == key)
        || extra.iter().any(|k| k.as_bytes() == key)
}

fuzz_target!(|input: Input| {
    for n in &input.names {
        let ok = SecretName::parse(n).is_ok();
        assert_eq!(ok, model_secret_name(n), "SecretName::parse({n:?})");
        if ok {
            assert!(!n.contains('/') && !n.contains('\0'));
        }
        assert_eq!(
            name::is_env_name(n),
            model_env_name(n),
            "is_env_name({n:?})"
        );
    }
    let prefix = if input.prefix.is_empty()
        || !input
            .prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        "TRUSS_SECRET_".to_string()
    } else {
        input.prefix.clone()
    };
    // The parent environment as the kernel hands it over: keys without '=' or NUL, values without NUL.
    let parent: Vec<(OsString, OsString)> = input
        .parent
        .iter()
        .filter(|(k, v)| !k.is_empty() && !k.contains(&b'=') && !k.contains(&0) && !v.contains(&0))
        .map(|(k, v)| (OsString::from_vec(k.clone()), OsString::from_vec(v.clone())))
        .collect();
    let mut deliveries: Vec<EnvDelivery> = Vec::new();
    for (var, value) in &input.deliveries {
        let secret = Secret::new(value.clone());
        let accepted = check_env(var, &secret, input.allow_dangerous).is_ok();
        if accepted {
            assert!(model_env_name(var));
            assert!(!value.contains(&0));
            assert!(input.allow_dangerous || !name::is_dangerous_env(var));
            assert!(var.len() + value.len() + 2 <= 128 * 1024);
        }
        // plan::build refuses two deliveries to one variable and any the prefix would scrub.
        if accepted
            && !deliveries.iter().any(|d| &d.var == var)
            && !scrubbed(var.as_bytes(), &prefix, &input.extra)
        {
            deliveries.push(EnvDelivery {
                var: var.clone(),
                secret: "s".into(),
                value: secret,
            });
        }
    }
    let out = child_environment(&Environ::new(parent.clone()), &prefix, &input.extra, &deliveries);
    let _ = check_exec_size(&[OsString::from("prog")], &out);

    for (i, (k, v)) in out.iter().enumerate() {
        let kb = k.as_bytes();
        assert!(
            !kb.starts_with(prefix.as_bytes()),
            "prefixed key {k:?} kept"
        );
        assert!(
            !kb.starts_with(b"SECRET_INIT_"),
            "SECRET_INIT_ key {k:?} kept"
        );
        assert!(
            !ALWAYS_SCRUBBED.iter().any(|s| s.as_bytes() == kb),
            "{k:?} kept"
        );
        assert!(
            !input.extra.iter().any(|s| s.as_bytes() == kb),
            "scrub_env {k:?} kept"
        );
        assert!(
            !out[..i].iter().any(|(k2, _)| k2 == k),
            "duplicate key {k:?}"
        );
        // KEY=VALUE splits back on the first '='.
        let mut line = kb.to_vec();
        line.push(b'=');
        line.extend_from_slice(v.as_bytes());
        let eq = line.iter().position(|b| *b == b'=').expect("has =");
        assert_eq!(&line[..eq], kb);
        assert_eq!(&line[eq + 1..], v.as_bytes());
        match deliveries.iter().find(|d| d.var.as_bytes() == kb) {
            Some(d) => assert_eq!(v.as_bytes(), d.value.expose(), "delivery {k:?} changed"),
            None => assert!(
                parent.iter().any(|(pk, pv)| pk == k && pv == v),
                "{k:?} neither delivered nor inherited"
            ),
        }
    }
    for d in &deliveries {
        assert_eq!(
            out.iter()
                .filter(|(k, _)| k.as_bytes() == d.var.as_bytes())
                .count(),
            1
        );
    }
    for (k, _) in &parent {
        if !scrubbed(k.as_bytes(), &prefix, &input.extra) {
            assert!(out.iter().any(|(ok, _)| ok == k), "inherited {k:?} dropped");
        }
    }
});
