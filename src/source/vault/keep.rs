//! What a live refresh keeps of the vault between passes (docs/vault.md, "Tokens, leases and
//! dynamic secrets"): the logged-in client and its token, kept alive, and the dynamic secrets
//! issued, re-issued before they expire.
//!
//! - **The token.** Renewed (`renew-self`) at two thirds of its TTL; when the renewal is refused
//!   or the max TTL caps it, logged in again with the same method at two thirds of what is left.
//!   A re-login that fails keeps the old token while it lasts, retries with a backoff, and the
//!   status file says so. A user-supplied token is renewed only if renewable, never revoked.
//! - **Dynamic secrets.** One request (`pki/issue/web`, `database/creds/app`) whose response's
//!   fields are delivered together, in the same atomic set. Re-issued at two thirds of the
//!   `lease_duration`, or of the payload's own expiry (PKI's `data.expiration`) when there is no
//!   lease; a renewable lease is renewed instead until its max TTL caps it.
//! - **At exit** (the keep dropped): the leases are revoked, then our token. Without a refresh
//!   nothing is kept: once the program is about to start the dynamic secrets are its own
//!   ([`Keep::hand_over`]), and a run that issued them does not revoke its token (that would
//!   revoke their leases under the program): they expire with their TTLs. Until then, and on
//!   every path where the program never starts (a failed plan, publish or lookup, `check`,
//!   `env`), dropping the keep revokes the leases and our token: nothing is issued for a
//!   program that never runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::client::{TokenLease, Vault, answer};
use super::config::{Dynamic, VaultSettings};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::order::CollectOrdered;
use crate::secret::Secret;

/// Two thirds of `secs`, when renewals and re-issues are due.
fn two_thirds(secs: u64) -> Duration {
    Duration::from_millis(secs * 2000 / 3)
}

/// When our token is to be renewed or replaced.
#[derive(Debug, Default)]
struct Clock {
    /// The TTL asked for at each renewal (the login's).
    ttl: u64,
    renewable: bool,
    /// The max TTL cut the last renewal short: the next step is a re-login.
    capped: bool,
    next: Option<Instant>,
    expires: Option<SystemTime>,
}

impl Clock {
    fn of(lease: Option<TokenLease>, now: Instant) -> Clock {
        match lease {
            Some(l) if l.ttl > 0 => Clock {
                ttl: l.increment.max(l.ttl),
                renewable: l.renewable,
                capped: false,
                next: Some(now + two_thirds(l.ttl)),
                expires: Some(SystemTime::now() + Duration::from_secs(l.ttl)),
            },
            // No TTL (a root or periodic-less token that never expires), or unknown.
            _ => Clock::default(),
        }
    }
}

/// One dynamic secret as last issued.
struct Issued {
    /// File suffix → value, in the configured order.
    values: Vec<(String, Secret)>,
    lease_id: Option<String>,
    /// The lease duration asked for at each renewal (the first answer's).
    lease: u64,
    renewable: bool,
    /// When to renew the lease (renewable leases only).
    renew_at: Option<Instant>,
    /// When to issue it anew.
    reissue_at: Option<Instant>,
    /// The refresher has been told the re-issue is due (told once per due time).
    told: bool,
    /// For the status file: when the values stop being valid.
    expires: Option<SystemTime>,
}

/// See the module docs.
#[derive(Default)]
pub struct Keep {
    /// Kept between passes (a live refresh); otherwise dropped with the pass.
    live: bool,
    /// What was issued is the program's now (it is about to start): not revoked at drop.
    handed_over: bool,
    client: Option<Vault>,
    clock: Clock,
    issued: BTreeMap<String, Issued>,
    /// The last renewal or re-login failure, for the status file.
    auth_error: Option<String>,
    auth_failures: u32,
    /// The login method to log in again with.
    settings: Option<VaultSettings>,
    env: Option<Environ>,
}

impl Keep {
    /// A keep for a live refresh: what it holds outlives each pass.
    pub fn live() -> Keep {
        let mut k = Keep::default();
        k.live = true;
        k
    }

    /// The logged-in client, logging in on first use (with `settings`' method).
    pub fn client(&mut self, settings: &VaultSettings, env: &Environ) -> Result<&mut Vault, Error> {
        if self.client.is_none() {
            crate::log::debug!(
                "vault: connecting to {} ({} paths, auth {})",
                // Never userinfo or query: an address may carry credentials.
                crate::url::redact_url(&settings.address),
                settings.paths.len(),
                super::auth_name(&settings.auth)
            );
            for var in ["VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"] {
                if env.get(var).is_some_and(|v| !v.is_empty()) {
                    crate::log::warn!(
                        "{var} is ignored: secret-init always verifies TLS (set ca_cert instead)"
                    );
                }
            }
            let mut v = Vault::new(settings, env);
            v.login(&settings.auth, env)?;
            if self.live && v.lease.is_none() {
                // A user-supplied token: its TTL and renewability are learnt once.
                if let Err(e) = v.lookup_self() {
                    crate::log::debug!(
                        "vault: cannot look up the token ({}); it is not renewed",
                        e.what
                    );
                }
            }
            self.clock = Clock::of(v.lease, Instant::now());
            if self.live {
                self.settings = Some(settings.clone());
                self.env = Some(env.clone());
                log_clock("token", &self.clock);
            }
            self.client = Some(v);
        }
        match self.client.as_mut() {
            Some(v) => Ok(v),
            None => Err(Error::new(Kind::Unavailable, "vault client missing")),
        }
    }

    /// The program is about to start (or `materialize` has published): the dynamic secrets
    /// issued are its own and outlive the keep (their leases with our token, which is then not
    /// revoked). Without dynamic secrets the token is revoked at drop as always.
    pub fn hand_over(&mut self) {
        self.handed_over = true;
    }

    /// Before an exec: our token is revoked now unless dynamic secrets were issued under it.
    /// With them the keep stays as it is, so a failed exec (the only way back) still revokes
    /// them at drop; a successful one leaves them to the program.
    pub fn before_exec(&mut self) {
        if self.issued.is_empty() {
            self.client = None;
        }
    }

    /// A new pass (or a renewal) begins: the kept client's requests get a whole deadline again.
    pub fn new_pass(&mut self) {
        if let Some(v) = self.client.as_mut() {
            v.restart_deadline();
        }
    }

    /// The client, if logged in.
    pub fn logged_in(&mut self) -> Option<&mut Vault> {
        self.client.as_mut()
    }

    /// The dynamic secrets' values, each as (name, file suffix, value), issuing those not issued
    /// yet or due for a re-issue; the rest are the values issued before. The caller makes them
    /// files (`<output_dir>/<name>.<suffix>`, app/pipeline.rs).
    pub fn dynamic_values(
        &mut self,
        settings: &VaultSettings,
        env: &Environ,
    ) -> Result<Vec<(String, String, Secret)>, Errors> {
        let now = Instant::now();
        let mut errors = Errors::default();
        for d in &settings.dynamic {
            let fresh = self
                .issued
                .get(&d.name)
                .is_some_and(|i| i.reissue_at.is_none_or(|at| now < at));
            if fresh {
                continue;
            }
            match self.issue(d, settings, env) {
                Ok(i) => {
                    self.issued.insert(d.name.clone(), i);
                }
                Err(e) => errors.push(e),
            }
        }
        errors.into_result()?;
        let mut out = Vec::new();
        for d in &settings.dynamic {
            let Some(i) = self.issued.get(&d.name) else {
                continue;
            };
            for (suffix, value) in &i.values {
                out.push((d.name.clone(), suffix.clone(), value.clone()));
            }
        }
        Ok(out)
    }

    fn issue(
        &mut self,
        d: &Dynamic,
        settings: &VaultSettings,
        env: &Environ,
    ) -> Result<Issued, Error> {
        let src = format!("vault dynamic \"{}\" ({})", d.name, d.path);
        let body = d.post.then(|| {
            let values: Vec<(String, Secret)> = d
                .data
                .iter()
                .map(|(k, v)| (k.clone(), Secret::new(v.as_bytes().to_vec())))
                .collect();
            let refs: Vec<(&str, &Secret)> = values.iter().map(|(k, v)| (k.as_str(), v)).collect();
            super::client::json_body(&refs)
        });
        let v = self.client(settings, env)?;
        let r = v.call(&d.path, body.as_ref(), &src)?;
        let Value::Object(mut top) = answer(r.status, &r.body, &src)? else {
            return Err(
                Error::new(Kind::Unavailable, "answer is not a JSON object").with_source(src)
            );
        };
        let Some(Value::Object(mut data)) = top.remove("data") else {
            return Err(Error::new(Kind::Unavailable, "answer has no data object").with_source(src));
        };
        let mut values = Vec::new();
        for (suffix, field) in &d.fields {
            let bytes = match data.remove(field) {
                Some(Value::String(s)) => s.into_bytes(),
                Some(Value::Null) | None => {
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!(
                            "the answer has no field \"{}\" (for {}.{suffix})",
                            crate::log::escape_controls(field),
                            d.name
                        ),
                    )
                    .with_source(src));
                }
                // issuing_ca chains and the like: arrays of PEM blocks, one per line.
                Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes(),
                Some(other) => other.to_string().into_bytes(),
            };
            values.push((suffix.clone(), Secret::new(bytes)));
        }
        let now = Instant::now();
        let lease = top
            .get("lease_duration")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let lease_id = top
            .get("lease_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let renewable = top.get("renewable").and_then(Value::as_bool) == Some(true);
        let unix_now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // No lease: the payload's own expiry (PKI's data.expiration, Unix seconds).
        let life = if lease > 0 {
            Some(lease)
        } else {
            data.get("expiration")
                .and_then(Value::as_u64)
                .map(|e| e.saturating_sub(unix_now))
        };
        let issued = Issued {
            values,
            lease_id,
            lease,
            renewable: renewable && lease > 0,
            renew_at: (renewable && lease > 0).then(|| now + two_thirds(lease)),
            reissue_at: match life {
                Some(secs) if !(renewable && lease > 0) => Some(now + two_thirds(secs.max(1))),
                _ => None,
            },
            told: false,
            expires: life.map(|s| SystemTime::now() + Duration::from_secs(s)),
        };
        crate::log::info!(
            "vault: issued dynamic secret \"{}\" ({}): {} field(s){}",
            d.name,
            d.path,
            d.fields.len(),
            match (life, issued.renewable) {
                (Some(s), true) => format!(", lease {s}s, renewed at 2/3"),
                (Some(s), false) => format!(
                    ", valid {s}s, re-issued in {:.1}s",
                    two_thirds(s).as_secs_f64()
                ),
                (None, _) => ", no expiry".into(),
            }
        );
        Ok(issued)
    }

    /// When [`Keep::tick`] has something to do next (a renewal, a re-login, a re-issue to
    /// announce); `None` when nothing ever will. Mirrors `tick`'s conditions, so that a due time
    /// in the past is always acted on (and moved on) by the next `tick`.
    pub fn next_due(&self) -> Option<Instant> {
        if !self.live || self.client.is_none() {
            return None;
        }
        let token = self
            .clock
            .next
            .filter(|_| self.settings.is_some() && self.env.is_some());
        let issued = self
            .issued
            .values()
            .flat_map(|i| [i.renew_at, i.reissue_at.filter(|_| !i.told)]);
        std::iter::once(token).chain(issued).flatten().min()
    }

    /// Renews what is due (the token, renewable leases); true when a dynamic secret is due for a
    /// re-issue, once per due time: the refresher then runs a pass at once.
    pub fn tick(&mut self, now: Instant) -> bool {
        if !self.live || self.client.is_none() {
            return false;
        }
        if self.clock.next.is_some_and(|at| now >= at) {
            self.new_pass();
            self.keep_token(now);
        }
        let mut reissue = false;
        let names: Vec<String> = self.issued.keys().cloned().collect();
        for name in names {
            let renew = self
                .issued
                .get(&name)
                .is_some_and(|i| i.renew_at.is_some_and(|at| now >= at));
            if renew {
                self.new_pass();
                self.renew_lease(&name, now);
            }
            if let Some(i) = self.issued.get_mut(&name)
                && i.reissue_at.is_some_and(|at| now >= at)
                && !i.told
            {
                i.told = true;
                crate::log::info!("vault: dynamic secret \"{name}\" is due for a re-issue");
                reissue = true;
            }
        }
        reissue
    }

    fn renew_lease(&mut self, name: &str, now: Instant) {
        let (Some(client), Some(i)) = (self.client.as_mut(), self.issued.get_mut(name)) else {
            return;
        };
        let Some(id) = i.lease_id.clone() else {
            i.renew_at = None;
            return;
        };
        let src = format!("vault dynamic \"{name}\" lease");
        match client.renew_lease(&id, i.lease, &src) {
            Ok(d) if d + 1 >= i.lease => {
                crate::log::info!("vault: dynamic secret \"{name}\": lease renewed for {d}s");
                i.renew_at = Some(now + two_thirds(d));
                i.expires = Some(SystemTime::now() + Duration::from_secs(d));
            }
            Ok(d) => {
                crate::log::info!(
                    "vault: dynamic secret \"{name}\": the max TTL caps the lease at {d}s; \
                     re-issued in {:.1}s",
                    two_thirds(d).as_secs_f64()
                );
                i.renew_at = None;
                i.reissue_at = Some(now + two_thirds(d));
                i.expires = Some(SystemTime::now() + Duration::from_secs(d));
            }
            Err(e) => {
                crate::log::warn!("{e}; issuing it anew");
                i.renew_at = None;
                i.reissue_at = Some(now);
            }
        }
    }

    /// Renews the token, or logs in again; on failure keeps the old one and retries.
    fn keep_token(&mut self, now: Instant) {
        let (Some(client), Some(settings), Some(env)) = (
            self.client.as_mut(),
            self.settings.as_ref(),
            self.env.as_ref(),
        ) else {
            return;
        };
        if self.clock.renewable && !self.clock.capped {
            match client.renew_self(self.clock.ttl) {
                Ok(l) => {
                    let asked = self.clock.ttl;
                    // Less than 90% of what was asked: the max TTL cut it short.
                    let capped = l.ttl * 10 < asked * 9;
                    self.clock.renewable = l.renewable;
                    self.clock.capped = capped || !l.renewable;
                    self.clock.next = Some(now + two_thirds(l.ttl.max(1)));
                    self.clock.expires = Some(SystemTime::now() + Duration::from_secs(l.ttl));
                    self.auth_error = None;
                    self.auth_failures = 0;
                    crate::log::info!(
                        "vault: token renewed for {}s{}",
                        l.ttl,
                        if capped {
                            "; its max TTL is near: the next step is a new login"
                        } else {
                            ""
                        }
                    );
                    return;
                }
                Err(e) => crate::log::warn!("vault: token renewal failed: {e}"),
            }
        }
        if !client.owns_token() {
            // A user-supplied token is not ours to replace: it lives out its TTL.
            if self.clock.renewable && !self.clock.capped {
                self.clock.next = Some(now + Duration::from_secs(5));
            } else {
                crate::log::warn!(
                    "vault: the configured token cannot be renewed; it expires with its TTL"
                );
                self.clock.next = None;
            }
            return;
        }
        match client.relogin(&settings.auth, env) {
            Ok(()) => {
                self.clock = Clock::of(client.lease, now);
                self.auth_error = None;
                self.auth_failures = 0;
                crate::log::info!(
                    "vault: logged in again ({}); token TTL {}s",
                    super::auth_name(&settings.auth),
                    self.clock.ttl
                );
            }
            Err(e) => {
                self.auth_failures += 1;
                let line = format!("{e}");
                crate::log::error!(
                    "vault: logging in again failed, the program keeps the last good set: {line}"
                );
                self.auth_error = Some(format!("logging in again failed: {line}"));
                let left = self
                    .clock
                    .expires
                    .and_then(|t| t.duration_since(SystemTime::now()).ok())
                    .unwrap_or_default();
                let backoff = Duration::from_secs(1 << self.auth_failures.min(6));
                self.clock.next = Some(now + backoff.min(left / 2).max(Duration::from_secs(1)));
            }
        }
    }

    /// For the status file: the token's state and each dynamic secret's expiry.
    pub fn status(&self) -> Value {
        let unix = |t: Option<SystemTime>| {
            t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(Value::Null, |d| serde_json::json!(d.as_secs()))
        };
        let dynamic: serde_json::Map<String, Value> = self
            .issued
            .iter()
            .map(|(k, i)| {
                (
                    k.clone(),
                    serde_json::json!({"expires": unix(i.expires), "lease": i.lease_id.is_some()}),
                )
            })
            .collect_ordered();
        serde_json::json!({
            "token": {
                "state": if self.auth_error.is_some() { "error" } else { "ok" },
                "error": self.auth_error,
                "expires": unix(self.clock.expires),
                "renewable": self.clock.renewable,
            },
            "dynamic": dynamic,
        })
    }
}

fn log_clock(what: &str, c: &Clock) {
    match c.next {
        Some(at) => crate::log::info!(
            "vault: {what} TTL {}s{}; next renewal in {:.1}s",
            c.ttl,
            if c.renewable { "" } else { " (not renewable)" },
            at.saturating_duration_since(Instant::now()).as_secs_f64()
        ),
        None => crate::log::debug!("vault: {what} has no TTL to renew"),
    }
}

impl Drop for Keep {
    fn drop(&mut self) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        if self.live || !self.handed_over {
            for (name, i) in &self.issued {
                if let Some(id) = &i.lease_id {
                    client.revoke_lease(id, &format!("vault dynamic \"{name}\""));
                }
            }
        } else if !self.issued.is_empty() {
            // Revoking the token would revoke the leases under the program.
            client.disown();
        }
        // The client's own drop revokes our token.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_come_at_two_thirds_and_ask_for_the_tokens_own_ttl() {
        assert_eq!(two_thirds(3), Duration::from_secs(2));
        assert_eq!(two_thirds(3600), Duration::from_secs(2400));
        let now = Instant::now();
        // A user token looked up 1 s after its creation: 2 s left of a 3 s TTL.
        let c = Clock::of(
            Some(TokenLease {
                ttl: 2,
                renewable: true,
                increment: 3,
            }),
            now,
        );
        assert_eq!(c.ttl, 3, "renewals ask for the token's own TTL");
        assert_eq!(c.next, Some(now + two_thirds(2)), "at 2/3 of what is left");
        // A token that never expires (root) is never renewed; nor one of unknown TTL.
        let root = TokenLease {
            ttl: 0,
            renewable: false,
            increment: 0,
        };
        assert_eq!(Clock::of(Some(root), now).next, None);
        assert_eq!(Clock::of(None, now).next, None);
    }

    #[test]
    fn a_keep_without_refresh_keeps_nothing_alive() {
        let k = Keep::default();
        assert!(!k.live);
        let mut k = k;
        assert!(!k.tick(Instant::now()), "nothing to renew or re-issue");
        assert_eq!(k.status()["token"]["state"], "ok");
    }
}
