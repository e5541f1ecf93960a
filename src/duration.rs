//! The one duration grammar of every setting: a decimal number and an optional unit, `ms`, `s`,
//! `m` or `h` (no unit: seconds): `250ms`, `1.5s`, `5m`, `0.01h`. No sign, no exponent, no
//! `inf`. The grammar is the same everywhere; each setting states its own bounds (a refresh
//! interval up to a week, a request timeout up to an hour) and says them in its message.

use std::time::Duration;

/// Parses `t` in the grammar above; `None` when it is not a duration or is longer than `max`.
pub(crate) fn parse(t: &str, max: Duration) -> Option<Duration> {
    let t = t.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.matches('.').count() > 1 || num == "." {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim_start() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs <= max.as_secs_f64()).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Duration = Duration::from_secs(604_800);

    #[test]
    fn one_grammar() {
        for (text, want) in [
            ("250ms", Duration::from_millis(250)),
            ("5s", Duration::from_secs(5)),
            ("1.5s", Duration::from_millis(1500)),
            ("30", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("2h", Duration::from_secs(7200)),
            ("0.01h", Duration::from_secs(36)),
            (" 5 s ", Duration::from_secs(5)),
            ("0", Duration::ZERO),
        ] {
            assert_eq!(parse(text, WEEK), Some(want), "{text}");
        }
        for bad in [
            "",
            "soon",
            "5 minutes",
            "-1s",
            "+1s",
            "1e3",
            "inf",
            "NaN",
            ".",
            "1.2.3",
            "5d",
            "169h",
        ] {
            assert_eq!(parse(bad, WEEK), None, "{bad}");
        }
        assert_eq!(parse("61m", Duration::from_secs(3600)), None);
        assert_eq!(
            parse("1h", Duration::from_secs(3600)),
            Some(Duration::from_secs(3600))
        );
    }
}
