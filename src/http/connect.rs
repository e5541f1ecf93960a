//! The connection side of the client: one ureq agent per [`super::Client`], trusting exactly one
//! PEM bundle, with a rustls provider trimmed to what a verifying client needs and a resolver
//! that never starts a thread.

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ureq::Agent;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::error::{Error, Kind};

/// Largest CA bundle read (the Debian bundle is about 220 KB).
const MAX_CA_BYTES: u64 = 4 * 1024 * 1024;

/// An agent with the policy's connection settings: statuses returned, not raised; no redirects;
/// `proxy` or none (never ureq's own reading of the environment). For https the CA bundle
/// `ca_file` is read now; a plain-http agent trusts nothing. Through a proxy, TLS runs inside the
/// CONNECT tunnel with the same trust, and the proxy's name goes through the same resolver.
/// With `client_cert` (certificate and key PEM files), https connections present it (mutual TLS).
pub(super) fn agent(
    ca_file: &Path,
    https: bool,
    proxy: Option<ureq::Proxy>,
    client_cert: Option<&(PathBuf, PathBuf)>,
) -> Result<Agent, Error> {
    let provider = Arc::new(tls_provider(https && client_cert.is_some()));
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider.clone());
    if https {
        tls = tls.root_certs(load_ca(ca_file)?);
        if let Some((cert, key)) = client_cert {
            tls = tls.client_cert(Some(load_client_cert(cert, key, provider)?));
        }
    } else {
        // No trust anchors at all: a plain-http agent must never be able to verify anything.
        tls = tls.root_certs(RootCerts::Specific(Arc::new(Vec::new())));
    }
    let config = Config::builder()
        .http_status_as_error(false)
        .https_only(false)
        .max_redirects(0)
        .proxy(proxy)
        .user_agent(concat!("secret-init/", env!("CARGO_PKG_VERSION")))
        .accept("application/json")
        .tls_config(tls.build())
        .build();
    Ok(Agent::with_parts(
        config,
        DefaultConnector::default(),
        InlineResolver,
    ))
}

/// Largest client certificate or key file read.
const MAX_CLIENT_PEM_BYTES: u64 = 256 * 1024;

/// Reads a client certificate chain and its private key (PEM), and checks with rustls that they
/// load and belong together (ureq would panic on a key rustls refuses). Errors (77) name the
/// files, never their contents.
fn load_client_cert(
    cert: &Path,
    key: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<ClientCert, Error> {
    let read = |p: &Path| match crate::fsx::read_file(p, MAX_CLIENT_PEM_BYTES) {
        Ok(Some(pem)) => Ok(pem),
        Ok(None) => Err(Error::new(
            Kind::Permission,
            format!(
                "client certificate {}: cannot read: No such file or directory",
                p.display()
            ),
        )),
        Err(e) => Err(Error::new(
            Kind::Permission,
            format!("client certificate {}: {}", p.display(), e.text()),
        )),
    };
    let bad = |p: &Path, why: &str| {
        Error::new(
            Kind::Permission,
            format!("client certificate {}: {why}", p.display()),
        )
    };
    let cert_pem = read(cert)?;
    let mut chain: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(cert_pem.expose()) {
        match item {
            Ok(PemItem::Certificate(c)) => chain.push(c),
            Ok(_) => {}
            Err(_) => return Err(bad(cert, "invalid PEM")),
        }
    }
    if chain.is_empty() {
        return Err(bad(cert, "no certificate in it"));
    }
    let key_pem = read(key)?;
    let private = PrivateKey::from_pem(key_pem.expose()).map_err(|_| {
        bad(
            key,
            "no PEM private key in it (PKCS#8, PKCS#1 or SEC1, unencrypted)",
        )
    })?;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let der = PrivateKeyDer::try_from(private.der())
        .map_err(|_| bad(key, "not a PKCS#8, PKCS#1 or SEC1 private key"))?;
    let certs: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.der()).into_owned())
        .collect();
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, &e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(certs, der.clone_key())
        .map_err(|e| bad(key, &format!("unusable with the certificate: {e}")))?;
    crate::log::debug!("presenting the client certificate {}", cert.display());
    Ok(ClientCert::new_with_certs(&chain, private))
}

/// Reads and parses a PEM CA bundle (certificates only; other PEM items are ignored).
fn load_ca(path: &Path) -> Result<RootCerts, Error> {
    let shown = path.display();
    // The one input reader: a FIFO in its place cannot block the start; regular files only.
    let pem = match crate::fsx::read_file(path, MAX_CA_BYTES) {
        Ok(Some(pem)) => pem,
        Ok(None) => {
            return Err(Error::new(
                Kind::Config,
                format!("CA bundle {shown}: cannot read: No such file or directory"),
            ));
        }
        Err(e) => {
            return Err(Error::new(
                Kind::Config,
                format!("CA bundle {shown}: {}", e.text()),
            ));
        }
    };
    let pem = pem.expose();
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::new(
                    Kind::Config,
                    format!("CA bundle {shown}: invalid PEM: {e}"),
                ));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::new(
            Kind::Config,
            format!("CA bundle {shown}: no certificates in it"),
        ));
    }
    crate::log::debug!("trusting {} CA certificates from {shown}", certs.len());
    Ok(RootCerts::new_with_certs(&certs))
}

/// The rustls ring provider, trimmed to what a verifying client uses: AES-GCM suites (TLS 1.3 and
/// the ECDHE TLS 1.2 ones), X25519/P-256/P-384 key exchange, every signature algorithm of the
/// default provider (servers choose their certificates), and private keys loaded only for a
/// client certificate (`signs`: the vault's `cert` login).
fn tls_provider(signs: bool) -> rustls::crypto::CryptoProvider {
    use rustls::SignatureScheme as S;
    use rustls::crypto::ring::{cipher_suite as cs, kx_group as kx};
    use webpki::ring as alg;
    static SIG_ALGS: rustls::crypto::WebPkiSupportedAlgorithms =
        rustls::crypto::WebPkiSupportedAlgorithms {
            all: &[
                alg::ECDSA_P256_SHA256,
                alg::ECDSA_P256_SHA384,
                alg::ECDSA_P384_SHA256,
                alg::ECDSA_P384_SHA384,
                alg::ED25519,
                alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
                alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
                alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
                alg::RSA_PKCS1_2048_8192_SHA256,
                alg::RSA_PKCS1_2048_8192_SHA384,
                alg::RSA_PKCS1_2048_8192_SHA512,
                alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
                alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
                alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
            ],
            mapping: &[
                (
                    S::ECDSA_NISTP384_SHA384,
                    &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
                ),
                (
                    S::ECDSA_NISTP256_SHA256,
                    &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
                ),
                (S::ED25519, &[alg::ED25519]),
                (
                    S::RSA_PSS_SHA512,
                    &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
                ),
                (
                    S::RSA_PSS_SHA384,
                    &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
                ),
                (
                    S::RSA_PSS_SHA256,
                    &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
                ),
                (S::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
                (S::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
                (S::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
            ],
        };
    rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![kx::X25519, kx::SECP256R1, kx::SECP384R1],
        signature_verification_algorithms: SIG_ALGS,
        secure_random: &SystemRandom,
        key_provider: if signs { &RingKeys } else { &NoPrivateKeys },
    }
}

/// Randomness for rustls from the OS (ring's `SystemRandom`, i.e. `getrandom(2)`).
#[derive(Debug)]
struct SystemRandom;

impl rustls::crypto::SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// Without a client certificate there is no private key to load.
#[derive(Debug)]
struct NoPrivateKeys;

impl rustls::crypto::KeyProvider for NoPrivateKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".into(),
        ))
    }
}

/// Client-certificate keys (vault's cert login) loaded by ring: RSA, ECDSA and Ed25519 in their
/// PKCS#8, PKCS#1 and SEC1 forms, as rustls' own ring provider loads them. Written here because
/// that provider's constructor is deprecated (for its key exchanges, which are set above anyway).
#[derive(Debug)]
struct RingKeys;

impl rustls::crypto::KeyProvider for RingKeys {
    fn load_private_key(
        &self,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        rustls::crypto::ring::sign::any_supported_type(&zeroize::Zeroizing::new(key))
    }
}

/// Resolves names inline with `getaddrinfo`: ureq's default resolver starts a thread per lookup
/// when a timeout is set, and secret-init must not leave threads behind.
#[derive(Debug)]
struct InlineResolver;

impl Resolver for InlineResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri("no host".into()))?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = (bare, port)
            .to_socket_addrs()
            .map_err(|_| ureq::Error::HostNotFound)?;
        let mut out = self.empty();
        // The array holds 16 addresses (ureq's MAX_ADDRS); more would panic on push.
        for a in config.ip_family().keep_wanted(addrs).take(16) {
            out.push(a);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}
