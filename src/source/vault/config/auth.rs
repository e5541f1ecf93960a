//! `secret_init.vault.auth`: how the vault source logs in, as written and checked. Only the
//! locations of credentials are settled here; they are read at login.

use std::path::PathBuf;

use crate::error::{Error, Kind};

/// The default Kubernetes service-account token file, read by `jwt` and `kubernetes` logins.
pub(crate) const K8S_SA_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

crate::source::section::raw_section! {
    /// `secret_init.vault.auth` as written.
    pub struct AuthFileSettings {
        /// `token` (default), `approle`, `jwt`, `kubernetes`, `cert` or `userpass`.
        pub method: Option<String>,
        /// Token method: a file holding the token (else `VAULT_TOKEN` / `BAO_TOKEN`).
        pub token_file: Option<PathBuf>,
        /// AppRole: the role id itself (it is an identifier, not a secret).
        pub role_id: Option<String>,
        /// AppRole: a file holding the role id.
        pub role_id_file: Option<PathBuf>,
        /// AppRole: a file holding the secret id (else `VAULT_SECRET_ID` / `BAO_SECRET_ID`).
        pub secret_id_file: Option<PathBuf>,
        /// AppRole: delete the secret id file after a successful login (one-shot secret ids).
        pub remove_secret_id_file: Option<bool>,
        /// JWT/Kubernetes: the role to log in as.
        pub role: Option<String>,
        /// The auth mount path (default: the method's name).
        pub mount: Option<String>,
        /// JWT/Kubernetes: the token file (default: the service-account token).
        pub jwt_file: Option<PathBuf>,
        /// Cert: the client certificate (PEM) presented in the TLS handshake.
        pub client_cert: Option<PathBuf>,
        /// Cert: its private key (PEM).
        pub client_key: Option<PathBuf>,
        /// Cert: the certificate role to log in as (default: any role the certificate matches).
        pub name: Option<String>,
        /// Userpass: the user name.
        pub username: Option<String>,
        /// Userpass: a file holding the password (else `VAULT_PASSWORD` / `BAO_PASSWORD`).
        pub password_file: Option<PathBuf>,
    }
}

/// How to obtain a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A token given directly: a file, else `VAULT_TOKEN` / `BAO_TOKEN` (read at login).
    Token {
        /// The token file, if configured.
        file: Option<PathBuf>,
    },
    /// AppRole login.
    AppRole {
        /// Mount path, default `approle`.
        mount: String,
        /// Where the role id comes from.
        role_id: Credential,
        /// Where the secret id comes from.
        secret_id: Credential,
        /// Remove the secret id file after a successful login.
        remove_secret_id_file: bool,
    },
    /// JWT or Kubernetes service-account login: POST `{role, jwt}` to `auth/<mount>/login`.
    Jwt {
        /// `jwt` or `kubernetes`, for messages.
        method: &'static str,
        /// Mount path, default the method's name.
        mount: String,
        /// The role.
        role: String,
        /// The JWT file.
        jwt_file: PathBuf,
    },
    /// TLS certificate login: the client certificate in the handshake, POST `{name}` to
    /// `auth/<mount>/login`.
    Cert {
        /// Mount path, default `cert`.
        mount: String,
        /// The certificate role, if one is named.
        name: Option<String>,
        /// The client certificate and its key (PEM files, read when the connection is made).
        client_cert: PathBuf,
        /// The private key.
        client_key: PathBuf,
    },
    /// Username and password: POST `{password}` to `auth/<mount>/login/<username>`.
    Userpass {
        /// Mount path, default `userpass`.
        mount: String,
        /// The user name.
        username: String,
        /// Where the password comes from.
        password: Credential,
    },
}

impl Auth {
    /// The client certificate and key files this login presents in the TLS handshake.
    pub fn client_cert(&self) -> Option<(&PathBuf, &PathBuf)> {
        match self {
            Auth::Cert {
                client_cert,
                client_key,
                ..
            } => Some((client_cert, client_key)),
            _ => None,
        }
    }
}

/// Where a login input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Given in config.yaml (role ids only).
    Literal(String),
    /// Read from a file at login.
    File(PathBuf),
    /// Read from the first set variable of the start-time environment.
    Env(&'static [&'static str]),
}

fn mount(m: Option<&str>, default: &str) -> Result<String, Error> {
    let m = m.unwrap_or(default).trim_matches('/');
    if m.is_empty()
        || m.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || !m
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
    {
        return Err(Error::new(
            Kind::Config,
            "secret_init.vault.auth.mount: expected a mount path like approle or auth-k8s",
        ));
    }
    Ok(m.to_string())
}

pub(super) fn auth(a: Option<&AuthFileSettings>) -> Result<Auth, Error> {
    let default = AuthFileSettings::default();
    let a = a.unwrap_or(&default);
    let method = a.method.as_deref().unwrap_or("token");
    let refuse = |keys: &[(&str, bool)]| -> Result<(), Error> {
        match keys.iter().find(|(_, set)| *set) {
            Some((k, _)) => Err(Error::new(
                Kind::Config,
                format!("secret_init.vault.auth.{k} does not apply to method {method}"),
            )),
            None => Ok(()),
        }
    };
    let cert_keys = [
        ("client_cert", a.client_cert.is_some()),
        ("client_key", a.client_key.is_some()),
        ("name", a.name.is_some()),
    ];
    let userpass_keys = [
        ("username", a.username.is_some()),
        ("password_file", a.password_file.is_some()),
    ];
    if !matches!(method, "cert") {
        refuse(&cert_keys)?;
    }
    if !matches!(method, "userpass") {
        refuse(&userpass_keys)?;
    }
    let others = [
        ("token_file", a.token_file.is_some()),
        ("role_id", a.role_id.is_some()),
        ("role_id_file", a.role_id_file.is_some()),
        ("secret_id_file", a.secret_id_file.is_some()),
        ("remove_secret_id_file", a.remove_secret_id_file.is_some()),
        ("role", a.role.is_some()),
        ("jwt_file", a.jwt_file.is_some()),
    ];
    match method {
        "token" => {
            refuse(&[
                ("role_id", a.role_id.is_some()),
                ("role_id_file", a.role_id_file.is_some()),
                ("secret_id_file", a.secret_id_file.is_some()),
                ("remove_secret_id_file", a.remove_secret_id_file.is_some()),
                ("role", a.role.is_some()),
                ("mount", a.mount.is_some()),
                ("jwt_file", a.jwt_file.is_some()),
            ])?;
            Ok(Auth::Token {
                file: a.token_file.clone(),
            })
        }
        "approle" => {
            refuse(&[
                ("token_file", a.token_file.is_some()),
                ("role", a.role.is_some()),
                ("jwt_file", a.jwt_file.is_some()),
            ])?;
            let role_id = match (&a.role_id, &a.role_id_file) {
                (Some(_), Some(_)) => {
                    return Err(Error::new(
                        Kind::Config,
                        "secret_init.vault.auth: give role_id or role_id_file, not both",
                    ));
                }
                (Some(r), None) => Credential::Literal(r.clone()),
                (None, Some(f)) => Credential::File(f.clone()),
                (None, None) => Credential::Env(&["VAULT_ROLE_ID", "BAO_ROLE_ID"]),
            };
            let secret_id = match &a.secret_id_file {
                Some(f) => Credential::File(f.clone()),
                None => Credential::Env(&["VAULT_SECRET_ID", "BAO_SECRET_ID"]),
            };
            let remove = a.remove_secret_id_file.unwrap_or(false);
            if remove && a.secret_id_file.is_none() {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.vault.auth.remove_secret_id_file needs secret_id_file",
                ));
            }
            Ok(Auth::AppRole {
                mount: mount(a.mount.as_deref(), "approle")?,
                role_id,
                secret_id,
                remove_secret_id_file: remove,
            })
        }
        "jwt" | "kubernetes" => {
            refuse(&[
                ("token_file", a.token_file.is_some()),
                ("role_id", a.role_id.is_some()),
                ("role_id_file", a.role_id_file.is_some()),
                ("secret_id_file", a.secret_id_file.is_some()),
                ("remove_secret_id_file", a.remove_secret_id_file.is_some()),
            ])?;
            let role = a.role.clone().filter(|r| !r.is_empty()).ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    format!("secret_init.vault.auth: method {method} needs a role"),
                )
            })?;
            let method: &'static str = if method == "jwt" { "jwt" } else { "kubernetes" };
            Ok(Auth::Jwt {
                method,
                mount: mount(a.mount.as_deref(), method)?,
                role,
                jwt_file: a
                    .jwt_file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(K8S_SA_TOKEN)),
            })
        }
        "cert" => {
            refuse(&others)?;
            let (Some(client_cert), Some(client_key)) = (&a.client_cert, &a.client_key) else {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.vault.auth: method cert needs client_cert and client_key",
                ));
            };
            Ok(Auth::Cert {
                mount: mount(a.mount.as_deref(), "cert")?,
                name: a.name.clone().filter(|n| !n.is_empty()),
                client_cert: client_cert.clone(),
                client_key: client_key.clone(),
            })
        }
        "userpass" => {
            refuse(&others)?;
            let username = a
                .username
                .clone()
                .filter(|u| {
                    !u.is_empty()
                        && u.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
                })
                .ok_or_else(|| {
                    Error::new(
                        Kind::Config,
                        "secret_init.vault.auth: method userpass needs a username (letters, digits, - _ . @)",
                    )
                })?;
            Ok(Auth::Userpass {
                mount: mount(a.mount.as_deref(), "userpass")?,
                username,
                password: match &a.password_file {
                    Some(f) => Credential::File(f.clone()),
                    None => Credential::Env(&["VAULT_PASSWORD", "BAO_PASSWORD"]),
                },
            })
        }
        other => Err(Error::new(
            Kind::Config,
            format!(
                "secret_init.vault.auth.method: unknown method \"{}\" (token, approle, jwt, kubernetes, cert, userpass)",
                crate::log::escape_controls(other)
            ),
        )),
    }
}
