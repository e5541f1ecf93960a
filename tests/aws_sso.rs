//! IAM Identity Center (SSO) profiles from the token cache `aws sso login` writes: the
//! `sso_session` form and the legacy one, the portal's GetRoleCredentials served by a fake
//! (support/fake_sso.py: moto has no portal) that botocore's own SSOProvider accepts in the same
//! test, the credentials then used at an IAM-enforcing moto; an expired or missing token is a
//! clear 77.

use std::time::Duration;

use serde_json::json;

use crate::support::moto::Moto;
use crate::support::*;

/// An RFC 3339 UTC time `secs` from now (negative: in the past), via `date`.
fn utc_in(secs: i64) -> String {
    let out = succeeded(std::process::Command::new("date").args([
        "-u",
        "-d",
        &format!("{secs} seconds"),
        "+%Y-%m-%dT%H:%M:%SZ",
    ]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The token cache file name: the SHA-1 (hex) of the session name or start URL, via openssl.
fn cache_name(key: &str) -> String {
    let out = fed(
        std::process::Command::new("openssl").args(["dgst", "-sha1", "-r"]),
        key.as_bytes(),
    );
    let hex = String::from_utf8_lossy(&out.stdout);
    format!("{}.json", hex.split_whitespace().next().expect("digest"))
}

#[test]
fn sso_profiles_from_the_token_cache() {
    // The portal hands out a role's temporary credentials, as the real one does: these are
    // STS's, for a role allowed to read the secret at an IAM-enforcing moto.
    let value = canary("sso");
    let (moto, creds) = Moto::enforcing_with_role(&value);
    let id = creds["AccessKeyId"].as_str().expect("id").to_string();
    let sk = creds["SecretAccessKey"].as_str().expect("sk").to_string();
    let session = creds["SessionToken"].as_str().expect("token").to_string();
    let token = canary("ssotoken");
    let (fake, events) = spawn_script(
        "fake_sso.py",
        json!({"token": token, "role": "Reader", "account": "111122223333",
               "creds": {"accessKeyId": id, "secretAccessKey": sk, "sessionToken": session}})
        .to_string(),
    );
    let _fake = Stopped(fake);
    assert!(wait_until(Duration::from_secs(20), || events
        .lock()
        .expect("lock")
        .iter()
        .any(|l| l.starts_with("READY "))));
    let port = events.lock().expect("lock")[0]
        .split_whitespace()
        .nth(1)
        .expect("port")
        .to_string();
    let portal = format!("http://127.0.0.1:{port}");
    let sb = Sandbox::new();
    sb.write(
        "aws/config",
        "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Reader\nregion = us-east-1\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\
         [profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 111122223333\nsso_role_name = Reader\n\
         [profile half]\nsso_session = corp\nsso_account_id = 111122223333\n",
    );
    let cache = sb.mkdir("home/.aws/sso/cache");
    let write_cache = |key: &str, expires: &str| {
        std::fs::write(
            cache.join(cache_name(key)),
            json!({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
                   "accessToken": token, "expiresAt": expires})
            .to_string(),
        )
        .expect("write cache");
    };
    write_cache("corp", &utc_in(3600));
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:app/db'}\n  aws:\n    retries: 1\n");
    let run = |profile: &str| {
        let mut r = sb.run();
        moto.env(&mut r, &sb);
        r.env("AWS_PROFILE", profile)
            .env("AWS_ENDPOINT_URL_SSO", &portal)
            .args(["--log-level", "debug", "--", "/bin/true"]);
        let _ = std::fs::remove_dir_all(sb.path("out"));
        r.output()
    };

    // botocore's SSOProvider, same profile, cache and portal: the fake answers as the API does.
    let py = "import boto3, sys\nc = boto3.Session(profile_name='sso').client('secretsmanager')\nprint(c.get_secret_value(SecretId='app/db')['SecretString'])\n";
    let out = succeeded(
        std::process::Command::new(python())
            .args(["-c", py])
            .env_clear()
            .env("HOME", sb.path("home"))
            .env("AWS_CONFIG_FILE", sb.path("aws/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", sb.path("aws/credentials"))
            .env("AWS_ENDPOINT_URL_SSO", &portal)
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto.url)
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        value,
        "botocore through the fake"
    );

    run("sso")
        .expect_ok()
        .stderr_has("profile sso (sso_session corp): GetRoleCredentials for Reader in 111122223333")
        .no_leak(&[&value, &token, &sk, &session]);
    assert_eq!(read(&sb.path("out/x")), value);
    let reqs: Vec<String> = settled(&events)
        .into_iter()
        .filter(|l| l.starts_with("REQ"))
        .collect();
    assert_eq!(
        reqs,
        vec![
            "REQ /federation/credentials token=yes role=Reader account=111122223333".to_string();
            2
        ],
        "botocore's request and ours"
    );

    // The legacy form: the cache is named after the start URL (the legacy expiresAt format).
    run("legacy")
        .expect_code(77)
        .stderr_has("no cached SSO token")
        .stderr_has("aws sso login --profile legacy");
    write_cache(
        "https://legacy.awsapps.com/start",
        &utc_in(3600).replace('Z', "UTC"),
    );
    run("legacy").expect_ok().no_leak(&[&value, &token]);
    assert_eq!(read(&sb.path("out/x")), value);

    // An expired token: a clear 77 before any request.
    let before = settled(&events).len();
    write_cache("corp", &utc_in(-60));
    run("sso")
        .expect_code(77)
        .stderr_has(
            "the cached SSO token has expired (run `aws sso login --sso-session corp` again)",
        )
        .no_leak(&[&token]);
    assert_eq!(
        settled(&events).len(),
        before,
        "nothing sent with an expired token"
    );
    // A token the portal does not know: 77 naming the call.
    std::fs::write(
        cache.join(cache_name("corp")),
        json!({"accessToken": canary("stale"), "expiresAt": utc_in(3600)}).to_string(),
    )
    .expect("write cache");
    run("sso")
        .expect_code(77)
        .stderr_has(
            "aws sso GetRoleCredentials (Reader in 111122223333, profile sso (sso_session corp))",
        )
        .stderr_has("HTTP 401");
    run("half")
        .expect_code(78)
        .stderr_has("needs sso_account_id and sso_role_name");
    assert!(!sb.path("out/x").exists());
}

/// The fake portal, stopped by its PID when the test ends, passed or failed.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        stop_by_pid(&mut self.0);
    }
}
