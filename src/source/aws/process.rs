//! `credential_process`, as the AWS CLI and botocore run it: the profile's command line split
//! like a POSIX shell would split it (Python's `shlex.split`, no shell started), run with
//! secret-init's own environment, its stdout read as the documented JSON (`Version` 1,
//! `AccessKeyId`, `SecretAccessKey`, optional `SessionToken` and `Expiration`) and its stderr
//! passed through to ours.
//!
//! What runs is decided by whoever can write the config file, so under `--user` the file must
//! be out of the program's reach ([`crate::provenance`]), and secret-init running as root never
//! runs it on behalf of a `--user` program at all (the program's user would otherwise choose
//! what root executes, or root would run a helper meant for the workload's identity). The
//! process runs in its own process group under the aws deadline; when the deadline passes, the
//! whole group is killed by its id (the leader's PID, which secret-init started and has not yet
//! reaped) and the leader reaped. A descendant that left the group (`setsid`) is out of reach,
//! as it is for the AWS CLI; it only keeps a pipe nobody reads.
//! Its output is a credential: it stays in wiped buffers and never reaches a log or an error.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::sigv4::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::provenance::ProgramUser;
use crate::secret::Secret;

/// The largest output read: the JSON of one set of credentials is well under 4 KiB.
const MAX_OUTPUT_BYTES: u64 = 64 * 1024;

/// A profile's `credential_process`, where it was written.
#[derive(Clone, Debug)]
pub(crate) struct CredentialProcess {
    /// The command line as written.
    pub command: String,
    /// The file it was read from (the config or the shared credentials file).
    pub file: PathBuf,
    /// `profile NAME`, for messages.
    pub origin: String,
}

/// Splits a command line as Python's `shlex.split` does in POSIX mode (botocore's
/// `compat_shell_split`): blanks separate words; `'...'` is literal; in `"..."` a backslash
/// escapes only `\` and `"`; elsewhere a backslash escapes the next character. No variables,
/// globs or comments: nothing is expanded and no shell runs.
pub fn split(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('\\' | '"')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("no closing quotation"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("no escaped character after a backslash"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

impl CredentialProcess {
    fn error(&self, kind: Kind, what: impl Into<String>) -> Error {
        Error::new(kind, what).with_source(format!("aws credential_process ({})", self.origin))
    }

    /// Refuses to run it on behalf of `program` (the `--user`, when it is not ours): when the
    /// program's user could have written the file it comes from, and whenever secret-init is
    /// root. 78 either way.
    pub(crate) fn allowed(&self, program: Option<&ProgramUser>) -> Result<(), Error> {
        let Some(user) = program else {
            return Ok(());
        };
        if let Some(why) = user.could_write(&self.file) {
            return Err(self.error(
                Kind::Config,
                format!(
                    "{} names the command, and the program's user (uid {}) could have written it ({why}); under --user a credential_process must come from a file out of the program's reach",
                    self.file.display(),
                    user.uid
                ),
            ));
        }
        if nix::unistd::geteuid().is_root() {
            return Err(self.error(
                Kind::Config,
                format!(
                    "secret-init runs as root and the program as uid {}: a credential_process is never run as root on behalf of a --user program (run secret-init as that user, or give it credentials another way)",
                    user.uid
                ),
            ));
        }
        Ok(())
    }

    /// Runs it under `deadline` with `env` and reads its credentials, as of `now`.
    pub(crate) fn run(
        &self,
        env: &Environ,
        deadline: Duration,
        now: u64,
    ) -> Result<Credentials, Error> {
        let argv = split(&self.command).map_err(|why| {
            self.error(
                Kind::Config,
                format!("the command line cannot be split: {why}"),
            )
        })?;
        let Some((program, args)) = argv.split_first() else {
            return Err(self.error(Kind::Config, "the command line is empty"));
        };
        crate::log::debug!(
            "aws: {}: running credential_process {} (from {}), deadline {deadline:?}",
            self.origin,
            crate::log::escape_controls(program),
            self.file.display()
        );
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(env.0.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            self.error(
                Kind::Config,
                format!("cannot start {}: {e}", crate::log::escape_controls(program)),
            )
        })?;
        let Some(mut stdout) = child.stdout.take() else {
            return Err(self.error(Kind::Unavailable, "no pipe to read its output"));
        };
        let start = Instant::now();
        // The output is read beside us, so that the deadline holds whatever the process does
        // with it. Only the calling thread waits for the child: until it has, the child's PID
        // (its group's id) cannot name another process, so the kill below reaches this group.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = zeroize::Zeroizing::new(Vec::new());
            let read = (&mut stdout)
                .take(MAX_OUTPUT_BYTES + 1)
                .read_to_end(&mut out);
            let _ = tx.send(read.map(|_| Secret::new(std::mem::take(&mut *out))));
        });
        let out = rx.recv_timeout(deadline);
        // Its stdout closed: the process is normally gone or going. One that lives on is given
        // what is left of the deadline, looked at every 10 ms (a rare case, not worth a pidfd).
        let mut status = None;
        while out.is_ok() {
            status = child.try_wait().ok().flatten();
            if status.is_some() || start.elapsed() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let Some(status) = status else {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = crate::sys::send(pid, nix::libc::SIGKILL, true);
            }
            let _ = child.wait();
            return Err(self.error(
                Kind::Unavailable,
                format!(
                    "did not finish within the deadline ({deadline:?}): its process group was killed"
                ),
            ));
        };
        let out = match out {
            Ok(read) => read.map_err(|e| {
                self.error(Kind::Unavailable, format!("cannot read its output: {e}"))
            })?,
            Err(_) => return Err(self.error(Kind::Unavailable, "its output was lost")),
        };
        if !status.success() {
            return Err(self.error(
                Kind::Permission,
                format!("it failed ({status}); its stderr is above"),
            ));
        }
        if out.len() as u64 > MAX_OUTPUT_BYTES {
            return Err(self.error(
                Kind::Permission,
                format!("its output is larger than {MAX_OUTPUT_BYTES} bytes"),
            ));
        }
        parse_output(&out, now).map_err(|e| self.error(e.kind, e.into_problem().what))
    }
}

/// Reads a credential process's output, with no I/O: the JSON object the AWS CLI documents,
/// `Version` 1, `AccessKeyId` and `SecretAccessKey` (non-empty strings), optional
/// `SessionToken`, and an optional RFC 3339 `Expiration` that must be in the future of `now`.
/// Errors never quote the output.
pub fn parse_output(out: &Secret, now: u64) -> Result<Credentials, Error> {
    use serde_json::Value;
    let bad = |what: &str| Error::new(Kind::Permission, format!("its output {what}"));
    let v: Value = serde_json::from_slice(out.expose()).map_err(|_| bad("is not JSON"))?;
    let Value::Object(o) = v else {
        return Err(bad("is not a JSON object"));
    };
    match o.get("Version") {
        Some(n) if n.as_u64() == Some(1) => {}
        Some(_) => return Err(bad("has a Version other than 1")),
        None => return Err(bad("has no Version (expected 1)")),
    }
    let text = |name: &str| -> Result<Option<&str>, Error> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
            Some(_) => Err(bad(&format!("has a {name} that is not a non-empty string"))),
        }
    };
    let id = text("AccessKeyId")?.ok_or_else(|| bad("has no AccessKeyId"))?;
    // Key ids are letters and digits; the id is shown in logs, so it must carry nothing else.
    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("has a malformed AccessKeyId"));
    }
    let secret = text("SecretAccessKey")?.ok_or_else(|| bad("has no SecretAccessKey"))?;
    let token = text("SessionToken")?;
    let expires_at = match text("Expiration")? {
        None => None,
        Some(t) => {
            let at = super::metadata::parse_expiration(t)
                .ok_or_else(|| bad("has an Expiration that is not an RFC 3339 time"))?;
            if at <= now {
                return Err(bad("has expired credentials (Expiration is in the past)"));
            }
            Some(at)
        }
    };
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(secret.as_bytes().to_vec()),
        session_token: token.map(|t| Secret::new(t.as_bytes().to_vec())),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    #[test]
    fn command_lines_split_as_shlex_does() {
        let ok = |line: &str, want: &[&str]| assert_eq!(split(line).expect(line), want, "{line}");
        ok(
            "/bin/helper --profile x",
            &["/bin/helper", "--profile", "x"],
        );
        ok("  a\t b  ", &["a", "b"]);
        ok("'a b' \"c d\" e\\ f", &["a b", "c d", "e f"]);
        ok(
            r#""a\"b" "a\\b" "a\nb" 'x\y'"#,
            &["a\"b", "a\\b", "a\\nb", "x\\y"],
        );
        ok("a'b'\"c\"d", &["abcd"]);
        ok("'' x", &["", "x"]);
        ok("$HOME `id` a;b *", &["$HOME", "`id`", "a;b", "*"]);
        ok("", &[]);
        for bad in ["'open", "\"open", "a\\", "\"a\\"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outputs() {
        let c = parse_output(
            &s(r#"{"Version": 1, "AccessKeyId": "AKID1", "SecretAccessKey": "sk", "SessionToken": "tok", "Expiration": "2030-01-01T00:00:00Z"}"#),
            0,
        )
        .expect("ok");
        assert_eq!(c.access_key_id, "AKID1");
        assert_eq!(c.secret_access_key.expose(), b"sk");
        assert_eq!(c.session_token.expect("token").expose(), b"tok");
        assert_eq!(c.expires_at, Some(1_893_456_000));
        let c = parse_output(
            &s(r#"{"Version": 1, "AccessKeyId": "AKID1", "SecretAccessKey": "sk"}"#),
            0,
        )
        .expect("no token");
        assert!(c.session_token.is_none() && c.expires_at.is_none());
        for (bad, why) in [
            ("not json canary-sk", "is not JSON"),
            ("[]", "not a JSON object"),
            (
                r#"{"AccessKeyId": "A", "SecretAccessKey": "canary-sk"}"#,
                "no Version",
            ),
            (
                r#"{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "canary-sk"}"#,
                "other than 1",
            ),
            (
                r#"{"Version": 1, "SecretAccessKey": "canary-sk"}"#,
                "no AccessKeyId",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "A"}"#,
                "no SecretAccessKey",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "A B", "SecretAccessKey": "canary-sk"}"#,
                "malformed",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": 5}"#,
                "not a non-empty string",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "canary-sk", "Expiration": "soon"}"#,
                "RFC 3339",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "canary-sk", "Expiration": "2001-01-01T00:00:00Z"}"#,
                "expired",
            ),
        ] {
            let e = parse_output(&s(bad), 1_000_000_000).expect_err(bad);
            assert_eq!(e.exit_code(), 77, "{bad}");
            assert!(e.what.contains(why), "{bad}: {}", e.what);
            assert!(!e.what.contains("canary"), "{}", e.what);
        }
    }
}
