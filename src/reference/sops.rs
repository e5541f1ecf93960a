//! `sops:FILE[#PATH]` and `age:FILE` references. `FILE` is absolute, or relative to the config
//! file's directory (the source resolves it). `PATH` walks the decrypted tree: keys separated by
//! `.`, `[N]` after a key for a list's element (`hosts[0].name`, `matrix[1][2]`); `\.`, `\[` and
//! `\\` stand for a dot, a bracket and a backslash inside a key (`tls\.crt`).

use std::fmt;
use std::path::PathBuf;

/// One step of a `#PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A map's key.
    Key(String),
    /// A list's element, from 0.
    Index(usize),
}

/// A parsed `sops:` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SopsRef {
    /// The file, as written.
    pub file: PathBuf,
    /// The path into the decrypted tree; `None`: the whole file.
    pub path: Option<Vec<Step>>,
    /// The path as written, for messages.
    raw_path: Option<String>,
}

/// A `FILE` of a `sops:` or `age:` reference: not empty, no NUL, no `..`, not a view of a process.
pub(crate) fn check_file(scheme: &str, file: &str) -> Result<PathBuf, String> {
    if file.is_empty() || file.contains('\0') {
        return Err(format!("invalid reference: {scheme}: needs a file"));
    }
    let path = PathBuf::from(file);
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "invalid reference: {scheme}: path must not contain \"..\""
        ));
    }
    if super::is_process_view(&path) {
        return Err(format!(
            "refused reference {scheme}:{file}: /proc (and /dev/fd, /dev/std*) show secret-init's own memory and environment"
        ));
    }
    Ok(path)
}

/// Parses `PATH`.
pub fn parse_path(s: &str) -> Result<Vec<Step>, String> {
    let bad = |why: &str| format!("invalid reference: sops path \"{s}\": {why}");
    let mut steps = Vec::new();
    let mut key = String::new();
    let mut key_open = true;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('.' | '[' | ']' | '\\')) if key_open => key.push(e),
                _ => return Err(bad("a backslash escapes only . [ ] and \\")),
            },
            '.' => {
                if key_open {
                    if key.is_empty() {
                        return Err(bad("an empty key"));
                    }
                    steps.push(Step::Key(std::mem::take(&mut key)));
                }
                key_open = true;
            }
            '[' => {
                if key_open {
                    if key.is_empty() {
                        return Err(bad("an index needs a key before it"));
                    }
                    steps.push(Step::Key(std::mem::take(&mut key)));
                    key_open = false;
                }
                let mut digits = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    digits.push(d);
                }
                let n = digits
                    .parse::<usize>()
                    .ok()
                    .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad("[N] takes a number"))?;
                steps.push(Step::Index(n));
                if !matches!(chars.peek(), None | Some('.' | '[')) {
                    return Err(bad("after [N] comes . or ["));
                }
            }
            c if key_open => key.push(c),
            _ => return Err(bad("after [N] comes . or [")),
        }
    }
    if key_open {
        if key.is_empty() {
            return Err(bad("an empty key"));
        }
        steps.push(Step::Key(key));
    }
    Ok(steps)
}

impl SopsRef {
    /// Parses what follows `sops:`.
    pub fn parse(rest: &str) -> Result<SopsRef, String> {
        let (file, path) = match rest.split_once('#') {
            Some((f, p)) => (f, Some(p)),
            None => (rest, None),
        };
        let file = check_file("sops", file)?;
        let steps = path.map(parse_path).transpose()?;
        Ok(SopsRef {
            file,
            path: steps,
            raw_path: path.map(str::to_string),
        })
    }
}

impl fmt::Display for SopsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sops:{}", self.file.display())?;
        if let Some(p) = &self.raw_path {
            write!(f, "#{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        use Step::{Index, Key};
        let k = |s: &str| Key(s.into());
        assert_eq!(parse_path("db.password"), Ok(vec![k("db"), k("password")]));
        assert_eq!(
            parse_path("hosts[0].name"),
            Ok(vec![k("hosts"), Index(0), k("name")])
        );
        assert_eq!(parse_path("m[1][2]"), Ok(vec![k("m"), Index(1), Index(2)]));
        assert_eq!(parse_path(r"tls\.crt"), Ok(vec![k("tls.crt")]));
        assert_eq!(parse_path(r"a\[0\]\\"), Ok(vec![k(r"a[0]\")]));
        for bad in [
            "", "a..b", ".a", "a.", "[0]", "a[x]", "a[0]b", r"a\n", "a[-1]",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
        let r = SopsRef::parse("secrets/app.yaml#db.password").expect("ref");
        assert_eq!(r.to_string(), "sops:secrets/app.yaml#db.password");
        assert!(SopsRef::parse("../x.yaml").is_err());
        assert!(SopsRef::parse("/proc/self/environ").is_err());
        assert!(SopsRef::parse("#a").is_err());
    }
}
