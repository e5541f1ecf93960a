//! The release image with podman (the podman phase of the test command): dist's OCI archive
//! loads with the README's own `podman load` line, the loaded image holds dist's binary byte for
//! byte with its version and commit labels, and the README's `COPY --from` line builds an image
//! (FROM scratch and busybox, as `Containerfile`) whose secret-init then runs a real start.

use std::path::PathBuf;
use std::process::Command;

use super::{engine, podman};
use crate::release::{binary, dist, head, readme_install_blocks, version};
use crate::support::*;

#[test]
fn release_image_loads_and_copy_from_runs() {
    let blocks = readme_install_blocks();
    let (_, load) = blocks
        .iter()
        .find(|(h, _)| h.starts_with("image") || h.contains(" image"))
        .filter(|(h, _)| !h.starts_with("dockerfile"))
        .expect("an image sh block in README's Install");
    let (_, dockerfile) = blocks
        .iter()
        .find(|(h, _)| h.starts_with("dockerfile"))
        .expect("a dockerfile block in README's Install");
    let image = format!("localhost/secret-init:{}", version());
    let _ = podman(engine()).args(["rmi", "-f", &image]).output();
    // The README's lines, run as shown from the download dir, against this engine.
    let sb = Sandbox::new();
    let copy = sb.path("download");
    succeeded(Command::new("cp").arg("-r").arg(dist()).arg(&copy));
    let mut r = podman(engine());
    r.program = PathBuf::from("/bin/sh");
    r.cwd = Some(copy.clone());
    r.args(["-ec", load]);
    let out = r.output();
    out.expect_ok();
    assert!(
        (out.stdout() + &out.stderr()).contains(&format!("Loaded image: {image}")),
        "{}",
        out.stderr()
    );
    // Labelled with the version and the commit.
    let out = podman(engine())
        .args(["image", "inspect", "--format", "{{json .Labels}}", &image])
        .output();
    out.expect_ok();
    let labels: serde_json::Value = serde_json::from_str(out.stdout().trim()).expect("json");
    assert_eq!(labels["org.opencontainers.image.version"], version());
    assert_eq!(labels["org.opencontainers.image.revision"], head().as_str());
    // The image's /secret-init is dist's binary.
    let name = canary("release-cp");
    podman(engine())
        .args(["create", "--name", &name, &image])
        .output()
        .expect_ok();
    let got = sb.path("from-image");
    let out = podman(engine())
        .arg("cp")
        .arg(format!("{name}:/secret-init"))
        .arg(&got)
        .output();
    let _ = podman(engine()).args(["rm", "-f", &name]).output();
    out.expect_ok();
    assert!(
        std::fs::read(&got).expect("copied out") == std::fs::read(binary("x86_64")).expect("read"),
        "the image's binary is not dist's"
    );
    // The README's Dockerfile lines on a FROM scratch + busybox base instead of its Python one.
    let ctx = sb.mkdir("context");
    std::fs::copy("/bin/busybox", ctx.join("busybox")).expect("busybox-static");
    std::fs::copy(
        root().join("examples/container/config.yaml"),
        ctx.join("config.yaml"),
    )
    .expect("config");
    let mut file = String::from(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN mkdir -p /tmp /app && chmod 1777 /tmp\nCOPY config.yaml /app/config.yaml\nWORKDIR /app\n\
         ENV PATH=/usr/local/bin:/bin\n",
    );
    let shown: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.starts_with("FROM ") && !l.starts_with("CMD ") && !l.trim().is_empty())
        .collect();
    assert!(
        shown
            .iter()
            .any(|l| *l == format!("COPY --from={image} /secret-init /usr/local/bin/secret-init")),
        "{dockerfile}"
    );
    for l in shown {
        file.push_str(l);
        file.push('\n');
    }
    std::fs::write(ctx.join("Containerfile"), &file).expect("write");
    let built = "localhost/secret-init-test-copy-from:latest";
    podman(engine())
        .args([
            "build",
            "--network",
            "none",
            "--pull=never",
            "-q",
            "-t",
            built,
        ])
        .arg(&ctx)
        .output()
        .expect_ok();
    let value = canary("copy-from");
    let env = format!("TRUSS_SECRET_api_key={value}");
    let out = podman(engine())
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--tmpfs",
            "/secrets",
            "-e",
            &env,
            built,
        ])
        .args([
            "sh",
            "-c",
            "echo \"$(cat /secrets/api_key) pid1=$(cat /proc/1/comm)\"",
        ])
        .output();
    out.expect_ok();
    assert_eq!(out.stdout().trim(), format!("{value} pid1=secret-init"));
    assert!(!out.stderr().contains(&value));
}
