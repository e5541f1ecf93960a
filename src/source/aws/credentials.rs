//! AWS credentials, found in botocore's order as far as secret-init goes:
//!
//! 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) in the environment;
//! 2. the profile's `role_arn` assumed at STS with what its `source_profile` leads to;
//! 3. web identity (IRSA): `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (+
//!    `AWS_ROLE_SESSION_NAME`), else the profile's `role_arn` + `web_identity_token_file` (+
//!    `role_session_name`), exchanged at STS `AssumeRoleWithWebIdentity` (an unsigned form POST);
//! 4. the profile's own (`AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`): IAM
//!    Identity Center from the `aws sso login` token cache ([`super::sso`]), the shared
//!    credentials file's keys (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`),
//!    `credential_process` ([`super::process`]), the config file's keys (`AWS_CONFIG_FILE`,
//!    default `~/.aws/config`, sections `[default]` and `[profile NAME]`);
//! 5. the container credential endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` /
//!    `_FULL_URI`), then EC2 instance metadata unless `AWS_EC2_METADATA_DISABLED=true`
//!    ([`super::metadata`]).
//!
//! Files are read only when the chain gets to them; the network only by the caller, for a web
//! identity, the container endpoint or IMDS. Keys never leave [`Secret`]s except into the
//! signer's zeroized buffers.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::process::CredentialProcess;
use super::sigv4::Credentials;
use super::sso::{Sso, SsoProfile};
use crate::environ::{Environ, expand_home};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::Outputs;
use crate::source::remote::read_token_file;

/// Largest credentials, config or token file read.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Where the credentials come from, decided without network I/O.
pub(crate) enum Chain {
    /// Static keys (environment or a profile), ready to use.
    Static(Credentials, String),
    /// A web identity to exchange at STS.
    WebIdentity(WebIdentity),
    /// The container credential endpoint (ECS task role, EKS Pod Identity).
    Container(super::metadata::Container),
    /// EC2 instance metadata (IMDSv2).
    Imds(super::metadata::Imds),
    /// A profile's `role_arn` assumed with the credentials its `source_profile` leads to (which
    /// may be a role itself).
    AssumeRole(AssumeRole, Box<Chain>),
    /// IAM Identity Center: the token `aws sso login` cached, exchanged for role credentials.
    Sso(Sso),
    /// A profile's `credential_process`, to run.
    Process(super::process::CredentialProcess),
}

/// The inputs of STS `AssumeRole` for a profile with `role_arn` and `source_profile`.
pub(crate) struct AssumeRole {
    /// The role to assume.
    pub role_arn: String,
    /// `external_id`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// `role_session_name`, else `secret-init-<unix time>`.
    pub session_name: String,
    /// `duration_seconds` (900..=43200), else STS's default (an hour).
    pub duration_seconds: Option<u32>,
    /// `profile NAME`, for messages.
    pub origin: String,
}

/// Longest `source_profile` chain followed (the AWS CLI has no limit but refuses cycles).
const MAX_ROLE_CHAIN: usize = 8;

/// The inputs of `AssumeRoleWithWebIdentity`.
#[derive(Clone, Debug)]
pub(crate) struct WebIdentity {
    /// The role to assume.
    pub role_arn: String,
    /// The file holding the OIDC token (re-read at every exchange: kubelet rotates it).
    pub token_file: PathBuf,
    /// The session name.
    pub session_name: String,
    /// Where these came from, for messages (`env` or `profile NAME`).
    pub origin: String,
}

fn secret_var(env: &Environ, name: &str) -> Option<Secret> {
    env.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| Secret::new(v.as_bytes().to_vec()))
}

/// The profile name in use.
pub(crate) fn profile_name(env: &Environ) -> String {
    env.text("AWS_PROFILE")
        .or_else(|| env.text("AWS_DEFAULT_PROFILE"))
        .unwrap_or_else(|| "default".into())
}

/// One INI file's sections: name → key → value (keys lower-cased, as configparser reads them).
pub(crate) type Ini = BTreeMap<String, BTreeMap<String, Secret>>;

/// Parses an INI file as botocore's configparser does for these files: `[section]` headers,
/// `key = value` (or `key: value`) lines, `#`/`;` comments, and indented continuation lines
/// (nested `s3 =` blocks), which are skipped. Values stay [`Secret`]s.
pub(crate) fn parse_ini(text: &[u8]) -> Ini {
    let mut out: Ini = BTreeMap::new();
    let mut current: Option<String> = None;
    for l in text.split(|&b| b == b'\n') {
        match crate::ini::line(l) {
            crate::ini::Line::Section(name) => {
                let name = String::from_utf8_lossy(name).into_owned();
                out.entry(name.clone()).or_default();
                current = Some(name);
            }
            crate::ini::Line::Pair(key, value) => {
                if let Some(section) = &current {
                    let key = String::from_utf8_lossy(key).to_ascii_lowercase();
                    let value = Secret::new(value.to_vec());
                    out.entry(section.clone()).or_default().insert(key, value);
                }
            }
            crate::ini::Line::Other => {}
        }
    }
    out
}

/// The shared files of the profile in use, read on demand.
pub(crate) struct Profiles {
    /// The profile's name.
    pub name: String,
    credentials: Option<Ini>,
    config: Option<Ini>,
    credentials_path: Option<PathBuf>,
    config_path: Option<PathBuf>,
}

impl Profiles {
    /// Locates the files in secret-init's own environment and HOME; reads nothing. A file among
    /// `outputs` (one a provider delivers to the program, such as the `aws` provider's
    /// `~/.aws/credentials` when the program shares our HOME) is treated as absent: what
    /// secret-init delivers never becomes its own identity.
    pub(crate) fn new(env: &Environ, outputs: &Outputs) -> Profiles {
        let locate = |var_name: &str, default: &str| -> Option<PathBuf> {
            let p = match env.text(var_name) {
                Some(p) => expand_home(&p, env),
                None => expand_home(default, env),
            }?;
            if outputs.contains(&p) {
                crate::log::debug!(
                    "aws: {} is delivered to the program, not read as our credentials",
                    p.display()
                );
                return None;
            }
            Some(p)
        };
        Profiles {
            name: profile_name(env),
            credentials: None,
            config: None,
            credentials_path: locate("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            config_path: locate("AWS_CONFIG_FILE", "~/.aws/config"),
        }
    }

    fn load(path: Option<&Path>) -> Result<Ini, Error> {
        let Some(path) = path else {
            return Ok(Ini::new());
        };
        match read_file(path)? {
            Some(bytes) => Ok(parse_ini(bytes.expose())),
            None => Ok(Ini::new()),
        }
    }

    /// Profile `name`'s section of the credentials file.
    fn credentials_of(&mut self, name: &str) -> Result<Option<&BTreeMap<String, Secret>>, Error> {
        if self.credentials.is_none() {
            self.credentials = Some(Profiles::load(self.credentials_path.as_deref())?);
        }
        Ok(self.credentials.as_ref().and_then(|ini| ini.get(name)))
    }

    /// The config file, read on first use.
    fn config_ini(&mut self) -> Result<&Ini, Error> {
        if self.config.is_none() {
            self.config = Some(Profiles::load(self.config_path.as_deref())?);
        }
        Ok(self.config.get_or_insert_default())
    }

    /// Profile `name`'s section of the config file.
    fn config_of(&mut self, name: &str) -> Result<Option<&BTreeMap<String, Secret>>, Error> {
        let i = self.config_ini()?;
        let prefixed = format!("profile {name}");
        Ok(i.get(&prefixed)
            .or_else(|| (name == "default").then(|| i.get("default")).flatten()))
    }

    /// A text setting of the profile's config section (`region`, `role_arn`, ...).
    pub(crate) fn config_value(&mut self, key: &str) -> Result<Option<String>, Error> {
        let name = self.name.clone();
        self.value_of(&name, key)
    }

    /// A text setting of profile `name`'s config section.
    fn value_of(&mut self, name: &str, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .config_of(name)?
            .and_then(|s| s.get(key))
            .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
            .filter(|v| !v.is_empty()))
    }

    /// Profile `name` as an IAM Identity Center profile ([`super::sso`]), its cached token read
    /// and checked against `now`; `None` when the profile has no `sso_*` keys.
    fn sso(&mut self, name: &str, env: &Environ, now: u64) -> Result<Option<Sso>, Error> {
        let session = self.value_of(name, "sso_session")?;
        let start_url = self.value_of(name, "sso_start_url")?;
        let account = self.value_of(name, "sso_account_id")?;
        let role = self.value_of(name, "sso_role_name")?;
        if session.is_none() && start_url.is_none() && account.is_none() && role.is_none() {
            return Ok(None);
        }
        let region = match &session {
            Some(s) => self
                .config_ini()?
                .get(&format!("sso-session {s}"))
                .and_then(|sec| sec.get("sso_region"))
                .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
                .filter(|v| !v.is_empty()),
            None => self.value_of(name, "sso_region")?,
        };
        let profile = SsoProfile {
            name: name.to_string(),
            session,
            start_url,
            account,
            role,
            region,
        };
        super::sso::resolve(profile, env, now, read_file).map(Some)
    }

    /// Profile `name`'s own credentials, in botocore's order of its profile providers: IAM
    /// Identity Center, the credentials file's keys, `credential_process` (credentials file
    /// first, as botocore merges the two files), the config file's keys. `None`: none of them.
    fn own_credentials(
        &mut self,
        name: &str,
        env: &Environ,
        now: u64,
    ) -> Result<Option<Chain>, Error> {
        if let Some(sso) = self.sso(name, env, now)? {
            return Ok(Some(Chain::Sso(sso)));
        }
        if let Some(c) = self.credentials_of(name)?.and_then(keys_of) {
            return Ok(Some(Chain::Static(
                c,
                format!("profile {name} (credentials file)"),
            )));
        }
        if let Some(p) = self.credential_process(name)? {
            return Ok(Some(Chain::Process(p)));
        }
        Ok(self
            .config_of(name)?
            .and_then(keys_of)
            .map(|c| Chain::Static(c, format!("profile {name} (config file)"))))
    }

    /// Profile `name`'s `credential_process` and the file that names it.
    fn credential_process(&mut self, name: &str) -> Result<Option<CredentialProcess>, Error> {
        let text = |s: Option<&BTreeMap<String, Secret>>| {
            s.and_then(|s| s.get("credential_process"))
                .map(|v| String::from_utf8_lossy(v.expose()).trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let found = match text(self.credentials_of(name)?) {
            Some(c) => Some((c, self.credentials_path.clone())),
            None => text(self.config_of(name)?).map(|c| (c, self.config_path.clone())),
        };
        Ok(found.and_then(|(command, file)| {
            Some(CredentialProcess {
                command,
                file: file?,
                origin: format!("profile {name}"),
            })
        }))
    }

    /// Profile `name` as a role to assume (`role_arn` + `source_profile`), or `None` when it
    /// is not one. `seen` holds the profiles already on the chain (a cycle is 78).
    fn role_chain(
        &mut self,
        name: &str,
        env: &Environ,
        now: u64,
        seen: &mut Vec<String>,
    ) -> Result<Option<(AssumeRole, Chain)>, Error> {
        let origin = format!("profile {name}");
        let Some(role_arn) = self.value_of(name, "role_arn")? else {
            return Ok(None);
        };
        if self.value_of(name, "credential_source")?.is_some() {
            return Err(Error::new(
                Kind::Config,
                "credential_source is not supported (use source_profile, or the environment, container or instance credentials directly)",
            )
            .with_source(origin));
        }
        let Some(source) = self.value_of(name, "source_profile")? else {
            return Ok(None);
        };
        if self.value_of(name, "mfa_serial")?.is_some() {
            return Err(Error::new(
                Kind::Config,
                "mfa_serial is set: a role that needs an MFA code cannot be assumed at start (no one is there to type it); use a role without MFA for the workload",
            )
            .with_source(origin));
        }
        seen.push(name.to_string());
        if seen.len() > MAX_ROLE_CHAIN {
            return Err(Error::new(
                Kind::Config,
                format!("source_profile chain longer than {MAX_ROLE_CHAIN} profiles"),
            )
            .with_source(origin));
        }
        let duration_seconds = match self.value_of(name, "duration_seconds")? {
            None => None,
            Some(d) => match d.trim().parse::<u32>() {
                Ok(n) if (900..=43200).contains(&n) => Some(n),
                _ => {
                    return Err(Error::new(
                        Kind::Config,
                        "duration_seconds: expected a number of seconds from 900 to 43200",
                    )
                    .with_source(origin));
                }
            },
        };
        // The source's own role comes first unless the profile is its own source (then its
        // static keys assume its role, as the AWS CLI does).
        let chain = if source != name && seen.contains(&source) {
            return Err(Error::new(
                Kind::Config,
                format!("source_profile {source} leads back to a profile already on the chain"),
            )
            .with_source(origin));
        } else if source != name
            && let Some((inner, via)) = self.role_chain(&source, env, now, seen)?
        {
            Chain::AssumeRole(inner, Box::new(via))
        } else if let Some(own) = self.own_credentials(&source, env, now)? {
            own
        } else {
            return Err(Error::new(
                Kind::Permission,
                format!(
                    "source_profile {source} has no credentials (aws_access_key_id and aws_secret_access_key, credential_process, sso_* settings, or its own role_arn and source_profile) in {}",
                    self.shown()
                ),
            )
            .with_source(origin));
        };
        Ok(Some((
            AssumeRole {
                role_arn,
                external_id: self.value_of(name, "external_id")?,
                session_name: self
                    .value_of(name, "role_session_name")?
                    .unwrap_or_else(|| format!("secret-init-{now}")),
                duration_seconds,
                origin,
            },
            chain,
        )))
    }

    /// Where the files are, for messages.
    fn shown(&self) -> String {
        let show = |p: &Option<PathBuf>| {
            p.as_ref().map_or_else(
                || "(none: no HOME, or a file secret-init delivers)".to_string(),
                |p| p.display().to_string(),
            )
        };
        format!(
            "{} and {}",
            show(&self.credentials_path),
            show(&self.config_path)
        )
    }
}

/// Reads a small file with the one input reader (`fsx::read_file`: never blocks on a FIFO,
/// regular files only, size-capped); `Ok(None)` when it does not exist.
fn read_file(path: &Path) -> Result<Option<Secret>, Error> {
    crate::fsx::read_file(path, MAX_FILE_BYTES).map_err(|e| {
        Error::new(e.kind(Kind::Data), e.text()).with_source(path.display().to_string())
    })
}

/// Reads the web identity token file (trimmed); a missing or empty file is 77.
pub(crate) fn read_token(path: &Path) -> Result<Secret, Error> {
    read_token_file(path, "AWS web identity token file")
}

fn keys_of(section: &BTreeMap<String, Secret>) -> Option<Credentials> {
    let id = section.get("aws_access_key_id")?;
    let secret = section.get("aws_secret_access_key")?;
    if id.is_empty() || secret.is_empty() {
        return None;
    }
    Some(Credentials {
        access_key_id: String::from_utf8_lossy(id.expose()).into_owned(),
        secret_access_key: secret.clone(),
        session_token: section
            .get("aws_session_token")
            .filter(|t| !t.is_empty())
            .cloned(),
        expires_at: None,
    })
}

/// What the chain tried before a network link (the container endpoint, then instance
/// metadata) and found nothing in, for that link's error: every place tried is named, not only
/// the last.
pub(crate) fn tried_before(profiles: &Profiles, imds: bool) -> String {
    format!(
        "; tried before it, none set: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
         AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE, profile {} in {}{}",
        profiles.name,
        profiles.shown(),
        if imds {
            ", AWS_CONTAINER_CREDENTIALS_FULL_URI/AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
        } else {
            ""
        }
    )
}

/// Walks the chain up to the first provider that has credentials. No network I/O: a web
/// identity is returned for the caller to exchange.
pub(crate) fn find(env: &Environ, profiles: &mut Profiles, now: u64) -> Result<Chain, Error> {
    // 1. Environment keys.
    match (
        env.text("AWS_ACCESS_KEY_ID"),
        secret_var(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => {
            return Ok(Chain::Static(
                Credentials {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: secret_var(env, "AWS_SESSION_TOKEN"),
                    expires_at: None,
                },
                "environment (AWS_ACCESS_KEY_ID)".into(),
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::new(
                Kind::Permission,
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together",
            )
            .with_source("aws credentials"));
        }
        (None, None) => {}
    }
    // 2. The profile's role assumed with its source profile's credentials (botocore's
    // AssumeRoleProvider comes before web identity).
    let name = profiles.name.clone();
    if let Some((role, source)) = profiles.role_chain(&name, env, now, &mut Vec::new())? {
        return Ok(Chain::AssumeRole(role, Box::new(source)));
    }
    // 3. Web identity: the environment, else the profile.
    let session = |s: Option<String>| s.unwrap_or_else(|| format!("secret-init-{now}"));
    if let (Some(role), Some(file)) = (
        env.text("AWS_ROLE_ARN"),
        env.text("AWS_WEB_IDENTITY_TOKEN_FILE"),
    ) {
        return Ok(Chain::WebIdentity(WebIdentity {
            role_arn: role,
            token_file: PathBuf::from(file),
            session_name: session(env.text("AWS_ROLE_SESSION_NAME")),
            origin: "environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)".into(),
        }));
    }
    if let (Some(role), Some(file)) = (
        profiles.config_value("role_arn")?,
        profiles.config_value("web_identity_token_file")?,
    ) {
        return Ok(Chain::WebIdentity(WebIdentity {
            role_arn: role,
            token_file: expand_home(&file, env).unwrap_or_else(|| PathBuf::from(file)),
            session_name: session(profiles.config_value("role_session_name")?),
            origin: format!("profile {}", profiles.name),
        }));
    }
    // 4. The profile's own: IAM Identity Center, the credentials file's keys,
    // credential_process, the config file's keys.
    if let Some(own) = profiles.own_credentials(&name, env, now)? {
        return Ok(own);
    }
    // 5. The container endpoint, then instance metadata (the only links that need the network
    // to even learn whether they apply; tried by the caller).
    if let Some(c) = super::metadata::container(env) {
        return Ok(Chain::Container(c));
    }
    if let Some(i) = super::metadata::imds(env) {
        return Ok(Chain::Imds(i));
    }
    Err(Error::new(
        Kind::Permission,
        format!(
            "no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_FULL_URI, or profile {name} in {} (instance metadata is disabled by AWS_EC2_METADATA_DISABLED)",
            profiles.shown()
        ),
    )
    .with_source("aws credentials"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    #[test]
    fn ini_reading() {
        let ini = parse_ini(
            b"# c\n[default]\naws_access_key_id = AK\nAWS_Secret_Access_Key: sk=x\ns3 =\n  max = 1\n[profile p]\nregion=eu-west-1\r\n",
        );
        assert_eq!(ini["default"]["aws_access_key_id"].expose(), b"AK");
        assert_eq!(ini["default"]["aws_secret_access_key"].expose(), b"sk=x");
        assert!(!ini["default"].contains_key("max"));
        assert_eq!(ini["profile p"]["region"].expose(), b"eu-west-1");
    }

    #[test]
    fn chain_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let creds = write(
            dir.path(),
            "credentials",
            "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = s\n[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = s\n[both]\ncredential_process = /creds-file\n[keys-first]\naws_access_key_id = KF\naws_secret_access_key = s\n",
        );
        let config = write(
            dir.path(),
            "config",
            "[profile irsa]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = /t\nregion = eu-central-1\n[profile cfg]\naws_access_key_id = CFGKEY\naws_secret_access_key = s\n[profile proc]\ncredential_process = /config \"a b\"\naws_access_key_id = LATER\naws_secret_access_key = s\n[profile both]\ncredential_process = /config-file\n[profile keys-first]\ncredential_process = /never\n[profile via]\nrole_arn = arn:aws:iam::1:role/v\nsource_profile = proc\n",
        );
        let base = [
            ("AWS_SHARED_CREDENTIALS_FILE", creds.as_str()),
            ("AWS_CONFIG_FILE", config.as_str()),
        ];
        let run = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            let env = Environ::from_pairs(&pairs);
            find(&env, &mut Profiles::new(&env, &Outputs::default()), 7)
        };
        let key = |c: Result<Chain, Error>| match c.expect("found") {
            Chain::Static(c, _) => c.access_key_id,
            Chain::WebIdentity(w) => format!("web:{}:{}", w.role_arn, w.session_name),
            Chain::Container(c) => format!("container:{}", c.url),
            Chain::Imds(i) => format!("imds:{}", i.base),
            Chain::AssumeRole(r, _) => format!("role:{}", r.role_arn),
            Chain::Sso(s) => format!("sso:{}", s.role_name),
            Chain::Process(p) => format!("process:{}", p.command),
        };
        assert_eq!(
            key(run(&[
                ("AWS_ACCESS_KEY_ID", "ENVKEY"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_ROLE_ARN", "arn:x"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")
            ])),
            "ENVKEY"
        );
        assert_eq!(
            key(run(&[
                ("AWS_ROLE_ARN", "arn:x"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")
            ])),
            "web:arn:x:secret-init-7"
        );
        assert_eq!(key(run(&[])), "FILEKEY");
        assert_eq!(key(run(&[("AWS_PROFILE", "dev")])), "DEVKEY");
        assert_eq!(key(run(&[("AWS_PROFILE", "cfg")])), "CFGKEY");
        // credential_process: after the credentials file's keys, before the config file's; the
        // credentials file's line first (botocore merges it over the config file).
        assert_eq!(
            key(run(&[("AWS_PROFILE", "proc")])),
            "process:/config \"a b\""
        );
        assert_eq!(key(run(&[("AWS_PROFILE", "keys-first")])), "KF");
        match run(&[("AWS_PROFILE", "both")]) {
            Ok(Chain::Process(p)) => {
                assert_eq!(p.command, "/creds-file");
                assert_eq!(p.file.display().to_string(), creds);
            }
            _ => panic!("both: expected the credentials file's process"),
        }
        match run(&[("AWS_PROFILE", "proc")]) {
            Ok(Chain::Process(p)) => assert_eq!(p.file.display().to_string(), config),
            _ => panic!("proc: expected a process"),
        }
        // A role's source profile may be a credential_process.
        match run(&[("AWS_PROFILE", "via")]) {
            Ok(Chain::AssumeRole(r, via)) => {
                assert_eq!(r.role_arn, "arn:aws:iam::1:role/v");
                assert!(matches!(*via, Chain::Process(_)));
            }
            _ => panic!("via: expected a role over a process"),
        }
        assert_eq!(
            key(run(&[("AWS_PROFILE", "irsa")])),
            "web:arn:aws:iam::1:role/r:secret-init-7"
        );
        assert!(matches!(
            run(&[("AWS_PROFILE", "none")]),
            Ok(Chain::Imds(_))
        ));
        // After the profile: the container endpoint, before instance metadata.
        assert!(matches!(
            run(&[
                ("AWS_PROFILE", "none"),
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/c")
            ]),
            Ok(Chain::Container(_))
        ));
        assert_eq!(
            key(run(&[(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:1/c"
            )])),
            "FILEKEY"
        );
        let e = run(&[
            ("AWS_PROFILE", "none"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .err()
        .expect("none");
        assert_eq!(e.exit_code(), 77);
        assert!(e.what.contains("no credentials"), "{e}");
        let e = run(&[("AWS_ACCESS_KEY_ID", "X")]).err().expect("half");
        assert_eq!(e.exit_code(), 77);
    }

    #[test]
    fn debug_hides_keys() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new(b"canary-sk".to_vec()),
            session_token: Some(Secret::new(b"canary-tok".to_vec())),
            expires_at: Some(1),
        };
        let d = format!("{c:?}");
        assert!(d.contains("AKID") && !d.contains("canary"), "{d}");
    }
}
