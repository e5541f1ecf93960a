//! AWS references, in the forms peers use (doitintl/secrets-init, bank-vaults' secret-init) plus
//! short forms, each optionally followed by `#KEY` and `#KEY#VERSION`:
//!
//! | form | what is read |
//! |---|---|
//! | `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME` | a Secrets Manager secret, in the ARN's region |
//! | `aws-sm:NAME` | a Secrets Manager secret by name (or partial ARN), in the configured region |
//! | `arn:aws:ssm:REGION:ACCOUNT:parameter/PATH` | a Parameter Store parameter, decrypted, in the ARN's region |
//! | `aws-ssm:/PATH` | a parameter by name, in the configured region |
//!
//! `#KEY` picks one key of a JSON object value (a string value is delivered as its text, other
//! JSON values as their JSON). An empty key (`##VERSION`) keeps the whole value. `VERSION` pins a
//! Secrets Manager version: 32 to 64 characters of hex digits and `-` are a version id, anything
//! else a staging label (`AWSCURRENT`, `AWSPREVIOUS`, a custom label); for a parameter it is a
//! version number or a label, sent as `NAME:VERSION` (the ARN form `parameter/PATH:3` works too).
//! Other partitions (`arn:aws-cn:`, `arn:aws-us-gov:`) are accepted. Parsing does no I/O.

use std::fmt;

/// A parsed AWS reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsRef {
    /// Secrets Manager or Parameter Store.
    pub service: Service,
    /// The id as sent: the ARN, or the name.
    pub id: String,
    /// The region an ARN names.
    pub region: Option<String>,
    /// The JSON key to pick; `None`: the whole value.
    pub key: Option<String>,
    /// A pinned version id, stage, version number or label.
    pub version: Option<String>,
    /// Whether the reference was written in short form (`aws-sm:`, `aws-ssm:`).
    short: bool,
}

const FORMS: &str = "expected arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME, arn:aws:ssm:REGION:ACCOUNT:parameter/PATH, aws-sm:NAME or aws-ssm:/PATH, then optionally #KEY[#VERSION]";

impl AwsRef {
    /// Parses one of the forms in the module docs; the error explains the expected form.
    pub fn parse(s: &str) -> Result<AwsRef, String> {
        let mut parts = s.split('#');
        let head = parts.next().unwrap_or_default();
        let key = parts.next().map(str::to_string);
        let version = parts.next().map(str::to_string);
        if parts.next().is_some() {
            return Err("invalid reference: at most two '#' (REF#KEY#VERSION)".into());
        }
        if version.as_deref() == Some("") || (version.is_none() && key.as_deref() == Some("")) {
            return Err("invalid reference: empty key or version after '#'".into());
        }
        let key = key.filter(|k| !k.is_empty());
        let (service, id, region, short) = if let Some(name) = head.strip_prefix("aws-sm:") {
            (Service::SecretsManager, name.to_string(), None, true)
        } else if let Some(name) = head.strip_prefix("aws-ssm:") {
            (Service::Ssm, name.to_string(), None, true)
        } else if head.starts_with("arn:") {
            let f: Vec<&str> = head.splitn(6, ':').collect();
            let [_, partition, service, region, account, resource] = f[..] else {
                return Err(format!("invalid reference: {FORMS}"));
            };
            if !(partition == "aws" || partition.starts_with("aws-"))
                || !valid_region(region)
                || account.is_empty()
                || !account.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!("invalid reference: {FORMS}"));
            }
            let service = match (service, resource) {
                ("secretsmanager", r) if r.starts_with("secret:") => Service::SecretsManager,
                ("ssm", r) if r.starts_with("parameter/") => Service::Ssm,
                _ => return Err(format!("invalid reference: {FORMS}")),
            };
            (service, head.to_string(), Some(region.to_string()), false)
        } else {
            return Err(format!("invalid reference: {FORMS}"));
        };
        let name = if short {
            id.as_str()
        } else {
            id.split_once(if service == Service::Ssm {
                ":parameter"
            } else {
                ":secret:"
            })
            .map_or("", |(_, n)| n)
        };
        let allowed: &[u8] = match service {
            // Secrets Manager names (and the partial ARNs it accepts as ids).
            Service::SecretsManager => b"/_+=.@-:",
            // Parameter names; ':' carries a version or label (`/app/db:3`).
            _ => b"/_.-:",
        };
        if name.is_empty()
            || name.len() > 2048
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || allowed.contains(&b))
        {
            return Err(format!(
                "invalid reference: the {} name must be 1 to 2048 of A-Z a-z 0-9 and {}",
                if service == Service::Ssm {
                    "parameter"
                } else {
                    "secret"
                },
                String::from_utf8_lossy(allowed)
            ));
        }
        if let Some(v) = &version
            && (v.len() > 256 || !v.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err("invalid reference: the version must be printable ASCII".into());
        }
        Ok(AwsRef {
            service,
            id,
            region,
            key,
            version,
            short,
        })
    }

    /// Whether a pinned Secrets Manager version is a version id (else a staging label).
    pub fn version_is_id(v: &str) -> bool {
        (32..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
    }

    /// The reference without `#KEY#VERSION`: what messages name.
    pub fn target(&self) -> String {
        match (self.short, self.service) {
            (true, Service::Ssm) => format!("aws-ssm:{}", self.id),
            (true, _) => format!("aws-sm:{}", self.id),
            (false, _) => self.id.clone(),
        }
    }
}

impl fmt::Display for AwsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target())?;
        match (&self.key, &self.version) {
            (None, None) => Ok(()),
            (Some(k), None) => write!(f, "#{k}"),
            (k, Some(v)) => write!(f, "#{}#{v}", k.as_deref().unwrap_or_default()),
        }
    }
}

/// Whether `r` looks like a region name (`us-east-1`, `cn-north-1`, `us-gov-west-1`).
pub fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
}

/// The AWS services secret-init calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// Secrets Manager.
    SecretsManager,
    /// Systems Manager Parameter Store.
    Ssm,
    /// Security Token Service.
    Sts,
    /// Key Management Service (data keys wrapped by sops files and bundles).
    Kms,
}

impl Service {
    /// The signing name and endpoint prefix.
    pub fn name(self) -> &'static str {
        match self {
            Service::SecretsManager => "secretsmanager",
            Service::Ssm => "ssm",
            Service::Sts => "sts",
            Service::Kms => "kms",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip() {
        for s in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db#password",
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db#k#AWSPREVIOUS",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db:3",
            "aws-sm:app/db",
            "aws-sm:app/db#user",
            "aws-sm:app/db##AWSPREVIOUS",
            "aws-ssm:/app/db",
            "aws-ssm:/app/db#k#2",
        ] {
            let r = AwsRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(r.to_string(), s);
        }
        let r =
            AwsRef::parse("arn:aws:ssm:eu-west-1:123456789012:parameter/app/db#k#2").expect("ok");
        assert_eq!(r.service, Service::Ssm);
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.key.as_deref(), Some("k"));
        assert_eq!(r.version.as_deref(), Some("2"));
        let r = AwsRef::parse("aws-sm:x##AWSCURRENT").expect("ok");
        assert_eq!(r.key, None);
        assert!(AwsRef::version_is_id(
            "3f2b8c1e-90ab-4def-8edc-ba9876543210"
        ));
        assert!(!AwsRef::version_is_id("AWSPREVIOUS"));
    }

    #[test]
    fn malformed() {
        for s in [
            "aws-sm:",
            "aws-ssm:",
            "aws-sm:a b",
            "aws-sm:a#",
            "aws-sm:a#k#",
            "aws-sm:a#k#1#2",
            "aws-ssm:/caf\u{e9}",
            "arn:aws:s3:::bucket",
            "arn:aws:secretsmanager:us-east-1:123:parameter/x",
            "arn:aws:secretsmanager:US:123:secret:x",
            "arn:aws:secretsmanager:us-east-1:abc:secret:x",
            "arn:aws:secretsmanager:us-east-1:123:secret:",
            "arn:other:ssm:us-east-1:123:parameter/x",
            "arn:aws:ssm:us-east-1",
        ] {
            assert!(AwsRef::parse(s).is_err(), "{s:?} should fail");
        }
    }
}
