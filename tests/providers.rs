//! Providers: what secret-init writes is read back by the real clients (botocore, huggingface_hub,
//! google-auth, the docker SDK, the kubernetes client, ssh-keygen, Python's netrc and
//! configparser, PyYAML as gh's stand-in), merges keep what was there, conflicts write nothing,
//! and materialize / clean / env behave as documented.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Runs Python from the project venv with a clean environment (HOME = the sandbox home plus
/// `env`), returning stdout; panics with stderr when it fails.
fn py(sb: &Sandbox, code: &str, env: &[(&str, &str)]) -> String {
    let home = sb.path("home");
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .envs(env.iter().copied())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "python failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Every path under `dir` with its mode and, for files, its content; links with their target.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for rel in tree(dir) {
        let p = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        let content = if meta.file_type().is_symlink() {
            std::fs::read_link(&p)
                .expect("readlink")
                .into_os_string()
                .into_encoded_bytes()
        } else if meta.is_file() {
            std::fs::read(&p).expect("read")
        } else {
            Vec::new()
        };
        out.insert(rel, (meta.permissions().mode() & 0o7777, content));
    }
    out
}

fn home(sb: &Sandbox) -> std::path::PathBuf {
    sb.mkdir("home")
}

#[test]
fn aws_default_path_merged_and_read_by_botocore() {
    let sb = Sandbox::new();
    home(&sb);
    sb.write(
        "home/.aws/credentials",
        "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = othersecret\n",
    );
    sb.config(
        "secrets:\n  aws_key_id: null\n  aws_secret: null\nsecret_init:\n  providers:\n    aws:\n      fields: {aws_access_key_id: aws_key_id, aws_secret_access_key: aws_secret}\n      values: {region: eu-west-3}\n",
    );
    let key = canary("awskey");
    let secret = canary("awssecret");
    sb.run()
        .env("TRUSS_SECRET_aws_key_id", &key)
        .env("TRUSS_SECRET_aws_secret", &secret)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&key, &secret]);
    let got = py(
        &sb,
        "import botocore.session as b\ns = b.Session(); c = s.get_credentials(); print(c.access_key, c.secret_key, c.method, s.get_config_variable('region'))\nprint(b.Session(profile='other').get_credentials().access_key)",
        &[],
    );
    assert_eq!(
        got,
        format!("{key} {secret} shared-credentials-file eu-west-3\nAKIAOTHER")
    );
    assert_eq!(mode(&sb.path("home/.aws/credentials")), 0o600);
    assert_eq!(mode(&sb.path("home/.aws/config")), 0o600);
    assert!(
        read(&sb.path("home/.aws/credentials"))
            .starts_with("[other]\naws_access_key_id = AKIAOTHER\n")
    );
}

#[test]
fn aws_override_paths_named_profile_and_session_token() {
    let sb = Sandbox::new();
    home(&sb);
    let creds = sb.path("elsewhere/creds");
    let conf = sb.path("elsewhere/conf");
    sb.config(
        "secrets:\n  k: null\n  s: null\n  t: null\nsecret_init:\n  providers:\n    aws-dev:\n      kind: aws\n      profile: dev\n      fields: {aws_access_key_id: k, aws_secret_access_key: s, aws_session_token: t}\n      values: {region: us-east-2}\n",
    );
    let t = canary("token");
    sb.run()
        .env("TRUSS_SECRET_k", "AKIADEV")
        .env("TRUSS_SECRET_s", "devsecret")
        .env("TRUSS_SECRET_t", &t)
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_CONFIG_FILE", &conf)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert!(
        !sb.path("home/.aws").exists(),
        "the default path was written despite the override"
    );
    assert!(
        read(&conf).contains("[profile dev]\nregion = us-east-2"),
        "{}",
        read(&conf)
    );
    let c = creds.to_str().expect("utf8");
    let f = conf.to_str().expect("utf8");
    let got = py(
        &sb,
        "import botocore.session as b\ns = b.Session(); c = s.get_credentials(); print(c.access_key, c.token, c.method, s.get_config_variable('region'))",
        &[
            ("AWS_SHARED_CREDENTIALS_FILE", c),
            ("AWS_CONFIG_FILE", f),
            ("AWS_PROFILE", "dev"),
        ],
    );
    assert_eq!(
        got,
        format!("AKIADEV {t} shared-credentials-file us-east-2")
    );
}

#[test]
fn aws_conflict_without_overwrite_writes_nothing_then_overwrite_replaces() {
    let sb = Sandbox::new();
    home(&sb);
    sb.mkdir("out");
    let before_text = "[default]\naws_access_key_id = AKIAOLD\naws_secret_access_key = oldsecret\n";
    sb.write("home/.aws/credentials", before_text);
    let cfg = |overwrite: bool| {
        format!(
            "secrets:\n  k: null\n  s: null\n  hf: null\nsecret_init:\n  providers:\n    aws:\n      fields: {{aws_access_key_id: k, aws_secret_access_key: s}}\n      overwrite: {overwrite}\n    huggingface:\n      fields: {{token: hf}}\n"
        )
    };
    sb.config(&cfg(false));
    let before = snapshot(sb.dir.path());
    let k = canary("newkey");
    let hf = canary("hf");
    let out = sb
        .run()
        .env("TRUSS_SECRET_k", &k)
        .env("TRUSS_SECRET_s", "newsecret")
        .env("TRUSS_SECRET_hf", &hf)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output();
    out.expect_code(73)
        .stderr_has("aws_access_key_id is already set to a different value")
        .no_leak(&[&k, &hf, "AKIAOLD", "oldsecret"]);
    assert_eq!(
        snapshot(sb.dir.path()),
        before,
        "a failed delivery changed files"
    );
    // materialize refuses the same way: no file, no state file.
    sb.run()
        .env("TRUSS_SECRET_k", &k)
        .env("TRUSS_SECRET_s", "newsecret")
        .env("TRUSS_SECRET_hf", &hf)
        .arg("materialize")
        .output()
        .expect_code(73);
    assert_eq!(
        snapshot(sb.dir.path()),
        before,
        "a failed materialize changed files"
    );
    // `env` reads no provider file, so the conflict does not stop it.
    sb.run()
        .env("TRUSS_SECRET_k", &k)
        .env("TRUSS_SECRET_s", "newsecret")
        .env("TRUSS_SECRET_hf", &hf)
        .arg("env")
        .output()
        .expect_ok()
        .stdout_has("export HF_TOKEN=");
    // Negative control: the same run with overwrite succeeds and botocore sees the new key.
    sb.config(&cfg(true));
    sb.run()
        .env("TRUSS_SECRET_k", &k)
        .env("TRUSS_SECRET_s", "newsecret")
        .env("TRUSS_SECRET_hf", &hf)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    let got = py(
        &sb,
        "import botocore.session as b\nprint(b.Session().get_credentials().access_key)",
        &[],
    );
    assert_eq!(got, k);
}

#[test]
fn huggingface_token_where_get_token_reads_it() {
    for (var, rel) in [
        ("", "home/.cache/huggingface/token"),
        ("HF_HOME", "hfhome/token"),
        ("HF_TOKEN_PATH", "tp/tok"),
        ("XDG_CACHE_HOME", "xdg/huggingface/token"),
    ] {
        let sb = Sandbox::new();
        home(&sb);
        sb.config("secrets:\n  hf_access_token: null\nsecret_init:\n  providers:\n    huggingface:\n      fields: {token: hf_access_token}\n      env: false\n");
        // A token read from a mounted file keeps its newline; the provider trims it.
        sb.write("in/hf_access_token", "hf_fromfile\n");
        let value = match var {
            "HF_TOKEN_PATH" => sb.path("tp/tok"),
            "HF_HOME" => sb.path("hfhome"),
            _ => sb.path("xdg"),
        };
        let value = value.to_str().expect("utf8").to_string();
        let mut r = sb.run();
        if !var.is_empty() {
            r.env(var, &value);
        }
        r.args(["--", "/bin/true"]).output().expect_ok();
        assert_eq!(read(&sb.path(rel)), "hf_fromfile", "{var}");
        assert_eq!(mode(&sb.path(rel)), 0o600);
        let env: Vec<(&str, &str)> = if var.is_empty() {
            vec![]
        } else {
            vec![(var, value.as_str())]
        };
        assert_eq!(
            py(
                &sb,
                "from huggingface_hub import get_token; print(get_token())",
                &env
            ),
            "hf_fromfile",
            "{var}"
        );
    }
}

/// Writes a syntactically valid service-account JSON with a throwaway RSA key to `path`.
fn service_account(sb: &Sandbox, path: &Path) {
    py(
        sb,
        "import json, os\nfrom cryptography.hazmat.primitives.asymmetric import rsa\nfrom cryptography.hazmat.primitives import serialization\nk = rsa.generate_private_key(public_exponent=65537, key_size=2048)\npem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()\njson.dump({'type': 'service_account', 'project_id': 'p-test', 'private_key_id': 'abc123', 'private_key': pem, 'client_email': 'sa@p-test.iam.gserviceaccount.com', 'client_id': '1', 'token_uri': 'https://oauth2.googleapis.com/token'}, open(os.environ['OUT'], 'w'))",
        &[("OUT", path.to_str().expect("utf8"))],
    );
}

const GOOGLE_DEFAULT: &str =
    "import google.auth\nc, p = google.auth.default()\nprint(c.service_account_email, p)";

#[test]
fn gcp_service_account_loaded_by_google_auth() {
    let sb = Sandbox::new();
    home(&sb);
    sb.mkdir("in");
    service_account(&sb, &sb.path("in/gcp_sa"));
    sb.config("secrets:\n  gcp_sa: null\nsecret_init:\n  providers:\n    gcp:\n      fields: {credentials: gcp_sa}\n");
    // The program itself loads the credentials through the delivered GOOGLE_APPLICATION_CREDENTIALS.
    let out = sb
        .run()
        .args(["--"])
        .arg(python())
        .args([
            "-c",
            &format!(
                "import os\nprint(os.environ['GOOGLE_APPLICATION_CREDENTIALS'])\n{GOOGLE_DEFAULT}"
            ),
        ])
        .output();
    out.expect_ok();
    let adc = sb.path("home/.config/gcloud/application_default_credentials.json");
    assert_eq!(
        out.stdout(),
        format!(
            "{}\nsa@p-test.iam.gserviceaccount.com p-test\n",
            adc.display()
        )
    );
    assert_eq!(mode(&adc), 0o600);
    // The well-known ADC path alone (no env var) is found too.
    assert_eq!(
        py(&sb, GOOGLE_DEFAULT, &[]),
        "sa@p-test.iam.gserviceaccount.com p-test"
    );
    // An override path is honoured.
    let custom = sb.path("gc/sa.json");
    let c = custom.to_str().expect("utf8");
    sb.run()
        .env("GOOGLE_APPLICATION_CREDENTIALS", c)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(
        py(
            &sb,
            GOOGLE_DEFAULT,
            &[("GOOGLE_APPLICATION_CREDENTIALS", c)]
        ),
        "sa@p-test.iam.gserviceaccount.com p-test"
    );
    // Not a credentials JSON: refused before anything is written.
    let sb2 = Sandbox::new();
    home(&sb2);
    sb2.write("in/gcp_sa", "{\"no_type\": \"canary-json\"}");
    sb2.config("secrets:\n  gcp_sa: null\nsecret_init:\n  providers:\n    gcp:\n      fields: {credentials: gcp_sa}\n");
    sb2.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(73)
        .stderr_has("not a JSON object with a \"type\"")
        .no_leak(&["canary-json"]);
    assert!(!sb2.path("home/.config").exists());
}

#[test]
fn docker_login_merged_and_read_by_the_docker_sdk() {
    let sb = Sandbox::new();
    home(&sb);
    let dc = sb.mkdir("dockercfg");
    sb.write(
        "dockercfg/config.json",
        "{\"auths\": {\"ghcr.io\": {\"auth\": \"Z2g6Z2hwYXNz\"}}, \"psFormat\": \"table\"}",
    );
    sb.config("secrets:\n  regpass: null\nsecret_init:\n  providers:\n    docker:\n      values: {registry: 'registry.example:5000', username: robot}\n      fields: {password: regpass}\n");
    let pw = canary("regpw");
    let d = dc.to_str().expect("utf8");
    sb.run()
        .env("TRUSS_SECRET_regpass", &pw)
        .env("DOCKER_CONFIG", d)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&pw]);
    assert_eq!(mode(&dc.join("config.json")), 0o600);
    let got = py(
        &sb,
        "import docker.auth as a\ncfg = a.load_config()\nr = a.resolve_authconfig(cfg, 'registry.example:5000')\ng = a.resolve_authconfig(cfg, 'ghcr.io')\nimport json, os\nraw = json.load(open(os.path.join(os.environ['DOCKER_CONFIG'], 'config.json')))\nprint(r['username'], r['password'], g['username'], g['password'], raw['psFormat'])",
        &[("DOCKER_CONFIG", d)],
    );
    assert_eq!(got, format!("robot {pw} gh ghpass table"));
}

#[test]
fn kubeconfig_loaded_by_the_kubernetes_client() {
    let sb = Sandbox::new();
    home(&sb);
    let token = canary("kubetoken");
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: {token}}}\ncontexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx\n"
    );
    sb.write("in/kube", &kc);
    sb.config("secrets:\n  kube: null\nsecret_init:\n  providers:\n    kubernetes:\n      fields: {kubeconfig: kube}\n");
    let code = "from kubernetes import config, client\nconfig.load_kube_config()\nc = client.Configuration.get_default_copy()\nprint(c.host, list(c.api_key.values())[0])";
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(mode(&sb.path("home/.kube/config")), 0o600);
    assert_eq!(
        py(&sb, code, &[]),
        format!("https://127.0.0.1:6443 Bearer {token}")
    );
    // KUBECONFIG: the first entry of the list is the destination.
    let first = sb.path("k/first");
    let list = format!("{}:{}", first.display(), sb.path("k/second").display());
    sb.run()
        .env("KUBECONFIG", &list)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&first), kc);
    assert!(!sb.path("k/second").exists());
    assert_eq!(
        py(&sb, code, &[("KUBECONFIG", first.to_str().expect("utf8"))]),
        format!("https://127.0.0.1:6443 Bearer {token}")
    );
}

#[test]
fn ssh_and_sky_keys_accepted_by_ssh_keygen() {
    let sb = Sandbox::new();
    home(&sb);
    sb.mkdir("gen");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test@si", "-f"])
        .arg(sb.path("gen/k"))
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let private = std::fs::read(sb.path("gen/k")).expect("key");
    let public = read(&sb.path("gen/k.pub"));
    // The key as a secret without its final newline: OpenSSH needs it back.
    sb.write("in/ssh_private", &private[..private.len() - 1]);
    sb.write("in/ssh_public", &public);
    sb.write("home/.ssh/known_hosts", "old.example ssh-ed25519 AAAAold\n");
    sb.config(
        "secrets:\n  ssh_private: null\n  ssh_public: null\nsecret_init:\n  providers:\n    ssh:\n      fields: {private_key: ssh_private, public_key: ssh_public}\n      values: {key_name: id_ed25519, known_hosts: \"git.example ssh-ed25519 AAAAnew\\nold.example ssh-ed25519 AAAAold\\n\"}\n    sky:\n      fields: {private_key: ssh_private}\n",
    );
    sb.run()
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&["PRIVATE KEY"]);
    for name in ["id_ed25519", "sky-key"] {
        let key = sb.path(&format!("home/.ssh/{name}"));
        assert_eq!(mode(&key), 0o600, "{name}");
        let out = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&key)
            .output()
            .expect("ssh-keygen -y");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            derived.split_whitespace().take(2).collect::<Vec<_>>(),
            public.split_whitespace().take(2).collect::<Vec<_>>(),
            "{name}"
        );
    }
    assert_eq!(mode(&sb.path("home/.ssh/id_ed25519.pub")), 0o644);
    assert_eq!(read(&sb.path("home/.ssh/id_ed25519.pub")), public);
    assert!(!sb.path("home/.ssh/sky-key.pub").exists());
    assert_eq!(
        read(&sb.path("home/.ssh/known_hosts")),
        "old.example ssh-ed25519 AAAAold\ngit.example ssh-ed25519 AAAAnew\n"
    );
}

#[test]
fn github_wandb_lambda_azure_files_read_back() {
    let sb = Sandbox::new();
    home(&sb);
    sb.write(
        "home/.config/gh/hosts.yml",
        "ghe.example:\n    oauth_token: ghe_tok\n    git_protocol: ssh\n",
    );
    sb.write("home/.netrc", "machine example.com login me password pw\n");
    sb.config(
        "secrets:\n  gh: null\n  wb: null\n  lam: null\n  azsec: null\nsecret_init:\n  providers:\n    github:\n      fields: {token: gh}\n      values: {user: octo}\n    wandb:\n      fields: {api_key: wb}\n    lambda:\n      fields: {api_key: lam}\n    azure:\n      values: {subscription_id: sub-123, tenant_id: ten-1, client_id: cli-1}\n      fields: {client_secret: azsec}\n",
    );
    let gh = canary("gh");
    let wb = canary("wb");
    let out = sb
        .run()
        .env("TRUSS_SECRET_gh", &gh)
        .env("TRUSS_SECRET_wb", &wb)
        .env("TRUSS_SECRET_lam", "lambda-key")
        .env("TRUSS_SECRET_azsec", "az-secret")
        .args(["--", "/bin/sh", "-c", "echo $GH_TOKEN $WANDB_API_KEY $AZURE_SUBSCRIPTION_ID $AZURE_TENANT_ID $AZURE_CLIENT_ID $AZURE_CLIENT_SECRET"])
        .output();
    out.expect_ok();
    assert_eq!(
        out.stdout(),
        format!("{gh} {wb} sub-123 ten-1 cli-1 az-secret\n")
    );
    let got = py(
        &sb,
        "import yaml, netrc, configparser, os\nh = yaml.safe_load(open(os.path.expanduser('~/.config/gh/hosts.yml')))\nprint(h['github.com']['oauth_token'], h['github.com']['user'], h['ghe.example']['oauth_token'])\nn = netrc.netrc()\nprint(n.authenticators('api.wandb.ai'), n.authenticators('example.com'))\nc = configparser.ConfigParser(); c.read(os.path.expanduser('~/.azure/clouds.config')); print(c['AzureCloud']['subscription'])\nprint(open(os.path.expanduser('~/.lambda_cloud/lambda_keys')).read().strip())",
        &[],
    );
    assert_eq!(
        got,
        format!(
            "{gh} octo ghe_tok\n('user', '', '{wb}') ('me', '', 'pw')\nsub-123\napi_key = lambda-key"
        )
    );
    for f in [
        ".config/gh/hosts.yml",
        ".netrc",
        ".lambda_cloud/lambda_keys",
        ".azure/clouds.config",
    ] {
        assert_eq!(mode(&sb.path(&format!("home/{f}"))), 0o600, "{f}");
    }
}

#[test]
fn runai_env_group_and_file_mount() {
    let sb = Sandbox::new();
    home(&sb);
    sb.config(
        "secrets:\n  wk: null\n  creds: null\n  tok: null\nsecret_init:\n  providers:\n    wandb-group:\n      kind: env\n      fields: {WANDB_API_KEY: wk}\n      values: {WANDB_PROJECT: ml-experiments}\n    aws-mount:\n      kind: files\n      path: ~/mnt/aws\n      fields: {credentials: creds, token: tok}\n",
    );
    let creds = "[default]\naws_access_key_id = AKIAMOUNT\n";
    let out = sb
        .run()
        .env("TRUSS_SECRET_wk", "wk-value")
        .env("TRUSS_SECRET_creds", creds)
        .env("TRUSS_SECRET_tok", "tok\n")
        .args(["--", "/bin/sh", "-c", "echo $WANDB_API_KEY $WANDB_PROJECT"])
        .output();
    out.expect_ok();
    assert_eq!(out.stdout(), "wk-value ml-experiments\n");
    assert_eq!(read(&sb.path("home/mnt/aws/credentials")), creds);
    assert_eq!(read(&sb.path("home/mnt/aws/token")), "tok\n");
    assert_eq!(mode(&sb.path("home/mnt/aws/credentials")), 0o600);
}

#[test]
fn materialize_then_clean_leaves_home_as_it_was() {
    let sb = Sandbox::new();
    home(&sb);
    sb.write(
        "home/.aws/credentials",
        "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = s\n",
    );
    sb.write(
        "home/.docker/config.json",
        "{\"auths\": {\"ghcr.io\": {\"auth\": \"Z2g6eA==\"}}}\n",
    );
    sb.write("home/.netrc", "machine example.com login me password pw\n");
    std::fs::set_permissions(
        sb.path("home/.netrc"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    sb.mkdir("home/.config");
    sb.config(
        "secrets:\n  k: null\n  s: null\n  hf: null\n  wb: null\n  rp: null\n  gh: null\n  plain: null\nsecret_init:\n  output_dir: ~/secrets-out\n  secrets:\n    plain: {env: PLAIN_VAR}\n  providers:\n    aws:\n      fields: {aws_access_key_id: k, aws_secret_access_key: s}\n      values: {region: us-east-1}\n    huggingface: {fields: {token: hf}}\n    wandb: {fields: {api_key: wb}}\n    docker: {fields: {password: rp}, values: {username: u}}\n    github: {fields: {token: gh}}\n",
    );
    let before = snapshot(&sb.path("home"));
    let secrets: Vec<String> = ["k", "s", "hf", "wb", "rp", "gh", "plain"]
        .iter()
        .map(|t| canary(t))
        .collect();
    let with_env = |r: &mut Run| {
        for (n, v) in ["k", "s", "hf", "wb", "rp", "gh", "plain"]
            .iter()
            .zip(&secrets)
        {
            r.env(format!("TRUSS_SECRET_{n}"), v);
        }
    };
    let mut r = sb.run();
    with_env(&mut r);
    r.env("SECRET_INIT_OUTPUT_DIR", sb.path("home/secrets-out"));
    r.args(["--log-level", "trace"]);
    let mut check = sb.run();
    with_env(&mut check);
    check.env("SECRET_INIT_OUTPUT_DIR", sb.path("home/secrets-out"));
    let leak: Vec<&str> = secrets.iter().map(String::as_str).collect();
    check
        .args(["--log-level", "trace", "check"])
        .output()
        .expect_ok()
        .no_leak(&leak)
        .stdout_has("provider:aws");
    sb.run()
        .args(["--log-level", "trace", "providers"])
        .output()
        .expect_ok()
        .no_leak(&leak);
    let out = r.arg("materialize").output();
    out.expect_ok()
        .no_leak(&leak)
        .stdout_has("wrote ")
        .stdout_has("state ");
    let state = sb.path("home/.local/state/secret-init/materialized.json");
    assert_eq!(mode(&state), 0o600);
    assert!(
        !read(&state).contains(&secrets[0]),
        "the state file holds a value written"
    );
    assert_eq!(read(&sb.path("home/.cache/huggingface/token")), secrets[2]);
    assert_eq!(mode(&sb.path("home/.netrc")), 0o600);
    assert_ne!(snapshot(&sb.path("home")), before);
    // A second materialize is a no-op for the providers and keeps the original "before".
    let mut r = sb.run();
    with_env(&mut r);
    r.env("SECRET_INIT_OUTPUT_DIR", sb.path("home/secrets-out"));
    r.arg("materialize")
        .output()
        .expect_ok()
        .stdout_has("unchanged ");
    let out = sb.run().args(["--log-level", "trace", "clean"]).output();
    out.expect_ok()
        .no_leak(&leak)
        .stdout_has("restored ")
        .stdout_has("removed ");
    assert_eq!(
        snapshot(&sb.path("home")),
        before,
        "clean did not restore HOME\n{}",
        out.stdout()
    );
    // Nothing recorded any more: a second clean has nothing to do.
    sb.run()
        .arg("clean")
        .output()
        .expect_ok()
        .stdout_has("nothing to clean");
}

#[test]
fn clean_keeps_a_file_changed_since() {
    let sb = Sandbox::new();
    home(&sb);
    sb.config("secrets:\n  hf: null\n  k: null\n  s: null\nsecret_init:\n  providers:\n    huggingface: {fields: {token: hf}}\n    aws: {fields: {aws_access_key_id: k, aws_secret_access_key: s}}\n");
    let state = sb.path("st/state.json");
    sb.run()
        .env("TRUSS_SECRET_hf", "hf_one")
        .env("TRUSS_SECRET_k", "AKIA")
        .env("TRUSS_SECRET_s", "sec")
        .arg("materialize")
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect_ok();
    let token = sb.path("home/.cache/huggingface/token");
    std::fs::write(&token, "hf_changed_by_user").expect("edit");
    let out = sb
        .run()
        .env("SECRET_INIT_STATE_FILE", &state)
        .arg("clean")
        .output();
    out.expect_ok()
        .stdout_has(&format!(
            "kept {} (changed since materialize)",
            token.display()
        ))
        .stderr_has("changed since materialize");
    assert_eq!(read(&token), "hf_changed_by_user");
    assert!(
        !sb.path("home/.aws").exists(),
        "the unchanged aws files should be gone"
    );
    assert!(!state.exists());
}

#[test]
fn env_output_round_trips_through_sh() {
    let sb = Sandbox::new();
    home(&sb);
    sb.config(
        "secrets:\n  tricky: null\n  oa: null\n  an: null\nsecret_init:\n  secrets:\n    tricky: {env: TRICKY, file: false}\n  providers:\n    openai: {fields: {api_key: oa}}\n    anthropic: {fields: {api_key: an}}\n    grp: {kind: env, values: {PLAIN: \"it's $HOME \\\\ `x`\"}}\n",
    );
    let tricky = "a'b\"c $HOME `id` \\n\\\\ end\nsecond line\n\n'\"'";
    let out = sb
        .run()
        .env("TRUSS_SECRET_tricky", tricky)
        .env("TRUSS_SECRET_oa", "sk-'$(touch pwned)'")
        .env("TRUSS_SECRET_an", "an$x")
        .arg("env")
        .output();
    out.expect_ok();
    let script = out.stdout();
    let sh = Command::new("/bin/sh")
        .arg("-c")
        .arg("eval \"$1\"; printf '%s\\0' \"$TRICKY\" \"$OPENAI_API_KEY\" \"$ANTHROPIC_API_KEY\" \"$PLAIN\"")
        .arg("sh")
        .arg(&script)
        .env_clear()
        .env("HOME", "/nonexistent")
        .current_dir(sb.dir.path())
        .output()
        .expect("sh");
    assert!(
        sh.status.success(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );
    let vals: Vec<String> = String::from_utf8_lossy(&sh.stdout)
        .split('\0')
        .map(str::to_string)
        .collect();
    assert_eq!(
        vals[..4],
        [
            tricky.to_string(),
            "sk-'$(touch pwned)'".into(),
            "an$x".into(),
            "it's $HOME \\ `x`".into()
        ],
        "script:\n{script}"
    );
    assert!(!sb.path("pwned").exists());
}

#[test]
fn refused_configurations() {
    let cases = [
        (
            "providers:\n    aws: {feilds: {aws_access_key_id: a}}",
            "unknown setting \"feilds\"",
        ),
        (
            "providers:\n    nope: {fields: {token: a}}",
            "unknown provider kind \"nope\"",
        ),
        (
            "providers:\n    huggingface: {fields: {tokn: a}}",
            "unknown field \"tokn\"",
        ),
        (
            "providers:\n    huggingface: {values: {token: literal}}",
            "is secret",
        ),
        (
            "providers:\n    huggingface: {fields: {token: undeclared}}",
            "not declared under secrets:",
        ),
        (
            "providers:\n    aws: {fields: {aws_access_key_id: a}}",
            "required field aws_secret_access_key",
        ),
        (
            "providers:\n    huggingface: {fields: {token: a}, path: /x}",
            "only a files instance has a path",
        ),
        (
            "providers:\n    m: {kind: files, fields: {x: a}, path: relative}",
            "must be absolute",
        ),
        (
            "providers:\n    e: {kind: env, fields: {'1BAD': a}}",
            "not a valid env var name",
        ),
        (
            "providers:\n    e: {kind: env, fields: {LD_PRELOAD: a}}",
            "deny list",
        ),
    ];
    for (yaml, msg) in cases {
        let sb = Sandbox::new();
        home(&sb);
        sb.config(&format!("secrets:\n  a: null\nsecret_init:\n  {yaml}\n"));
        sb.run()
            .env("TRUSS_SECRET_a", "v")
            .args(["--", "/bin/true"])
            .output()
            .expect_code(78)
            .stderr_has(msg);
    }
}

#[test]
fn injection_links_and_other_bad_inputs_write_nothing() {
    // A line break in a one-line field would inject an INI section: refused (65).
    let sb = Sandbox::new();
    home(&sb);
    sb.config("secrets:\n  k: null\n  s: null\nsecret_init:\n  providers:\n    aws: {fields: {aws_access_key_id: k, aws_secret_access_key: s}}\n");
    let before = snapshot(sb.dir.path());
    sb.run()
        .env(
            "TRUSS_SECRET_k",
            "AKIA\n[evil]\ncredential_process = /bin/sh",
        )
        .env("TRUSS_SECRET_s", "canary-s")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("field aws_access_key_id contains a line break")
        .no_leak(&["canary-s", "evil"]);
    assert_eq!(snapshot(sb.dir.path()), before);
    // A symlink on the way to the destination is refused (73), nothing is written.
    sb.mkdir("elsewhere");
    std::os::unix::fs::symlink(sb.path("elsewhere"), sb.path("home/.aws")).expect("symlink");
    let before = snapshot(sb.dir.path());
    sb.run()
        .env("TRUSS_SECRET_k", "AKIA")
        .env("TRUSS_SECRET_s", "canary-s")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(73)
        .stderr_has("symlink")
        .no_leak(&["canary-s"]);
    assert_eq!(snapshot(sb.dir.path()), before);
    assert!(tree(&sb.path("elsewhere")).is_empty());
    // A relative override path is refused (78).
    std::fs::remove_file(sb.path("home/.aws")).expect("rm");
    sb.run()
        .env("TRUSS_SECRET_k", "AKIA")
        .env("TRUSS_SECRET_s", "s")
        .env("AWS_SHARED_CREDENTIALS_FILE", "relative/creds")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("AWS_SHARED_CREDENTIALS_FILE");
}

#[test]
fn providers_lists_resolved_destinations() {
    let sb = Sandbox::new();
    home(&sb);
    sb.config("secrets:\n  hf: null\nsecret_init:\n  providers:\n    huggingface: {fields: {token: hf}}\n");
    let out = sb
        .run()
        .env("HF_HOME", "/opt/hf")
        .env("KUBECONFIG", "/k/one:/k/two")
        .env("AWS_SHARED_CREDENTIALS_FILE", "~/creds")
        .arg("providers")
        .output();
    out.expect_ok();
    let home = sb.path("home");
    for needle in [
        "file token: /opt/hf/token (0600; from HF_HOME)".to_string(),
        "file kubeconfig: /k/one (0600; from KUBECONFIG)".to_string(),
        format!(
            "file credentials: {}/creds (0600; from AWS_SHARED_CREDENTIALS_FILE)",
            home.display()
        ),
        format!(
            "file public key: {}/.ssh/id_rsa.pub (0644; from HOME)",
            home.display()
        ),
        "configured in config.yaml:".to_string(),
        "token <- secret hf".to_string(),
    ] {
        out.stdout_has(&needle);
    }
    for kind in [
        "aws",
        "gcp",
        "azure",
        "github",
        "huggingface",
        "lambda",
        "ssh",
        "sky",
        "kubernetes",
        "docker",
        "anthropic",
        "cohere",
        "langchain",
        "openai",
        "pinecone",
        "wandb",
        "env",
        "files",
    ] {
        assert!(
            out.stdout()
                .lines()
                .any(|l| l.starts_with(&format!("{kind}: "))),
            "{kind} not listed"
        );
    }
}

#[test]
fn two_aws_profiles_merge_into_one_file() {
    let sb = Sandbox::new();
    home(&sb);
    sb.config(
        "secrets:\n  k1: null\n  s1: null\n  k2: null\n  s2: null\nsecret_init:\n  providers:\n    aws:\n      fields: {aws_access_key_id: k1, aws_secret_access_key: s1}\n    aws-prod:\n      kind: aws\n      profile: prod\n      fields: {aws_access_key_id: k2, aws_secret_access_key: s2}\n      values: {region: ap-south-1}\n",
    );
    sb.run()
        .env("TRUSS_SECRET_k1", "AKIAONE")
        .env("TRUSS_SECRET_s1", "one")
        .env("TRUSS_SECRET_k2", "AKIATWO")
        .env("TRUSS_SECRET_s2", "two")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    let got = py(
        &sb,
        "import botocore.session as b\nprint(b.Session().get_credentials().access_key)\np = b.Session(profile='prod'); print(p.get_credentials().access_key, p.get_config_variable('region'))",
        &[],
    );
    assert_eq!(got, "AKIAONE\nAKIATWO ap-south-1");
}
