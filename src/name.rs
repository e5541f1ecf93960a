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

/// Credentials secret-init consumes (Vault/OpenBao's, Azure's client secret, sops' age keys):
/// scrubbed from the program's environment and refused as `from: env:` references.
pub const OWN_CREDENTIAL_VARS: &[&str] = &[
    "VAULT_TOKEN",
    "BAO_TOKEN",
    "VAULT_ROLE_ID",
    "VAULT_SECRET_ID",
    "BAO_ROLE_ID",
    "BAO_SECRET_ID",
    "VAULT_PASSWORD",
    "BAO_PASSWORD",
    "AZURE_CLIENT_SECRET",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
];

/// Whether `s` can be an environment variable name we deliver to (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Environment variables that change how a program, its loader or its runtime starts; delivering
/// a secret into one needs `allow_dangerous_env: true` (docs/threat-model.md). Taken from the
/// loaders' own documentation, so that data from a vault or a bundle cannot pick them:
/// - glibc's `UNSECURE_ENVVARS` (sysdeps/generic/unsecvars.h: what ld.so drops for setuid
///   programs) and musl's `LD_*`; `GLIBC_TUNABLES` (CVE-2023-4911); `MALLOC_*`.
/// - OpenSSL's `OPENSSL_CONF`, `OPENSSL_MODULES`, `OPENSSL_ENGINES` (openssl-env(7)) and the
///   trust stores `SSL_CERT_*`, Python requests' and curl's CA bundles.
/// - CPython's every `PYTHON*` (the "Environment variables" section of python(1)).
/// - Node's `NODE_OPTIONS`, `NODE_PATH`, `NODE_EXTRA_CA_CERTS`, `NODE_TLS_REJECT_UNAUTHORIZED`.
/// - The JVM's `JAVA_TOOL_OPTIONS`, `_JAVA_OPTIONS`, `JDK_JAVA_OPTIONS`, `CLASSPATH`.
/// - Perl's `PERL5*` and `PERLLIB` (perlrun), Ruby's `RUBYLIB`, `RUBYOPT`, `RUBYSHELL`, `GEM_*`
///   (ruby(1)), Lua's `LUA_INIT*`, `LUA_PATH*`, `LUA_CPATH*` (lua(1)).
/// - .NET's `DOTNET_STARTUP_HOOKS`, `DOTNET_ADDITIONAL_DEPS`, `DOTNET_SHARED_STORE`,
///   `DOTNET_ROOT*`, and the profiler's `CORECLR_*` and `COMPlus_*`.
/// - Shells (`ENV`, `BASH_ENV`, `SHELLOPTS`, `BASHOPTS`, `PS4`, `PROMPT_COMMAND`, `IFS`, ...) and
///   git's command hooks (`GIT_SSH*`, `GIT_ASKPASS`, `GIT_EXEC_PATH`, `GIT_CONFIG*`, `SSH_ASKPASS`).
pub fn is_dangerous_env(s: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "LD_",
        "DYLD_",
        "MALLOC_",
        "GLIBC_TUNABLES",
        "PYTHON",
        "PERL5",
        "LUA_INIT",
        "LUA_PATH",
        "LUA_CPATH",
        "CORECLR_",
        "COMPlus_",
        "DOTNET_ROOT",
        "GEM_",
        "GIT_SSH",
        "GIT_CONFIG",
        "BASH_FUNC_",
    ];
    const EXACT: &[&str] = &[
        // Process basics and shells.
        "PATH",
        "HOME",
        "SHELL",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "GLOBIGNORE",
        "CDPATH",
        "PROMPT_COMMAND",
        "PS4",
        // glibc's UNSECURE_ENVVARS beyond LD_* and MALLOC_*.
        "GCONV_PATH",
        "GETCONF_DIR",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "NIS_PATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
        "TMPDIR",
        "TZDIR",
        // OpenSSL and trust stores.
        "OPENSSL_CONF",
        "OPENSSL_CONF_INCLUDE",
        "OPENSSL_MODULES",
        "OPENSSL_ENGINES",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        // Node.
        "NODE_OPTIONS",
        "NODE_PATH",
        "NODE_EXTRA_CA_CERTS",
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_REPL_EXTERNAL_MODULE",
        // JVM.
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        // Perl and Ruby beyond the prefixes.
        "PERLLIB",
        "RUBYLIB",
        "RUBYOPT",
        "RUBYSHELL",
        // .NET.
        "DOTNET_STARTUP_HOOKS",
        "DOTNET_ADDITIONAL_DEPS",
        "DOTNET_SHARED_STORE",
        // git and ssh helpers.
        "GIT_ASKPASS",
        "GIT_EXEC_PATH",
        "SSH_ASKPASS",
    ];
    PREFIXES.iter().any(|p| s.starts_with(p)) || EXACT.contains(&s)
}

/// The candidate a mistyped name most likely meant, for a "did you mean": the same name in
/// another case first, else the nearest within one edit (names under 5 characters) or two, and
/// never the name itself.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().filter(|c| *c != word).collect();
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= if c.len() >= 5 { 2 } else { 1 })
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars (the words are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = above;
        }
    }
    row[b.len()]
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

    /// Names a vault or bundle could set that the loaders' documentation lists.
    #[test]
    fn deny_list_covers_the_loaders_documentation() {
        for bad in [
            "GLIBC_TUNABLES",
            "OPENSSL_CONF",
            "OPENSSL_MODULES",
            "LUA_INIT",
            "LUA_INIT_5_4",
            "LUA_PATH_5_3",
            "DOTNET_STARTUP_HOOKS",
            "CORECLR_PROFILER_PATH",
            "COMPlus_EnableDiagnostics",
            "PYTHONWARNINGS",
            "PERL5DB",
            "NODE_EXTRA_CA_CERTS",
            "LOCPATH",
            "NLSPATH",
            "GIT_CONFIG_COUNT",
            "SHELLOPTS",
        ] {
            assert!(is_dangerous_env(bad), "{bad}");
        }
        for ok in [
            "OPENAI_API_KEY",
            "DATABASE_URL",
            "AWS_SECRET_ACCESS_KEY",
            "HF_TOKEN",
        ] {
            assert!(!is_dangerous_env(ok), "{ok}");
        }
    }
}
