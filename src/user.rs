//! `--user UID[:GID]` or `NAME[:GROUP]`: the ids the program runs as, read from the image's own
//! `/etc/passwd` and `/etc/group`, never through NSS (a static binary has none, and the image's
//! files are what `docker run --user` reads too).
//!
//! Rules, after runc's `GetExecUser` with one deliberate difference:
//! - `NAME` must be in /etc/passwd; its uid and primary gid are used.
//! - A numeric `UID` uses the passwd entry when there is one; otherwise the gid is the same number
//!   (Docker would use gid 0, the root group; a secret shim should not hand that out by default).
//! - `:GROUP` (a name from /etc/group, or a number) overrides the primary gid.
//! - Supplementary groups: the primary gid plus every group in /etc/group that lists the user's
//!   name as a member.

use std::path::Path;

use crate::error::{Error, Kind};
use crate::sys::Credentials;

/// `(uid_t)-1`: the id the kernel's set*id calls and `fchown` read as "unchanged".
const NO_CHANGE: u32 = u32::MAX;

/// The largest /etc/passwd or /etc/group read.
const MAX_DB_BYTES: u64 = 4 * 1024 * 1024;

/// One /etc/passwd entry (the fields we use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory, when the entry names one.
    pub home: Option<String>,
}

/// One /etc/group entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Member login names.
    pub members: Vec<String>,
}

/// The records of a colon-separated database (/etc/passwd, /etc/group) with at least `fields`
/// fields and a name: blank lines, comments and NIS markers skipped.
fn records(text: &str, fields: usize) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(['+', '-']))
        .map(|l| l.split(':').collect::<Vec<&str>>())
        .filter(move |f| f.len() >= fields && !f[0].is_empty())
}

/// Parses /etc/passwd; lines that are blank, comments, NIS markers or malformed are skipped.
pub(crate) fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    records(text, 4)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f
                    .get(5)
                    .filter(|h| h.starts_with('/'))
                    .map(|h| h.to_string()),
            })
        })
        .collect()
}

/// Parses /etc/group, skipping lines as [`parse_passwd`] does.
pub(crate) fn parse_group(text: &str) -> Vec<GroupEntry> {
    records(text, 3)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn refused(spec: &str, why: impl std::fmt::Display) -> Error {
    Error::new(Kind::Config, format!("--user {spec}: {why}"))
}

/// Resolves `spec` against parsed passwd and group entries.
pub(crate) fn resolve_with(
    spec: &str,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<Credentials, Error> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(refused(spec, "expected UID[:GID] or NAME[:GROUP]"));
    }
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|e| e.uid == uid).cloned(),
        Err(_) => Some(
            passwd
                .iter()
                .find(|e| e.name == user)
                .cloned()
                .ok_or_else(|| refused(spec, format!("no user \"{user}\" in /etc/passwd")))?,
        ),
    };
    let uid = match (&entry, user.parse::<u32>()) {
        (Some(e), _) => e.uid,
        (None, Ok(uid)) => uid,
        // A name always found an entry above.
        (None, Err(_)) => return Err(refused(spec, "no such user")),
    };
    let gid = match group {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                groups
                    .iter()
                    .find(|e| e.name == g)
                    .ok_or_else(|| refused(spec, format!("no group \"{g}\" in /etc/group")))?
                    .gid
            }
        },
        None => entry.as_ref().map_or(uid, |e| e.gid),
    };
    // setresuid, setresgid and fchown read (uid_t)-1 as "leave this id unchanged": asking for it
    // would keep root and still pass --no-root's check of the requested id.
    if uid == NO_CHANGE || gid == NO_CHANGE {
        return Err(refused(
            spec,
            "id 4294967295 is (uid_t)-1, which the kernel reads as \"no change\"",
        ));
    }
    let mut supplementary = vec![gid];
    if let Some(e) = &entry {
        for g in groups {
            if g.members.contains(&e.name) && !supplementary.contains(&g.gid) {
                supplementary.push(g.gid);
            }
        }
    }
    Ok(Credentials {
        uid,
        gid,
        groups: supplementary,
        home: entry.and_then(|e| e.home).map(std::path::PathBuf::from),
    })
}

fn read_db(path: &Path) -> Result<String, Error> {
    let buf = match crate::fsx::read_file(path, MAX_DB_BYTES) {
        Ok(Some(buf)) => buf,
        // An image without the file (scratch, distroless) still supports numeric ids.
        Ok(None) => return Ok(String::new()),
        Err(e) => {
            return Err(Error::new(
                Kind::Config,
                format!("{}: {}", path.display(), e.text()),
            ));
        }
    };
    let buf = buf.expose();
    Ok(String::from_utf8_lossy(buf).into_owned())
}

/// Resolves `spec` against this system's /etc/passwd and /etc/group.
pub(crate) fn resolve(spec: &str) -> Result<Credentials, Error> {
    let passwd = parse_passwd(&read_db(Path::new("/etc/passwd"))?);
    let groups = parse_group(&read_db(Path::new("/etc/group"))?);
    resolve_with(spec, &passwd, &groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n# comment\n\n+nis\nbroken line\n\
                          app:x:1000:1000::/home/app:/bin/sh\nsvc:x:999:50::/:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:app\napp:x:1000:\nvideo:x:44:app, svc\naudio:x:29\n";

    /// Resolution without the home directory, which `homes` checks on its own.
    fn r(spec: &str) -> Result<Credentials, Error> {
        resolve_with(spec, &parse_passwd(PASSWD), &parse_group(GROUP)).map(|mut c| {
            c.home = None;
            c
        })
    }

    fn c(uid: u32, gid: u32, groups: &[u32]) -> Credentials {
        Credentials {
            uid,
            gid,
            groups: groups.to_vec(),
            home: None,
        }
    }

    #[test]
    fn homes() {
        let home = |spec: &str| {
            resolve_with(spec, &parse_passwd(PASSWD), &parse_group(GROUP))
                .expect(spec)
                .home
        };
        assert_eq!(home("app"), Some("/home/app".into()));
        assert_eq!(home("1000:50"), Some("/home/app".into()));
        assert_eq!(home("svc"), Some("/".into()));
        assert_eq!(home("4242"), None, "no passwd entry: no HOME");
    }

    #[test]
    fn parsing_skips_junk() {
        let p = parse_passwd(PASSWD);
        assert_eq!(
            p.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["root", "app", "svc"]
        );
        let g = parse_group(GROUP);
        assert_eq!(g.len(), 5);
        assert_eq!(g[3].members, ["app", "svc"]);
        assert!(g[4].members.is_empty());
    }

    #[test]
    fn resolution_table() {
        assert_eq!(r("app").expect("app"), c(1000, 1000, &[1000, 50, 44]));
        assert_eq!(r("1000").expect("1000"), c(1000, 1000, &[1000, 50, 44]));
        assert_eq!(r("svc").expect("svc"), c(999, 50, &[50, 44]));
        assert_eq!(r("app:video").expect("app:video"), c(1000, 44, &[44, 50]));
        assert_eq!(r("app:7").expect("app:7"), c(1000, 7, &[7, 50, 44]));
        // Not in /etc/passwd: the gid is the same number, no supplementary groups.
        assert_eq!(r("4242").expect("4242"), c(4242, 4242, &[4242]));
        assert_eq!(r("4242:4243").expect("4242:4243"), c(4242, 4243, &[4243]));
        assert_eq!(r("0").expect("0"), c(0, 0, &[0]));
    }

    /// Ids the kernel reads as "no change": taken as given, they would run the program as root.
    const NO_CHANGE_SPECS: [&str; 3] = ["4294967295", "app:4294967295", "4242:4294967295"];

    #[test]
    fn refusals() {
        for bad in ["nobody", "app:nogroup", "", ":1", "app:", "4242:nogroup"]
            .into_iter()
            .chain(NO_CHANGE_SPECS)
        {
            let e = r(bad).expect_err(bad);
            assert_eq!(e.exit_code(), 78, "{bad}: {e}");
        }
    }
}
