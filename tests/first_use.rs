//! What a first-time user meets before the first success: a mistyped command, a laptop that is
//! not the container, a manifest written as Kubernetes manifests are, a near miss of a name.
//! Each test quotes the message the user reads.

use crate::support::*;

/// A required secret that is not set anywhere: any command that got as far as resolving would
/// stop on it (69), so a test that sees another code saw the command decided first.
const UNSET_SECRET: &str = "secrets:\n  hf_access_token: null\n";

/// A mistyped command is looked up as a program before any secret is resolved: 127 and the
/// command it was close to, not the missing secret's 69.
#[test]
fn mistyped_command_is_looked_up_before_any_secret_is_resolved() {
    let sb = Sandbox::new();
    sb.config(UNSET_SECRET);
    for (word, meant) in [("chek", "check"), ("materialise", "materialize")] {
        sb.run()
            .arg(word)
            .output()
            .expect_code(127)
            .stderr_has(&format!(
                "{word}: program not found (did you mean the command `secret-init {meant}`?)"
            ));
    }
    // `bundle` without a verb is Ruby's Bundler: not found here, with the verbs named.
    sb.run()
        .args(["bundle", "--help"])
        .output()
        .expect_code(127)
        .stderr_has("bundle: program not found (the command `secret-init bundle` needs a verb");
    // The same with `check -- PROGRAM`: check stops where the run stops.
    sb.run()
        .args(["check", "--", "chek"])
        .output()
        .expect_code(127)
        .stderr_has("did you mean the command `secret-init check`?");
    assert!(!sb.path("out").exists());
    // The negative control: a program that exists gets as far as the missing secret.
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has("hf_access_token");
}

/// A bundle verb's options may come before the verb: `bundle --bundle F create x` is the
/// bundle command, not a program named `bundle`.
#[test]
fn bundle_options_before_the_verb() {
    let sb = Sandbox::new();
    sb.config(UNSET_SECRET);
    let key = Run::new().args(["bundle", "keygen"]).output();
    key.expect_ok();
    let file = sb.path("b.json");
    sb.run()
        .env("SECRET_INIT_MASTER_KEY", key.stdout().trim())
        .arg("bundle")
        .arg("--bundle")
        .arg(&file)
        .args(["-d", "keys", "create", "api-keys"])
        .output()
        .expect_ok();
    sb.run()
        .env("SECRET_INIT_MASTER_KEY", key.stdout().trim())
        .arg("bundle")
        .arg("--bundle")
        .arg(&file)
        .arg("list")
        .output()
        .expect_ok()
        .stdout_has("api-keys");
}

/// Not root on a laptop, the output dir cannot be made: the run says what to do, and `check`
/// says it in the same words (its row is not `ok`) and exits with the run's 73.
#[test]
fn output_dir_out_of_reach_says_what_to_do_in_run_and_check() {
    assert!(
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")),
        "this test drops to nobody with setpriv: it needs root, as CI and the test machine have"
    );
    let sb = Sandbox::new();
    sb.config("secrets:\n  hf_access_token: null\n");
    // Root's 0755 directory: nobody may enter it but not create anything in it.
    sb.mkdir("locked");
    for p in ["", "locked"] {
        std::fs::set_permissions(
            sb.path(p),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }
    let out_dir = sb.path("locked/secrets");
    let token = canary("hf");
    let as_nobody = |args: &[&str]| {
        let mut r = sb.run();
        r.program = "/usr/bin/setpriv".into();
        r.env("SECRET_INIT_OUTPUT_DIR", &out_dir)
            .env("TRUSS_SECRET_hf_access_token", &token)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin())
            .args(args);
        r.output()
    };
    let said = format!(
        "cannot create directory {}: Permission denied (secret-init runs as uid 65534, not root; \
         write elsewhere with --output-dir DIR, e.g. --output-dir ./secrets, or run it as the \
         container does)",
        out_dir.display()
    );
    as_nobody(&["--", "/bin/true"])
        .expect_code(73)
        .stderr_has(&said)
        .no_leak(&[&token]);
    let check = as_nobody(&["check"]);
    check.expect_code(73).stderr_has(&said).no_leak(&[&token]);
    let row = check
        .stdout()
        .lines()
        .find(|l| l.starts_with("hf_access_token"))
        .map(str::to_string)
        .expect("a row for the secret");
    assert!(
        row.contains("error: cannot create directory") && !row.ends_with(" ok"),
        "{row}"
    );
    assert!(!out_dir.exists());
    // The negative control: the same user with an output dir it may create.
    std::fs::set_permissions(
        sb.path("locked"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    as_nobody(&["check"]).expect_ok();
}

/// `mode: 0400` unquoted, as every Kubernetes `defaultMode` is written, is the octal mode 0400
/// (as YAML 1.1 reads it), for a secret and a template; what cannot be a mode is refused naming
/// the secret, with the fix, and nothing is written.
#[test]
fn unquoted_octal_mode_is_the_mode_and_a_decimal_one_is_refused_with_the_fix() {
    let sb = Sandbox::new();
    let token = canary("hf");
    for (written, want) in [("0400", 0o400), ("\"0640\"", 0o640), ("0755", 0o755)] {
        sb.config(&format!(
            "secrets:\n  hf_access_token: null\nsecret_init:\n  secrets:\n    \
             hf_access_token: {{mode: {written}}}\n  templates:\n    conf:\n      \
             template: \"x\"\n      destination: {}\n      mode: {written}\n",
            sb.path("out/conf.txt").display()
        ));
        sb.run()
            .env("TRUSS_SECRET_hf_access_token", &token)
            .args(["--", "/bin/true"])
            .output()
            .expect_ok();
        assert_eq!(mode(&sb.path("out/hf_access_token")), want, "{written}");
        assert_eq!(mode(&sb.path("out/conf.txt")), want, "{written}");
        std::fs::remove_dir_all(sb.path("out")).expect("rm out");
    }
    for (written, said) in [
        (
            "400",
            "mode: 400 is a decimal number to YAML, not an \
             octal mode; write it with its leading zero, as Kubernetes' defaultMode is: mode: 0400 \
             (or quoted: \"0400\")",
        ),
        (
            "0900",
            "mode: 0900 is not an octal mode (digits 0-7, \
             e.g. mode: 0400 or mode: 0640)",
        ),
        (
            "4755",
            "mode: 4755 has bits beyond 0777 (setuid, setgid and sticky are refused); e.g. mode: 0755",
        ),
    ] {
        sb.config(&format!(
            "secrets:\n  hf_access_token: null\nsecret_init:\n  secrets:\n    \
             hf_access_token: {{mode: {written}}}\n"
        ));
        for cmd in [&["check"][..], &["--", "/bin/true"]] {
            sb.run()
                .env("TRUSS_SECRET_hf_access_token", &token)
                .args(cmd)
                .output()
                .expect_code(65)
                .stderr_has("secret \"hf_access_token\"")
                .stderr_has(said)
                .no_leak(&[&token]);
        }
        assert!(!sb.path("out").exists());
    }
}

/// One documented option, run as a flag and as its env twin: `value` (`None`: a flag, `true` in
/// its twin), with `env` and `config` the scene it needs, and `cmd` the command.
struct Twin {
    long: String,
    value: Option<String>,
    env: Vec<(String, String)>,
    config: String,
    cmd: Vec<String>,
}

/// Every option docs/options.md lists is read from its env twin: the twin does what the flag
/// does (the same exit code and output, the origin's name aside), and that differs from not
/// giving the option at all, so neither can be ignored. A new option without a row here fails.
#[test]
fn every_documented_option_is_read_from_its_twin() {
    let sb = Sandbox::new();
    let base_config = "secrets:\n  a: null\n  z: dflt\n";
    sb.write("other.yaml", "secrets:\n  b: x\n");
    sb.write("in2/a", "from-dir");
    sb.write("local2.yaml", "secrets:\n  z: from-local\n");
    sb.write("fromfile", "from-file");
    let shared = sb.mkdir("shared");
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    // A bundle with the vault `v1` holding z.
    let key = Run::new().args(["bundle", "keygen"]).output();
    key.expect_ok();
    let key = key.stdout().trim().to_string();
    let key_file = sb.write("master.key", &key);
    let bundle = sb.path("b.json");
    for verb in [&["create", "v1"][..], &["set", "v1", "z", "from-bundle"]] {
        Run::new()
            .env("SECRET_INIT_MASTER_KEY", &key)
            .arg("bundle")
            .arg("--bundle")
            .arg(&bundle)
            .args(verb)
            .output()
            .expect_ok();
    }
    let p = |rel: &str| sb.path(rel).display().to_string();
    let s = |v: &str| v.to_string();
    let vault = vec![
        (s("SECRET_INIT_VAULT_ADDR"), s("http://127.0.0.1:9")),
        (s("SECRET_INIT_VAULT_RETRIES"), s("0")),
        (s("VAULT_TOKEN"), s("t")),
    ];
    let with_bundle = vec![
        (s("SECRET_INIT_BUNDLE"), bundle.display().to_string()),
        (s("SECRET_INIT_MASTER_KEY"), key.clone()),
    ];
    let refresh = vec![(s("SECRET_INIT_REFRESH"), s("1m"))];
    sb.write("status.json", r#"{"secrets": [], "failures_in_a_row": 0}"#);
    sb.write(
        "failing.json",
        r#"{"secrets": [], "failures_in_a_row": 9, "reasons": ["store_unreachable"]}"#,
    );
    let run_env = || vec![s("--"), s("/usr/bin/env")];
    let own_group = || {
        vec![
            s("--"),
            s("/bin/sh"),
            s("-c"),
            s(
                "read -r pid c s pp pg rest < /proc/$$/stat; [ \"$pid\" = \"$pg\" ] && echo own || echo shared",
            ),
        ]
    };
    let row = |long: &str, value: Option<&str>| Twin {
        long: long.to_string(),
        value: value.map(str::to_string),
        env: Vec::new(),
        config: base_config.to_string(),
        cmd: vec![s("check")],
    };
    let rows: Vec<Twin> = vec![
        row("config", Some(&p("other.yaml"))),
        row("secrets-dir", Some(&p("in2"))),
        row("output-dir", Some(&p("out2"))),
        row("env-prefix", Some("APP_")),
        row("local-config", Some(&p("local2.yaml"))),
        Twin {
            env: vec![
                (s("SECRET_INIT_MASTER_KEY"), key.clone()),
                (s("SECRET_INIT_BUNDLE_VAULTS"), s("v1")),
            ],
            ..row("bundle", Some(&bundle.display().to_string()))
        },
        Twin {
            env: with_bundle.clone(),
            ..row("bundle-vaults", Some("v1"))
        },
        Twin {
            env: with_bundle.clone(),
            cmd: run_env(),
            ..row("bundle-env-vaults", Some("v1"))
        },
        Twin {
            env: vec![
                (s("SECRET_INIT_BUNDLE"), bundle.display().to_string()),
                (s("SECRET_INIT_BUNDLE_VAULTS"), s("v1")),
            ],
            ..row("master-key-file", Some(&key_file.display().to_string()))
        },
        Twin {
            env: vec![
                (s("SECRET_INIT_BUNDLE"), s("https://127.0.0.1:9/b.json")),
                (s("SECRET_INIT_MASTER_KEY"), key.clone()),
                (s("SECRET_INIT_BUNDLE_VAULTS"), s("v1")),
            ],
            ..row("bundle-ca-cert", Some(&p("no-such-ca.pem")))
        },
        Twin {
            env: [
                with_bundle.clone(),
                vec![(s("SECRET_INIT_BUNDLE_VAULTS"), s("v1"))],
            ]
            .concat(),
            ..row("bundle-kms", Some("transit:transit/app"))
        },
        row("sources", Some("env")),
        row("max-secret-bytes", Some("lots")),
        Twin {
            config: format!("{base_config}secret_init:\n  secrets:\n    a: {{env: LD_PRELOAD}}\n"),
            ..row("allow-dangerous-env", None)
        },
        Twin {
            env: vec![(s("SECRET_INIT_OUTPUT_DIR"), shared.display().to_string())],
            ..row("allow-shared-dir", None)
        },
        Twin {
            env: vec![(s("KEEP_OR_NOT"), s("x"))],
            cmd: run_env(),
            ..row("scrub-env", Some("KEEP_OR_NOT"))
        },
        Twin {
            env: vec![(s("X_FILE"), p("fromfile"))],
            cmd: run_env(),
            ..row("file-env", Some("X"))
        },
        Twin {
            env: [vault.clone(), vec![(s("X"), s("vault:secret/data/app#k"))]].concat(),
            cmd: run_env(),
            ..row("resolve-env-references", None)
        },
        Twin {
            cmd: run_env(),
            ..row("env-only", None)
        },
        row("vault-addr", Some("not a url")),
        Twin {
            env: vec![
                (s("SECRET_INIT_VAULT_ADDR"), s("https://127.0.0.1:9")),
                (s("VAULT_TOKEN"), s("t")),
                (s("SECRET_INIT_VAULT_PATH"), s("secret/data/app")),
            ],
            ..row("vault-ca-cert", Some(&p("no-such-ca.pem")))
        },
        Twin {
            env: vault.clone(),
            ..row("vault-namespace", Some("bad namespace"))
        },
        Twin {
            env: vault.clone(),
            ..row("vault-path", Some("secret/data/app"))
        },
        Twin {
            env: vault.clone(),
            ..row("vault-timeout", Some("soon"))
        },
        Twin {
            env: vault.clone(),
            ..row("vault-deadline", Some("soon"))
        },
        Twin {
            env: vault.clone(),
            ..row("vault-retries", Some("many"))
        },
        Twin {
            env: vault.clone(),
            ..row("vault-retry-jitter", Some("sometimes"))
        },
        // A plain http:// vault off loopback is refused unless allowed; vault is not in the
        // source order, so nothing is ever sent to it.
        Twin {
            env: vec![
                (s("SECRET_INIT_VAULT_ADDR"), s("http://192.0.2.1:8200")),
                (s("SECRET_INIT_SOURCES"), s("env,default")),
            ],
            ..row("allow-insecure-http", None)
        },
        Twin {
            env: vec![(s("SECRET_INIT_NO_INIT"), s("true"))],
            cmd: run_env(),
            ..row("init", None)
        },
        Twin {
            env: refresh.clone(),
            cmd: run_env(),
            ..row("no-init", None)
        },
        Twin {
            env: vec![(s("SECRET_INIT_INIT"), s("true"))],
            cmd: own_group(),
            ..row("process-group", None)
        },
        row("grace-period", Some("long")),
        row("user", Some("no-such-user")),
        Twin {
            cmd: run_env(),
            ..row("no-root", None)
        },
        Twin {
            cmd: vec![s("--"), s("/bin/true")],
            ..row("cleanup", None)
        },
        // `check` says the default `dflt` is too short to be masked.
        row("mask", None),
        // The vault down and no snapshot yet: a warning says so, unless the snapshot is off.
        Twin {
            env: vault.clone(),
            config: format!(
                "{base_config}secret_init:\n  fallback: {{path: {}, key_file: {}, max_age: 1h}}\n  secrets:\n    a: {{from: 'vault:secret/data/app#a'}}\n",
                p("state/snap"),
                key_file.display()
            ),
            ..row("no-fallback", None)
        },
        row("refresh", Some("often")),
        Twin {
            env: refresh.clone(),
            ..row("on-change", Some("explode"))
        },
        Twin {
            env: refresh.clone(),
            ..row("refresh-signal", Some("SIGNOPE"))
        },
        row("log-level", Some("loud")),
        row("log-format", Some("xml")),
        // A secret of the vault, whose address is a closed port: online, check cannot reach it.
        Twin {
            env: vault.clone(),
            config: format!(
                "{base_config}secret_init:\n  secrets:\n    a: {{from: 'vault:secret/data/app#a'}}\n"
            ),
            ..row("offline", None)
        },
        row("show-prefix", None),
        row("format", Some("json")),
        row("state-file", Some("relative/state.json")),
        Twin {
            cmd: vec![s("status")],
            ..row("status-file", Some(&p("status.json")))
        },
        Twin {
            cmd: vec![s("status")],
            env: vec![(s("SECRET_INIT_STATUS_FILE"), p("failing.json"))],
            ..row("ready", None)
        },
    ];
    // Every option in docs/options.md has its row.
    let doc = read(&root().join("docs/options.md"));
    let documented: Vec<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `--"))
        .filter_map(|l| l.split([' ', '`']).next())
        .map(str::to_string)
        .collect();
    assert!(documented.len() >= 40, "{documented:?}");
    for long in &documented {
        assert!(
            rows.iter().any(|r| &r.long == long),
            "--{long} is documented but has no row here"
        );
    }
    let outcome = |r: &Twin, how: Option<bool>| {
        sb.config(&r.config);
        let mut run = sb.run();
        run.env("TRUSS_SECRET_a", "from-env");
        for (k, v) in &r.env {
            run.env(k, v);
        }
        let twin = format!("SECRET_INIT_{}", r.long.to_uppercase().replace('-', "_"));
        match how {
            None => {}
            Some(true) => {
                run.arg(format!("--{}", r.long));
                if let Some(v) = &r.value {
                    run.arg(v);
                }
            }
            Some(false) => {
                run.env(&twin, r.value.as_deref().unwrap_or("true"));
            }
        }
        let out = run.args(&r.cmd).output();
        let delivered = sb.path("out/a").exists();
        let _ = std::fs::remove_dir_all(sb.path("out"));
        let _ = std::fs::remove_dir_all(sb.path("out2"));
        let flag = format!("--{}", r.long);
        (
            out.code(),
            out.stdout(),
            out.stderr().replace(&twin, &flag),
            delivered,
        )
    };
    let mut failed = Vec::new();
    for r in &rows {
        let without = outcome(r, None);
        let flag = outcome(r, Some(true));
        let twin = outcome(r, Some(false));
        if flag != twin {
            failed.push(format!(
                "--{}: the flag and its twin differ:\n{flag:?}\n{twin:?}",
                r.long
            ));
        } else if flag == without {
            failed.push(format!("--{}: no effect seen:\n{flag:?}", r.long));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Near misses get a "did you mean": a `TRUSS_SECRET_*` variable in the wrong case or misspelt
/// (named in the missing secret's error, never its value), a misspelt key under `secret_init:`
/// (or the keys it knows), and a `SECRET_INIT_*` variable that is none of ours (a warning; the
/// start goes on).
#[test]
fn near_misses_get_a_did_you_mean() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  hf_access_token: null\n  db_password: null\n");
    let (hf, db) = (canary("hf"), canary("db"));
    sb.run()
        .env("TRUSS_SECRET_HF_ACCESS_TOKEN", &hf)
        .env("TRUSS_SECRET_db_pasword", &db)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has(
            "not found (TRUSS_SECRET_HF_ACCESS_TOKEN is set but names no declared secret (names are \
             case-sensitive): did you mean TRUSS_SECRET_hf_access_token?)",
        )
        .stderr_has(
            "not found (TRUSS_SECRET_db_pasword is set but names no declared secret (names are \
             case-sensitive): did you mean TRUSS_SECRET_db_password?)",
        )
        .no_leak(&[&hf, &db]);
    // A stray variable far from every name adds nothing.
    let out = sb
        .run()
        .env("TRUSS_SECRET_unrelated", &hf)
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(69);
    assert!(!out.stderr().contains("did you mean"), "{}", out.stderr());

    sb.config("secrets:\n  a: x\nsecret_init:\n  ouput_dir: /x\n  colour: blue\n");
    sb.run()
        .arg("check")
        .output()
        .expect_code(78)
        .stderr_has("secret_init: unknown setting \"ouput_dir\" (did you mean \"output_dir\"?)")
        .stderr_has("secret_init: unknown setting \"colour\" (known: sources, env_prefix,");
    sb.config("secrets:\n  a: x\nsecret_init:\n  secrets:\n    a: {envv: A}\n");
    sb.run()
        .arg("check")
        .output()
        .expect_code(78)
        .stderr_has("secret_init.secrets.a: unknown setting \"envv\" (did you mean \"env\"?)");

    sb.config("secrets:\n  a: x\n");
    sb.run()
        .env("SECRET_INIT_OUTPUT_DIRS", "/elsewhere")
        .env("SECRET_INIT_LOG_LEVEL", "info")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok()
        .stderr_has(
            "warn: SECRET_INIT_OUTPUT_DIRS is not one of secret-init's variables and is ignored \
             (did you mean SECRET_INIT_OUTPUT_DIR?)",
        );
    // The variables we read are not warned about.
    let out = sb
        .run()
        .env("SECRET_INIT_MASTER_KEY", "k")
        .args(["--", "/bin/true"])
        .output();
    out.expect_ok();
    assert!(
        !out.stderr().contains("SECRET_INIT_MASTER_KEY"),
        "{}",
        out.stderr()
    );
}

/// One mistake, one error: a misspelt `secret_init.aws.secrets` entry that every secret was
/// looked up in is reported once, naming the secrets it affects (here against a real moto).
#[test]
fn one_misspelt_aws_secret_is_one_error_naming_the_secrets_it_affects() {
    let moto = crate::support::moto::Moto::start();
    let sb = Sandbox::new();
    sb.config(
        "secrets:\n  a: null\n  b: null\n  c: with-default\nsecret_init:\n  aws:\n    secrets: [prod/typo]\n",
    );
    for cmd in [&["check"][..], &["--", "/bin/true"]] {
        let mut r = sb.run();
        moto.env(&mut r, &sb);
        let out = r
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(cmd)
            .output();
        out.expect_code(69).stderr_has(
            "error: aws-sm:prod/typo: listed in secret_init.aws.secrets, but it does not exist \
             (secrets \"a\", \"b\", \"c\")",
        );
        let errors = out
            .stderr()
            .lines()
            .filter(|l| l.starts_with("secret-init: error:"))
            .count();
        assert_eq!(errors, 1, "{}", out.stderr());
    }
}

/// Vault errors blame the right thing (against real OpenBao servers): a bogus token is told from
/// a token whose policies do not reach the path (a `lookup-self`), a login to a mount that is
/// not enabled names the mount, and `https://` to a plain-HTTP server says so.
#[test]
fn vault_errors_blame_the_right_thing() {
    use crate::support::bao::Bao;
    let bao = Bao::start();
    let value = canary("hf");
    bao.put_v2("app", &[("hf_access_token", &value)]);
    let sb = Sandbox::new();
    let vault_cfg = |more: &str| {
        format!(
            "secrets:\n  hf_access_token: null\nsecret_init:\n  vault:\n{}    paths: [secret/data/app]\n    retries: 0\n{more}",
            bao.vault_yaml()
        )
    };
    sb.config(&vault_cfg(""));
    let bogus = canary("token");
    sb.run()
        .env("VAULT_TOKEN", &bogus)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has(
            "(the token itself is refused: auth/token/lookup-self answers 403 too, so it has \
             expired, was revoked, or is not a token of this server)",
        )
        .no_leak(&[&bogus, &value, &bao.root]);
    // A valid token with only the default policy.
    let r = bao.admin(
        serde_json::json!([{"op": "api", "method": "POST", "path": "auth/token/create",
        "body": {"policies": ["default"], "ttl": "10m"}}]),
    );
    let weak = r[0]["body"]["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let out = sb
        .run()
        .env("VAULT_TOKEN", &weak)
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(77)
        .stderr_has("the token's policies do not allow reading this path (the token is valid; its policies: default)")
        .no_leak(&[&weak, &value, &bao.root]);
    assert!(
        !out.stderr().contains("itself is refused"),
        "{}",
        out.stderr()
    );
    // The negative control: a token that may read.
    sb.run()
        .env("VAULT_TOKEN", bao.reader_token())
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();

    // AppRole sent to a mount that is not enabled.
    let (role_id, secret_id) = bao.approle();
    sb.config(&vault_cfg(
        "    auth: {method: approle, mount: approle-typo}\n",
    ));
    sb.run()
        .env("VAULT_ROLE_ID", &role_id)
        .env("VAULT_SECRET_ID", &secret_id)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("vault approle login (auth/approle-typo)")
        .stderr_has(
            "(sent to auth/approle-typo/login: is the approle method enabled at the mount \
             \"approle-typo\" (`bao auth list`)? else secret_init.vault.auth.mount names it",
        )
        .no_leak(&[&secret_id]);

    // https:// to a server that speaks plain HTTP.
    let plain = Bao::start_plain();
    let https = plain.addr.replace("http://", "https://");
    sb.config(&format!(
        "secrets:\n  hf_access_token: null\nsecret_init:\n  vault:\n    address: {https}\n    paths: [secret/data/app]\n    retries: 0\n"
    ));
    sb.run()
        .env("VAULT_TOKEN", plain.reader_token())
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("TLS: the server speaks plain HTTP, not HTTPS");
}

/// `check` reveals nothing of a value shorter than 24 bytes (a 10-character password shows
/// `****`), two characters at each end of a longer one, and with `--show-prefix` its first
/// quarter (at most 8 characters); `bundle show` masks alike.
#[test]
fn check_reveals_nothing_of_short_values() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  password: null\n  api_key: null\n");
    let password = "p@ssw0rd!!";
    let api_key = format!("sk-proj-{}-0123456789xy", canary("api"));
    let row = |out: &Out, name: &str| {
        out.stdout()
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().nth(3).unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no row {name}: {}", out.stdout()))
    };
    let out = sb
        .run()
        .env("TRUSS_SECRET_password", password)
        .env("TRUSS_SECRET_api_key", &api_key)
        .arg("check")
        .output();
    out.expect_ok().no_leak(&[password, &api_key, "p@", "d!!"]);
    assert_eq!(row(&out, "password"), "****");
    assert_eq!(row(&out, "api_key"), "sk****xy");
    let out = sb
        .run()
        .env("TRUSS_SECRET_password", password)
        .env("TRUSS_SECRET_api_key", &api_key)
        .args(["check", "--show-prefix"])
        .output();
    out.expect_ok().no_leak(&[password, &api_key]);
    assert_eq!(row(&out, "password"), "p@****");
    assert_eq!(row(&out, "api_key"), "sk-proj-****");

    // bundle show: the same rule.
    let key = Run::new().args(["bundle", "keygen"]).output();
    let key = key.stdout().trim().to_string();
    let file = sb.path("b.json");
    let bundle = |args: &[&str]| {
        let mut r = Run::new();
        r.env("SECRET_INIT_MASTER_KEY", &key)
            .arg("bundle")
            .arg("--bundle")
            .arg(&file)
            .args(args);
        r.output()
    };
    bundle(&["create", "v"]).expect_ok();
    bundle(&["set", "v", "PASSWORD", password]).expect_ok();
    let show = bundle(&["show", "v"]);
    show.expect_ok().no_leak(&[password]);
    assert!(
        show.stdout()
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["PASSWORD", "****", "yes"]),
        "{}",
        show.stdout()
    );
}
