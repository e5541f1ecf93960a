//! GCP Secret Manager references, in the two forms peers use:
//!
//! | form | what is read |
//! |---|---|
//! | `gcp:secretmanager:projects/P/secrets/S[/versions/V][#KEY]` | doitintl/secrets-init's form; `#KEY` picks one key of a JSON object payload |
//! | `sm://P/S[#V]` | berglas' form: here the fragment is the **version**, as in berglas, not a JSON key |
//!
//! The version defaults to `latest`; otherwise it is a version number or an alias. Parsing does
//! no I/O.

use std::fmt;

/// A parsed Secret Manager reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcpRef {
    /// The project id or number.
    pub project: String,
    /// The secret id.
    pub secret: String,
    /// The version: `latest`, a number or an alias.
    pub version: String,
    /// The JSON key to pick; `None`: the whole payload.
    pub key: Option<String>,
    /// The reference as written (what messages name).
    text: String,
}

const FORMS: &str = "expected gcp:secretmanager:projects/PROJECT/secrets/SECRET[/versions/VERSION][#KEY] or sm://PROJECT/SECRET[#VERSION]";

/// A project id (`my-proj`), a domain-scoped one (`example.com:my-proj`) or a project number.
fn valid_project(p: &str) -> bool {
    (1..=128).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b))
}

/// A secret id: 1 to 255 of `A-Z a-z 0-9 - _`.
fn valid_secret(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `latest`, a version number or an alias (1 to 63 of `A-Z a-z 0-9 - _`).
fn valid_version(v: &str) -> bool {
    (1..=63).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl GcpRef {
    /// Parses one of the forms in the module docs; the error explains the expected form.
    pub fn parse(s: &str) -> Result<GcpRef, String> {
        let bad = || format!("invalid reference: {FORMS}");
        let (project, secret, version, key) =
            if let Some(rest) = s.strip_prefix("gcp:secretmanager:") {
                let (path, key) = match rest.split_once('#') {
                    Some((p, k)) => (p, Some(k)),
                    None => (rest, None),
                };
                if key.is_some_and(|k| k.is_empty() || k.contains('#')) {
                    return Err("invalid reference: expected one non-empty #KEY".into());
                }
                let f: Vec<&str> = path.split('/').collect();
                let (p, sec, v) = match f[..] {
                    ["projects", p, "secrets", sec] => (p, sec, "latest"),
                    ["projects", p, "secrets", sec, "versions", v] => (p, sec, v),
                    _ => return Err(bad()),
                };
                (p, sec, v, key)
            } else if let Some(rest) = s.strip_prefix("sm://") {
                let (path, version) = match rest.split_once('#') {
                    Some((p, v)) => (p, v),
                    None => (rest, "latest"),
                };
                let Some((p, sec)) = path.split_once('/') else {
                    return Err(bad());
                };
                (p, sec, version, None)
            } else {
                return Err(bad());
            };
        if !valid_project(project) {
            return Err("invalid reference: the project must be 1 to 128 of a-z 0-9 - . :".into());
        }
        if !valid_secret(secret) {
            return Err(
                "invalid reference: the secret id must be 1 to 255 of A-Z a-z 0-9 - _".into(),
            );
        }
        if !valid_version(version) {
            return Err(
                "invalid reference: the version must be latest, a number or an alias (A-Z a-z 0-9 - _)"
                    .into(),
            );
        }
        Ok(GcpRef {
            project: project.to_string(),
            secret: secret.to_string(),
            version: version.to_string(),
            key: key.map(str::to_string),
            text: s.to_string(),
        })
    }

    /// A reference to `secret` in `project`, latest version (lookups by name).
    pub fn named(project: &str, secret: &str) -> Result<GcpRef, String> {
        GcpRef::parse(&format!(
            "gcp:secretmanager:projects/{project}/secrets/{secret}"
        ))
    }

    /// The version's resource name, `projects/P/secrets/S/versions/V`: what is read and cached.
    pub fn resource(&self) -> String {
        format!(
            "projects/{}/secrets/{}/versions/{}",
            self.project, self.secret, self.version
        )
    }
}

impl fmt::Display for GcpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = GcpRef::parse("gcp:secretmanager:projects/p-1/secrets/db").expect("ok");
        assert_eq!(r.resource(), "projects/p-1/secrets/db/versions/latest");
        assert_eq!(r.key, None);
        let r =
            GcpRef::parse("gcp:secretmanager:projects/p/secrets/db/versions/3#user").expect("ok");
        assert_eq!((r.version.as_str(), r.key.as_deref()), ("3", Some("user")));
        let r = GcpRef::parse("sm://p/db#7").expect("ok");
        assert_eq!((r.version.as_str(), r.key.as_deref()), ("7", None));
        assert_eq!(GcpRef::parse("sm://p/db").expect("ok").version, "latest");
        for s in [
            "gcp:secretmanager:projects/p/secrets/db/versions/3#user",
            "gcp:secretmanager:projects/example.com:p/secrets/db/versions/latest",
            "sm://p/db#7",
            "sm://123456/db",
            "gcp:secretmanager:projects/p/secrets/db#k",
        ] {
            assert_eq!(GcpRef::parse(s).expect(s).to_string(), s);
        }
    }

    #[test]
    fn malformed() {
        for s in [
            "gcp:secretmanager:",
            "gcp:secretmanager:projects/p/secrets/",
            "gcp:secretmanager:projects/p/secrets/db/versions/",
            "gcp:secretmanager:projects/p/secrets/db/versions/1/x",
            "gcp:secretmanager:projects/P/secrets/db",
            "gcp:secretmanager:projects/p/secrets/d b",
            "gcp:secretmanager:projects/p/secrets/db#",
            "gcp:secretmanager:projects/p/secrets/db#a#b",
            "gcp:secretmanager:secrets/db",
            "sm://p",
            "sm://p/",
            "sm:///db",
            "sm://p/db#",
            "sm://p/db/x",
            "sm://p/db#1#2",
            "gcp:other:projects/p/secrets/db",
        ] {
            assert!(GcpRef::parse(s).is_err(), "{s:?} should fail");
        }
    }
}
