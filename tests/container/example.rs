//! Dockerfile.example as a user builds it: secret-init COPYed from the release files in `dist/`
//! (named as docs/release.md lists them), not compiled in the image. The build runs offline, so
//! its `FROM python:3.11-slim` is the test's own Python image (built from this machine's
//! python3); everything after the FROM is the file's own.

use std::path::PathBuf;

use super::{engine, podman, python_image, run, truss_model};
use crate::support::*;

#[test]
fn dockerfile_example_builds_from_the_release_binary() {
    let text = read(&root().join("Dockerfile.example"));
    assert!(text.contains("FROM python:3.11-slim\n"), "{text}");
    assert!(
        !text.contains("cargo build"),
        "the example compiles nothing"
    );
    let dockerfile = text.replace(
        "FROM python:3.11-slim\n",
        &format!("FROM {}\n", python_image()),
    );
    let version = env!("CARGO_PKG_VERSION");
    // The release binary: dist's when the test command built a release, else the binary under
    // test under the release's name.
    let binary = std::env::var_os("SI_TEST_DIST")
        .map(|d| PathBuf::from(d).join(format!("secret-init-{version}-x86_64-linux-musl")))
        .unwrap_or_else(bin);
    let sb = Sandbox::new();
    let ctx = sb.mkdir("ctx");
    sb.write("ctx/Dockerfile", &dockerfile);
    let shipped = std::fs::read(&binary).expect("the release binary");
    sb.write(
        &format!("ctx/dist/secret-init-{version}-x86_64-linux-musl"),
        &shipped,
    );
    succeeded(
        std::process::Command::new("cp")
            .arg("-r")
            .arg(root().join("examples"))
            .arg(&ctx),
    );
    let image = "localhost/secret-init-test-example:latest";
    podman(engine())
        .args(["build", "--network", "none", "--pull=never", "-q"])
        .args(["--build-arg", &format!("VERSION={version}"), "-t", image])
        .arg(&ctx)
        .output()
        .expect_ok();
    let out = truss_model(image);
    for want in [
        "\"hf_token_seen\": \"hf****12\"",
        "\"openai_key_in_env\": \"sk****34\"",
        "\"secret_init_inputs_left_in_env\": []",
    ] {
        assert!(
            out.stdout().contains(want),
            "{want} missing in:\n{}",
            out.stdout()
        );
    }
    // The image's secret-init is the release file, byte for byte.
    let inside = run(&[
        "--entrypoint",
        "/usr/bin/python3",
        image,
        "-c",
        "import hashlib,sys; sys.stdout.write(hashlib.sha256(open('/usr/local/bin/secret-init','rb').read()).hexdigest())",
    ]);
    inside.expect_ok();
    let want = std::process::Command::new("sha256sum")
        .arg(&binary)
        .output()
        .expect("sha256sum");
    let want = String::from_utf8_lossy(&want.stdout);
    assert_eq!(
        inside.stdout(),
        want.split_whitespace().next().unwrap_or_default()
    );
}
