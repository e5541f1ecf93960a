//! Templates (`secret_init.templates`): every escaping filter read back by its real consumer
//! (Python's `json`, PyYAML, `urllib.parse`, python-dotenv, POSIX `sh`), byte-exact; the failures
//! that must stop a start (exit 65, nothing written, program not started); publication with the
//! rest (exact mode, never through a link, `check`, `--cleanup`); includes confined to the
//! template's directory.

use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use crate::support::*;

/// Values that break naive quoting: quotes, backslashes, newlines (and a trailing one), CR, `$`,
/// backquote, `#`, `=`, spaces, tabs, unicode (with the YAML 1.1 line breaks NEL and U+2028), a
/// URL's delimiters, a leading dash; and the empty value.
const NASTY: &[&str] = &[
    "-leading dash 'single' \"double\" \\back\\\\slash\nsecond line $HOME $(id) `id` #hash =eq  two  spaces\ttab é ü 中 😀 \u{85}\u{2028} /@:%?#+&;|<>* \r\nend\n",
    "",
    "--",
    "a=b#c d",
];

fn consumers_config(sb: &Sandbox) -> String {
    let tpl = sb.mkdir("tpl");
    std::fs::write(
        tpl.join("config.json.tmpl"),
        "{\"token\": {{ secrets.v | tojson }}}\n",
    )
    .expect("write");
    std::fs::write(
        tpl.join("config.yaml.tmpl"),
        "# a YAML config\ntoken: {{ secrets.v | yaml }}\nother: 1\n",
    )
    .expect("write");
    let r = sb.path("out/r");
    format!(
        r#"secrets:
  v: null
secret_init:
  secrets:
    v: {{file: false}}
  templates:
    json: {{destination: {r}/config.json, source: {tpl}/config.json.tmpl}}
    yaml: {{destination: {r}/config.yaml, source: {tpl}/config.yaml.tmpl}}
    url:
      destination: {r}/url
      template: "postgresql://app:{{{{ secrets.v | urlencode }}}}@db:5432/app?k={{{{ secrets['v'] | urlencode }}}}\n"
    sh:
      destination: {r}/app.sh
      template: |
        VAR={{{{ secrets.v | shell_quote }}}}
    dotenv:
      destination: {r}/app.env
      template: |
        # rendered by secret-init
        VAR={{{{ secrets.v | env_quote }}}}
        AFTER=after
    b64:
      destination: {r}/b64
      template: "{{{{ secrets.v | b64encode }}}}"
    roundtrip:
      destination: {r}/roundtrip
      template: "{{{{ secrets.v | b64encode | b64decode }}}}"
"#,
        r = r.display(),
        tpl = tpl.display()
    )
}

#[test]
fn every_filter_round_trips_through_its_real_consumer() {
    for value in NASTY {
        let sb = Sandbox::new();
        sb.config(&consumers_config(&sb));
        sb.write("in/v", value);
        sb.run().args(["--", "/bin/true"]).output().expect_ok();
        let out = std::process::Command::new(python())
            .arg(root().join("tests/fixtures/template_consumers.py"))
            .arg(sb.path("out/r"))
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "consumers failed for {value:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let want: String = value.bytes().map(|b| format!("{b:02x}")).collect();
        for consumer in [
            "json",
            "yaml",
            "url",
            "url-path",
            "sh",
            "dotenv",
            "b64",
            "b64-roundtrip",
        ] {
            assert_eq!(
                got[consumer].as_str(),
                Some(want.as_str()),
                "{consumer} read back something else for {value:?}"
            );
        }
        // The secret itself was delivered only through the templates.
        assert!(!sb.path("out/v").exists());
        assert_eq!(mode(&sb.path("out/r/app.env")), 0o600);
    }
}

/// Negative control: the same consumers do notice quoting that is not done. Written naively
/// (the value between the format's own quotes, no filter), the nasty value does not read back.
#[test]
fn the_consumers_catch_naive_quoting() {
    let sb = Sandbox::new();
    let r = sb.path("out/r");
    sb.config(&format!(
        "secrets:\n  v: null\nsecret_init:\n  secrets: {{v: {{file: false}}}}\n  templates:\n    sh: {{destination: {r}/app.sh, template: \"VAR='{{{{ secrets.v }}}}'\\n\"}}\n    dotenv: {{destination: {r}/app.env, template: \"VAR='{{{{ secrets.v }}}}'\\n\"}}\n",
        r = r.display()
    ));
    sb.write("in/v", NASTY[0]);
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    let sh = std::process::Command::new("/bin/sh")
        .args(["-c", ". ./app.sh; printf %s \"$VAR\""])
        .current_dir(&r)
        .output()
        .expect("sh");
    assert_ne!(
        sh.stdout,
        NASTY[0].as_bytes(),
        "sh read the unquoted value back intact"
    );
    let dotenv = std::process::Command::new(python())
        .args([
            "-c",
            "import sys; from dotenv import dotenv_values; sys.stdout.write(dotenv_values(sys.argv[1]).get('VAR') or '')",
        ])
        .arg(r.join("app.env"))
        .output()
        .expect("python");
    assert!(
        dotenv.status.success(),
        "{}",
        String::from_utf8_lossy(&dotenv.stderr)
    );
    assert_ne!(
        dotenv.stdout,
        NASTY[0].as_bytes(),
        "dotenv read the unquoted value back intact"
    );
}

#[test]
fn urlencode_encodes_every_reserved_character() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  p: null\nsecret_init:\n  secrets: {{p: {{file: false}}}}\n  templates:\n    u: {{destination: {}, template: \"{{{{ secrets.p | urlencode }}}}\"}}\n",
        sb.path("out/u").display()
    ));
    sb.write("in/p", "a/b@c:d%e?f#g h+i=j&k~l.m_n-o");
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(
        read(&sb.path("out/u")),
        "a%2Fb%40c%3Ad%25e%3Ff%23g%20h%2Bi%3Dj%26k~l.m_n-o"
    );
}

/// A program that records that it ran.
fn marker(sb: &Sandbox) -> Vec<String> {
    vec![
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        format!("touch {}", sb.path("program-ran").display()),
    ]
}

#[test]
fn a_template_that_cannot_render_stops_the_start() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("outside.tmpl"), "outside").expect("write");
    // (case, template text, what stderr says)
    let cases: &[(&str, &str, &str)] = &[
        (
            "undeclared",
            "a\nb={{ secrets.nope }}\n",
            "template \"bad\" line 2: secret \"nope\" is not declared",
        ),
        (
            "undeclared-tojson",
            "{{ secrets.nope | tojson }}",
            "secret \"nope\" is not declared",
        ),
        (
            "undeclared-urlencode",
            "{{ secrets['nope'] | urlencode }}",
            "secret \"nope\" is not declared",
        ),
        (
            "absent-optional",
            "{{ secrets.opt }}",
            "secret \"opt\" has no value",
        ),
        ("environment", "{{ HOME }}{{ env }}", "undefined value"),
        (
            "syntax",
            "ok\n{% for x in %}\n",
            "template \"bad\" line 2: syntax error",
        ),
        (
            "include-parent",
            "{% include '../outside.tmpl' %}",
            "only a relative name inside the template's directory",
        ),
        (
            "include-absolute",
            "{% include '/etc/passwd' %}",
            "only a relative name inside the template's directory",
        ),
        (
            "include-link-out",
            "{% include 'link.tmpl' %}",
            "a link that leaves its directory",
        ),
        (
            "oversized",
            "{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}",
            "output is over the 1048576-byte limit",
        ),
        (
            "runaway",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "ran out of its work budget",
        ),
    ];
    for (case, text, why) in cases {
        let sb = Sandbox::new();
        let tpl = sb.mkdir("tpl");
        std::fs::write(tpl.join("bad.tmpl"), text).expect("write");
        symlink(outside.path().join("outside.tmpl"), tpl.join("link.tmpl")).expect("link");
        std::fs::write(tpl.join("part.tmpl"), "ok\n{{ secrets.zzz }}").expect("write");
        sb.config(&format!(
            "secrets:\n  db: null\n  opt: null\nsecret_init:\n  secrets: {{opt: {{optional: true}}}}\n  templates:\n    good: {{destination: {}, template: \"{{{{ secrets.db }}}}\"}}\n    bad: {{destination: {}, source: {}}}\n",
            sb.path("out/good").display(),
            sb.path("out/bad").display(),
            tpl.join("bad.tmpl").display()
        ));
        let c = canary("tmpl");
        sb.write("in/db", &c);
        let started = Instant::now();
        let out = sb
            .run()
            .env("HOME", "/home/somebody")
            .args(["--log-level", "trace"])
            .args(marker(&sb))
            .output();
        out.expect_code(65).stderr_has(why).no_leak(&[&c]);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{case}: too slow"
        );
        assert!(!sb.path("program-ran").exists(), "{case}: the program ran");
        assert!(
            tree(&sb.path("out")).is_empty(),
            "{case}: something was written: {:?}",
            tree(&sb.path("out"))
        );
        // check reports the same problem, with the row, and exits the same way.
        let out = sb.run().arg("check").output();
        out.expect_code(65)
            .stdout_has("template:bad")
            .no_leak(&[&c]);
    }
}

#[test]
fn rendered_files_are_published_like_secrets() {
    let sb = Sandbox::new();
    let tpl = sb.mkdir("tpl");
    std::fs::write(tpl.join("main.tmpl"), "{% include 'part.tmpl' %}\n").expect("write");
    std::fs::write(tpl.join("part.tmpl"), "pw={{ secrets.db }}").expect("write");
    let dest = sb.path("out/app/config.ini");
    sb.config(&format!(
        "secrets:\n  db: null\n  unused: dflt\nsecret_init:\n  templates:\n    ini: {{destination: {}, source: {}, mode: \"0640\"}}\n",
        dest.display(),
        tpl.join("main.tmpl").display()
    ));
    let c = canary("pub");
    sb.write("in/db", &c);
    // check: the destination and the secrets used, never the content.
    let out = sb.run().arg("check").output();
    out.expect_ok().no_leak(&[&c]);
    let line = out
        .stdout()
        .lines()
        .find(|l| l.starts_with("template:ini"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("secrets: db")
            && line.contains(&dest.display().to_string())
            && line.ends_with("ok"),
        "{}",
        out.stdout()
    );
    let json = sb.run().args(["check", "--format", "json"]).output();
    json.expect_ok()
        .no_leak(&[&c])
        .stdout_has("\"name\":\"template:ini\"");
    assert!(!dest.exists(), "check wrote the file");

    // Exact mode whatever the umask; the include is read from the template's directory.
    sb.run()
        .umask(0o000)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&dest), format!("pw={c}\n"));
    assert_eq!(mode(&dest), 0o640);

    // Never through a link: a link at the destination stops everything.
    let victim = sb.write("victim", "victim");
    std::fs::remove_file(&dest).expect("rm");
    std::fs::remove_file(sb.path("out/db")).expect("rm");
    symlink(&victim, &dest).expect("link");
    sb.run()
        .args(marker(&sb))
        .output()
        .expect_code(73)
        .stderr_has("refusing to replace symlink");
    assert_eq!(read(&victim), "victim");
    assert!(
        !sb.path("out/db").exists(),
        "a secret was published without the template"
    );
    assert!(!sb.path("program-ran").exists());
    std::fs::remove_file(&dest).expect("rm");

    // --cleanup removes the rendered file with the rest when the program exits.
    sb.run()
        .args(["--cleanup", "--", "/bin/sh", "-c"])
        .arg(format!("test -f {}", dest.display()))
        .output()
        .expect_ok();
    assert!(!dest.exists(), "--cleanup left the rendered file");

    // materialize records the rendered file; clean removes it.
    sb.run().arg("materialize").output().expect_ok();
    assert_eq!(read(&dest), format!("pw={c}\n"));
    sb.run().arg("clean").output().expect_ok();
    assert!(!dest.exists(), "clean left the rendered file");

    // Two deliveries to one file are refused before anything is written.
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  secrets: {{db: {{file: {}}}}}\n  templates:\n    ini: {{destination: {}, template: x}}\n",
        dest.display(),
        dest.display()
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("as \"db\" does");
}

#[test]
fn template_settings_are_validated() {
    let sb = Sandbox::new();
    for (yaml, code, why) in [
        ("t: {template: x}", 65, "destination: missing"),
        (
            "t: {destination: rel/path, template: x}",
            65,
            "must be an absolute file path",
        ),
        ("t: {destination: /a/b}", 65, "exactly one of template"),
        (
            "t: {destination: /a/b, template: x, source: /a/c}",
            65,
            "exactly one of template",
        ),
        (
            "t: {destination: /a/b, template: x, mode: \"9\"}",
            65,
            "not an octal mode",
        ),
        (
            "t: {destination: /a/b, template: x, destnation: /c}",
            78,
            "unknown setting \"destnation\"",
        ),
    ] {
        sb.config(&format!(
            "secrets: {{}}\nsecret_init:\n  templates:\n    {yaml}\n"
        ));
        sb.run()
            .arg("check")
            .output()
            .expect_code(code)
            .stderr_has(why);
    }
}

/// examples/templated-model as a container would run it (its absolute paths moved into a
/// sandbox): the model reads the rendered JSON config, and the password reaches it through the
/// URL intact.
#[test]
fn the_templated_model_example_reads_its_rendered_config() {
    let sb = Sandbox::new();
    let example = root().join("examples/templated-model");
    let app = sb.mkdir("app");
    for f in ["config.json.tmpl", "main.py"] {
        std::fs::copy(example.join(f), app.join(f)).expect("copy");
    }
    let config = std::fs::read_to_string(example.join("config.yaml"))
        .expect("example config")
        .replace("/app/", &format!("{}/", app.display()))
        .replace("/secrets/", &format!("{}/", sb.path("out").display()));
    sb.config(&config);
    let token = format!("hf_{}", canary("tok"));
    let password = "p@ss/w:rd?#%\"\\ é";
    sb.write("in/hf_access_token", &token);
    sb.write("in/db_password", password);
    let mut r = sb.run();
    r.cwd = Some(app.clone());
    let out = r
        .env("MODEL_CONFIG", sb.path("out/model-config.json"))
        .args(["--", python().to_str().expect("utf8"), "main.py"])
        .output();
    out.expect_ok().no_leak(&[&token, password]);
    let got: serde_json::Value = serde_json::from_str(out.stdout().trim()).expect("json");
    let masked = format!("hf****{}", &token[token.len() - 2..]);
    assert_eq!(got["hf_token"], masked.as_str());
    assert_eq!(got["hf_token_len"], token.chars().count());
    assert_eq!(got["region"], "us-east-1");
    assert_eq!(got["db_host"], "db");
    assert_eq!(got["db_port"], 5432);
    assert_eq!(got["db_password_len"], password.chars().count());
    assert_eq!(mode(&sb.path("out/model-config.json")), 0o600);
    assert!(
        read(&sb.path("out/db.env")).starts_with(
            "DATABASE_URL=postgresql://app:p%40ss%2Fw%3Ard%3F%23%25%22%5C%20%C3%A9@db"
        )
    );
    // Only the rendered files were delivered (and recorded as deliveries).
    assert_eq!(
        tree(&sb.path("out")),
        ["..secret-init-delivered", "db.env", "model-config.json"]
    );
}
