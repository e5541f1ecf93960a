//! A small test PKI made with the openssl command: a CA, server certificates for names (a
//! server reached through a proxy by a name only the proxy resolves) and client certificates
//! (the vault's `cert` login).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A test CA (P-256, openssl) in a directory, issuing certificates for servers and clients.
pub struct TestCa {
    /// The CA certificate (PEM).
    pub cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

impl TestCa {
    /// A new CA whose files live in `dir` (which must exist).
    pub fn new(dir: &Path) -> TestCa {
        let ca = TestCa {
            cert: dir.join("ca.pem"),
            key: dir.join("ca.key"),
            dir: dir.to_path_buf(),
        };
        super::succeeded(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
                .args(["-subj", "/CN=secret-init test CA"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .arg("-keyout")
                .arg(&ca.key)
                .arg("-out")
                .arg(&ca.cert),
        );
        ca
    }

    /// Issues `(cert, key)` PEM files for `cn`, named `<stem>.pem`/`<stem>.key`; `dns` names the
    /// subject alternative names (a server certificate), empty for a client certificate.
    pub fn issue(&self, stem: &str, cn: &str, dns: &[&str]) -> (PathBuf, PathBuf) {
        let cert = self.dir.join(format!("{stem}.pem"));
        let key = self.dir.join(format!("{stem}.key"));
        let csr = self.dir.join(format!("{stem}.csr"));
        let ext = self.dir.join(format!("{stem}.ext"));
        let mut e = String::from("basicConstraints=critical,CA:FALSE\n");
        if dns.is_empty() {
            e.push_str("extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
        } else {
            let sans: Vec<String> = dns.iter().map(|d| format!("DNS:{d}")).collect();
            e.push_str(&format!(
                "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nsubjectAltName={}\n",
                sans.join(",")
            ));
        }
        std::fs::write(&ext, e).expect("write ext");
        super::succeeded(
            Command::new("openssl")
                .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-nodes"])
                .arg("-subj")
                .arg(format!("/CN={cn}"))
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr),
        );
        super::succeeded(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
                .arg("-in")
                .arg(&csr)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(&cert),
        );
        (cert, key)
    }
}
