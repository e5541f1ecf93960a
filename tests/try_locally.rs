//! docs/try-locally.md as a user runs it: each `sh` block, from the top of the checkout, with
//! secret-init and the test environment's Python tools on the PATH, prints what the `text` block
//! under it shows. The fixed ports of the page (8200, 5000) become free ones, so that parallel
//! runs do not collide; every server a block starts is stopped by the block (or, if it fails, by
//! the wrapper's trap, by PID).

use std::time::Duration;

use crate::support::{Run, Sandbox, bin, free_port, read, root};

/// `(sh, text)` for each `sh` block followed by a `text` block.
fn blocks(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(at) = rest.find("```sh\n") {
        let body = &rest[at + 6..];
        let end = body.find("\n```").expect("a closed sh block");
        let sh = body[..end].to_string();
        let after = &body[end + 4..];
        let text = after
            .trim_start()
            .strip_prefix("```text\n")
            .and_then(|t| t.split("\n```").next())
            .expect("a text block under each sh block");
        out.push((sh, text.to_string()));
        rest = after;
    }
    out
}

#[test]
fn every_block_runs_as_written() {
    let doc = read(&root().join("docs/try-locally.md"));
    let blocks = blocks(&doc);
    assert_eq!(blocks.len(), 4, "vault, aws, gcp, azure");
    // The binary under test by the name the docs type (dist's file is named for its target).
    let bins = Sandbox::new();
    let on_path = bins.mkdir("bin");
    std::os::unix::fs::symlink(bin(), on_path.join("secret-init")).expect("link secret-init");
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        on_path.display(),
        root().join(".venv/bin").display()
    );
    for (sh, want) in blocks {
        let sh = sh
            .replace(":8200", &format!(":{}", free_port()))
            .replace(" 5000", &format!(" {}", free_port()))
            .replace(":5000", ":MOTO");
        let moto = sh
            .split("-p ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let sh = sh.replace(":MOTO", &format!(":{moto}"));
        let sb = Sandbox::new();
        let mut r = Run::new();
        r.program = "/bin/bash".into();
        r.cwd = Some(root());
        r.env("PATH", &path)
            .env("HOME", sb.mkdir("home"))
            .env("SECRET_INIT_SECRETS_DIR", sb.mkdir("empty"))
            .env("TMPDIR", sb.dir.path())
            .args([
                "-euo",
                "pipefail",
                "-c",
                &format!("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{sh}"),
            ]);
        let out = r.output_within(Duration::from_secs(120));
        assert_eq!(
            out.stdout().trim_end(),
            want.trim_end(),
            "block:\n{sh}\nstderr:\n{}",
            out.stderr()
        );
        out.expect_ok();
    }
}
