//! Secret names: Truss's rule plus the Kubernetes reservation of `..`-prefixed names.
//!
//! A valid name is `[-._a-zA-Z0-9]{1,253}`, not `.` or `..`, and does not start with `..`
//! (`IsConfigMapKey` in k8s.io/apimachinery; Kubernetes' AtomicWriter reserves `..*` for its own
//! `..data` links). So a valid name never contains `/` or NUL and, joined to a directory, never
//! leaves it. `.dockerconfigjson` is valid: only a leading `..` is reserved.

use std::fmt;

/// The longest name Truss and Kubernetes accept.
pub const MAX_NAME_LEN: usize = 253;

/// A validated secret name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// Validates `raw`; the error says why without repeating control bytes raw.
    pub fn parse(raw: &str) -> Result<SecretName, String> {
        if raw.is_empty() {
            return Err("invalid name: empty".into());
        }
        if raw.len() > MAX_NAME_LEN {
            return Err(format!(
                "invalid name: {} bytes long, at most {MAX_NAME_LEN}",
                raw.len()
            ));
        }
        if raw == "." || raw == ".." {
            return Err("invalid name: \".\" and \"..\" are not names".into());
        }
        if raw.starts_with("..") {
            return Err(
                "invalid name: names starting with \"..\" are reserved (Kubernetes ..data)".into(),
            );
        }
        if raw.starts_with('/') {
            return Err("invalid name: absolute path; must match [-._a-zA-Z0-9]+".into());
        }
        if raw.contains('/') {
            return Err("invalid name: contains \"/\"; must match [-._a-zA-Z0-9]+".into());
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(
                "invalid name: must match [-._a-zA-Z0-9]+ and must not start with \"..\"".into(),
            );
        }
        Ok(SecretName(raw.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` can be an environment variable name we deliver to (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Environment variables that change how a program or its loader starts; delivering a secret into
/// one of them needs `allow_dangerous_env: true` (security.md case 6).
pub fn is_dangerous_env(s: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "HOME",
        "SHELL",
        "IFS",
        "ENV",
        "BASH_ENV",
        "CDPATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PYTHONUSERBASE",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYLIB",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "GCONV_PATH",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "RES_OPTIONS",
        "TMPDIR",
        "GIT_SSH_COMMAND",
        "PROMPT_COMMAND",
        "PS4",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ];
    s.starts_with("LD_") || s.starts_with("DYLD_") || s.starts_with("MALLOC_") || EXACT.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_truss_and_kubernetes_names() {
        for ok in [
            "hf_access_token",
            "a",
            ".dockerconfigjson",
            "a.b-c_D9",
            &"x".repeat(253),
        ] {
            assert!(SecretName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_each_bad_name_with_a_reason() {
        let cases: &[(&str, &str)] = &[
            ("../../etc/passwd", "reserved"),
            ("/etc/shadow", "absolute"),
            ("a/b", "contains \"/\""),
            ("..data", "reserved"),
            ("..x", "reserved"),
            (".", "not names"),
            ("..", "not names"),
            ("", "empty"),
            ("a\0b", "must match"),
            ("a\nb", "must match"),
            ("caf\u{e9}", "must match"),
            ("a b", "must match"),
        ];
        for (bad, why) in cases {
            let err = SecretName::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(
            SecretName::parse(&"x".repeat(254))
                .expect_err("254")
                .contains("at most 253")
        );
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("OPENAI_API_KEY"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
        assert!(is_dangerous_env("LD_PRELOAD"));
        assert!(is_dangerous_env("PYTHONPATH"));
        assert!(!is_dangerous_env("OPENAI_API_KEY"));
    }
}
