//! The pipeline as values and functions: `Context` (what was loaded) → [`delivery`] (resolve →
//! plan → checks, nothing written) → publish (the caller, `deliver::file::publish`). No global
//! state: a live refresh (`app::refresh`) calls [`delivery`] again with the same context and what
//! the previous pass left ([`Carry`]), and compares the plans.

use std::borrow::Cow;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::deliver::{env as child_env, file};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::manifest::{Declared, Manifest};
use crate::plan;
use crate::process;
use crate::provenance::{Inputs, ProgramUser};
use crate::resolve::Sources;
use crate::resolve::{self, Resolution};
use crate::settings::Settings;
use crate::source::Carry;
use crate::source::Outputs;
use crate::sys;

/// Everything a command needs, loaded once.
pub(crate) struct Context {
    /// secret-init's own start-time environment, HOME included: every input (settings, sources,
    /// secret-init's own cloud credentials) comes from it, never from the program's side.
    pub env: Environ,
    /// The manifest.
    pub manifest: Manifest,
    /// Merged settings.
    pub settings: Settings,
    /// The program's HOME when it is not ours (`--user`): `Some(None)` for a user without one.
    pub program_home: Option<Option<PathBuf>>,
}

impl Context {
    /// The environment the program starts from: ours, with the `--user`'s HOME. Provider files
    /// are planned under its HOME and the program's environment is built from it; nothing
    /// secret-init reads for itself is looked up there.
    pub(crate) fn program_env(&self) -> Cow<'_, Environ> {
        match &self.program_home {
            None => Cow::Borrowed(&self.env),
            Some(home) => {
                let mut env = self.env.clone();
                match home {
                    Some(h) => env.set("HOME", h.as_os_str()),
                    None => env.remove("HOME"),
                }
                Cow::Owned(env)
            }
        }
    }
}

/// The files secret-init delivers: the providers' destinations (under the program's HOME) and
/// every file an earlier pass wrote. The sources never take their own credentials from them.
fn outputs(ctx: &Context, carry: &Carry) -> Outputs {
    Outputs::new(
        crate::provider::destinations(&ctx.manifest.providers, &ctx.program_env())
            .into_iter()
            .chain(carry.written.iter().cloned()),
    )
}

/// A `TRUSS_SECRET_` variable with nothing after the prefix names no secret: refuse it rather
/// than guess.
fn check_prefix_vars(ctx: &Context) -> Result<(), Error> {
    let prefix = ctx.settings.env_prefix.as_str();
    if ctx.env.get(prefix).is_some() {
        return Err(Error::new(
            Kind::Data,
            format!("env var {prefix} has an empty secret name after the prefix"),
        ));
    }
    Ok(())
}

/// The secrets that env references declare (`resolve_env_references`), beside the manifest's.
/// The caller keeps them for as long as the resolutions, which borrow their declarations.
pub(crate) fn env_declared(ctx: &Context) -> Vec<Declared> {
    super::env_refs::declared(&ctx.env, &ctx.settings, &ctx.manifest.secrets)
}

/// Where a pass ends, and so how much of it runs. Every command is the same pass: `get` stops
/// after resolving, `env` after a plan without provider files, `materialize` after the whole
/// plan, and `run`, a refresh and `check` after every check that precedes publishing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Resolve only (`get`).
    Resolve,
    /// The plan without provider files: no credentials file is read (`env`).
    Env,
    /// The whole plan (`materialize`).
    Plan,
    /// The whole plan and the program's environment, lookup and write policy (`run`, refresh,
    /// `check`).
    Deliver,
}

/// What a pass is for: its ending, and for [`Ending::Deliver`] the program and its user.
pub(crate) struct Target<'p> {
    /// Where the pass stops.
    pub ending: Ending,
    /// The ids the program runs as (`--user`).
    pub creds: Option<&'p sys::Credentials>,
    /// The program, looked up before anything is published (empty: none).
    pub program: &'p [OsString],
    /// Only this secret (`get`); `None`: every declared secret.
    pub only: Option<&'p crate::name::SecretName>,
    /// `check --offline`: the remote sources contacted nowhere, their values placeholders
    /// (`source::offline`); the local ones read as in a run.
    pub offline: bool,
}

/// One pass's result. Its rows (resolutions, provider files) are kept even when a later stage
/// failed, so `check` can show them; `delivery` holds exactly what the run would have: the
/// delivery, or the errors of the first stage that failed.
pub(crate) struct Pass<'a> {
    /// Every declared secret, resolved or not.
    pub resolutions: Vec<Resolution<'a>>,
    /// `(instance, role, path, written?)` for every provider file.
    pub provider_files: Vec<(String, String, std::path::PathBuf, bool)>,
    /// The delivery, or why the run would stop.
    pub delivery: Result<Delivery, Errors>,
    /// The secrets the fallback snapshot stood in for.
    pub stale: Vec<crate::fallback::Stale>,
}

/// The one pass: resolve → plan (secrets, providers, templates, dynamic secrets, injected
/// variables, `file_env`) → the checks before publishing, stopping at `target.ending`. Nothing is
/// written. `from_env`: see [`env_declared`]. `carry`: what an earlier pass left (a live refresh).
/// `Err` only when the sources cannot even be built (no row to show).
pub(crate) fn pass<'a>(
    ctx: &'a Context,
    from_env: &'a [Declared],
    carry: &mut Carry,
    target: &Target,
) -> Result<Pass<'a>, Errors> {
    check_prefix_vars(ctx)?;
    if target.ending == Ending::Deliver && !target.program.is_empty() {
        look_up_early(ctx, target.program)?;
    }
    let inputs = inputs(ctx, target.creds, carry);
    let outputs = outputs(ctx, carry);
    // The sources take what the carry keeps (a login, a URL's last answer) and hand it back
    // below, whatever the pass's outcome: no `?` between the two.
    let mut sources = Sources::build(
        &ctx.settings,
        &ctx.manifest,
        &ctx.env,
        &outputs,
        carry,
        &inputs,
        target.offline,
    )?;
    crate::fallback::refuse_key_references(
        &ctx.settings,
        ctx.manifest.secrets.iter().chain(from_env),
    )?;
    let declared = ctx
        .manifest
        .secrets
        .iter()
        .chain(from_env)
        .filter(|d| target.only.is_none_or(|n| d.name == *n));
    let (mut resolutions, mut errors) = resolve::resolve(declared, &mut sources);
    // A remote store that could not be asked: the snapshot stands in for its secrets, which are
    // then no longer problems (the errors are the rest, as `resolve` collected them).
    let stale = crate::fallback::stand_in(&ctx.settings, &ctx.manifest, &ctx.env, &mut resolutions);
    if !stale.is_empty() {
        errors = Errors(
            resolutions
                .iter()
                .filter_map(|r| r.problem.as_deref().cloned())
                .collect(),
        );
    }
    near_misses(ctx, from_env, &mut errors);
    // For a long-lived supervisor: the next pass (live refresh) rebuilds the sources and so
    // obtains new credentials; this says by when one is due.
    if let Some(t) = sources.credentials_expire_at() {
        crate::log::debug!(
            "temporary credentials in use expire at {}",
            crate::bundle::format::rfc3339(t)
        );
    }
    let mut provider_files = Vec::new();
    // What needs the sources: the plan of the resolved values, providers and templates, and the
    // sources' own injections and consumed files.
    let planned = errors.into_result().and_then(|()| {
        if target.ending == Ending::Resolve {
            return Ok(None);
        }
        let mut plan = plan::build(&resolutions, &ctx.settings)?;
        let with_files = target.ending != Ending::Env;
        let outcome = crate::provider::build(
            &ctx.manifest.providers,
            &resolutions,
            &ctx.program_env(),
            &ctx.settings,
            &mut plan,
            with_files,
        )?;
        provider_files = outcome.files;
        crate::template::add_to_plan(&mut plan, &ctx.manifest.templates, &resolutions)?;
        let injected = sources.injected_env()?;
        plan.consumed = sources.consumed_files();
        Ok(Some((plan, injected)))
    });
    // The vault's login comes back to `carry`: dropping the carry (a start without refresh,
    // once the program runs or the start failed) revokes what it issued; a refresh keeps it.
    sources.hand_back(carry);
    let delivery = planned.and_then(|planned| {
        let Some((mut plan, mut injected)) = planned else {
            return Ok(Delivery::default());
        };
        add_dynamic(ctx, carry, &mut plan, target.offline)?;
        injected.extend(crate::source::file::file_env(
            &ctx.settings.file_env,
            &ctx.env,
            ctx.settings.max_secret_bytes,
            &inputs,
        )?);
        plan::add_injected(&mut plan, injected, &ctx.settings)?;
        if ctx.settings.env_only {
            plan::env_only(&plan)?;
        }
        if target.ending != Ending::Deliver {
            return Ok(Delivery {
                plan,
                ..Delivery::default()
            });
        }
        let (env, opts) = before_publishing(ctx, &mut plan, target.creds, target.program)?;
        Ok(Delivery {
            plan,
            env,
            opts,
            ..Delivery::default()
        })
    });
    Ok(Pass {
        resolutions,
        provider_files,
        delivery,
        stale,
    })
}

/// A required secret not found while a `TRUSS_SECRET_*` variable that names no declared secret
/// is set under a near spelling (`TRUSS_SECRET_HF_ACCESS_TOKEN`, `TRUSS_SECRET_hf_acess_token`):
/// the error names that variable, which would otherwise be scrubbed in silence.
fn near_misses(ctx: &Context, from_env: &[Declared], errors: &mut Errors) {
    let prefix = ctx.settings.env_prefix.as_str();
    let declared = |n: &str| {
        ctx.manifest
            .secrets
            .iter()
            .chain(from_env)
            .any(|d| d.name.as_str() == n)
    };
    // (variable, the name after the prefix), the prefix matched in any case.
    let stray: Vec<(&str, &str)> = ctx
        .env
        .0
        .iter()
        .filter_map(|(k, _)| {
            let k = k.to_str()?;
            let head = k.get(..prefix.len())?;
            let name = &k[prefix.len()..];
            (head.eq_ignore_ascii_case(prefix) && !name.is_empty()).then_some((k, name))
        })
        .filter(|(k, name)| !(k.starts_with(prefix) && declared(name)))
        .collect();
    if stray.is_empty() {
        return;
    }
    for e in &mut errors.0 {
        let Some(name) = e.secret.as_deref().filter(|_| e.kind == Kind::Unavailable) else {
            continue;
        };
        // The same name under a wrong-case prefix, else the nearest name.
        let near = stray
            .iter()
            .any(|(_, n)| *n == name)
            .then_some(name)
            .or_else(|| crate::name::closest(name, stray.iter().map(|(_, n)| *n)));
        let Some((var, _)) = near.and_then(|near| stray.iter().find(|(_, n)| *n == near)) else {
            continue;
        };
        let hint = format!(
            " ({} is set but names no declared secret (names are case-sensitive): did you mean \
             {prefix}{name}?)",
            crate::log::escape_controls(var)
        );
        e.what.push_str(&hint);
    }
}

/// The program is looked up before anything is resolved, so a mistyped one (`secret-init chek`)
/// gets its 127 and the "did you mean" at once, not a missing secret's error first. Only an env
/// delivery can change the PATH the exec searches, and only with `allow_dangerous_env` (PATH is
/// on the deny list): then the lookup waits for the plan ([`before_publishing`]).
fn look_up_early(ctx: &Context, program: &[OsString]) -> Result<(), Error> {
    if ctx.settings.allow_dangerous_env {
        return Ok(());
    }
    let env = ctx.program_env();
    let path = child_env::inherited_value(
        &env,
        &ctx.settings.env_prefix,
        &ctx.settings.scrub_env,
        "PATH",
    );
    process::lookup::resolve(program, path).map(drop)
}

/// Which files may be inputs for a pass (`provenance`): the record of deliveries in the output
/// dir and what this process wrote (`carry`), the program's user under `--user`, and the
/// credential files secret-init consumes.
fn inputs(ctx: &Context, creds: Option<&sys::Credentials>, carry: &Carry) -> Inputs {
    Inputs::new(
        &ctx.settings.output_dir,
        &carry.written_ids,
        program_user(creds),
        credential_files(ctx),
    )
}

/// The program's user for the input rules: the `--user`, when it is not our own uid.
pub(crate) fn program_user(creds: Option<&sys::Credentials>) -> Option<ProgramUser> {
    let euid = nix::unistd::geteuid().as_raw();
    creds.filter(|c| c.uid != euid).map(|c| ProgramUser {
        uid: c.uid,
        groups: c.groups.iter().copied().chain([c.gid]).collect(),
    })
}

/// Every file secret-init reads a credential from, as configured: never a value for the
/// program, whatever path names it (`from: file:`, a secrets dir, `X_FILE`).
fn credential_files(ctx: &Context) -> Vec<(std::path::PathBuf, String)> {
    let mut out: Vec<(std::path::PathBuf, String)> = Vec::new();
    let mut add = |p: &std::path::Path, what: &str| out.push((p.to_path_buf(), what.to_string()));
    #[cfg(feature = "vault")]
    if let Some(v) = &ctx.settings.source.vault {
        use crate::source::vault::config::{Auth, Credential};
        match &v.auth {
            Auth::Token { file: Some(f) } => add(f, "the vault token_file"),
            Auth::Token { file: None } => {}
            Auth::AppRole {
                role_id, secret_id, ..
            } => {
                if let Credential::File(f) = role_id {
                    add(f, "the vault role_id_file");
                }
                if let Credential::File(f) = secret_id {
                    add(f, "the vault secret_id_file");
                }
            }
            Auth::Jwt { jwt_file, .. } => add(jwt_file, "the vault jwt_file"),
            Auth::Cert { client_key, .. } => add(client_key, "the vault client_key"),
            Auth::Userpass { password, .. } => {
                if let Credential::File(f) = password {
                    add(f, "the vault password_file");
                }
            }
        }
    }
    if let Some(f) = ctx
        .settings
        .source
        .bundle
        .as_ref()
        .and_then(|b| b.master_key_file.as_ref())
    {
        add(f, "the bundle master key file");
    }
    if let Some(crate::settings::KeyFrom::File(f)) = ctx.settings.fallback.as_ref().map(|f| &f.key)
    {
        add(f, "the fallback snapshot's key file");
    }
    if let Some(fb) = &ctx.settings.fallback {
        add(&fb.path, "the fallback snapshot");
    }
    if let Some(f) = ctx.env.get("SECRET_INIT_MASTER_KEY_FILE") {
        add(std::path::Path::new(f), "the bundle master key file");
    }
    // sops' age identities: SOPS_AGE_KEY_FILE, SOPS_AGE_SSH_PRIVATE_KEY_FILE and the default
    // keys file.
    for (var, what) in [
        (
            "SOPS_AGE_KEY_FILE",
            "the age identity file (SOPS_AGE_KEY_FILE)",
        ),
        (
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "the age ssh key (SOPS_AGE_SSH_PRIVATE_KEY_FILE)",
        ),
    ] {
        if let Some(f) = ctx.env.get(var).filter(|f| !f.is_empty()) {
            add(std::path::Path::new(f), what);
        }
    }
    let config_home = ctx
        .env
        .get("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            ctx.env
                .get("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| std::path::Path::new(h).join(".config"))
        });
    if let Some(dir) = config_home {
        add(&dir.join("sops/age/keys.txt"), "the age keys file");
    }
    // The cloud sources' credential and token files, wherever their variables or defaults
    // put them.
    for (var, what) in [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "the AWS web identity token"),
        ("AWS_SHARED_CREDENTIALS_FILE", "the AWS credentials file"),
        ("AWS_CONFIG_FILE", "the AWS config file"),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "the AWS container token",
        ),
        ("GOOGLE_APPLICATION_CREDENTIALS", "the GCP credentials file"),
        ("AZURE_FEDERATED_TOKEN_FILE", "the Azure federated token"),
        (
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "the Azure client certificate",
        ),
    ] {
        if let Some(p) = ctx.env.get(var).filter(|p| !p.is_empty()) {
            add(std::path::Path::new(p), what);
        }
    }
    if let Some(home) = ctx.env.get("HOME").filter(|h| !h.is_empty()) {
        let home = std::path::Path::new(home);
        for (rel, what) in [
            (".aws/credentials", "the AWS credentials file"),
            (".aws/config", "the AWS config file"),
            (
                ".config/gcloud/application_default_credentials.json",
                "the GCP credentials file",
            ),
        ] {
            add(&home.join(rel), what);
        }
    }
    out
}

/// Without the vault source there are no dynamic secrets.
#[cfg(not(feature = "vault"))]
fn add_dynamic(_: &Context, _: &mut Carry, _: &mut plan::Plan, _: bool) -> Result<(), Errors> {
    Ok(())
}

/// The vault's dynamic secrets (`secret_init.vault.dynamic`) join the plan: each one's fields
/// as files published in the same atomic set. A path already planned is a conflict. `offline`:
/// nothing is issued; each field is planned with a placeholder value.
#[cfg(feature = "vault")]
fn add_dynamic(
    ctx: &Context,
    carry: &mut Carry,
    plan: &mut plan::Plan,
    offline: bool,
) -> Result<(), Errors> {
    let Some(v) = ctx
        .settings
        .source
        .vault
        .as_ref()
        .filter(|v| !v.dynamic.is_empty())
    else {
        return Ok(());
    };
    let values = if offline {
        let placeholder = crate::secret::Secret::new(crate::source::offline::PLACEHOLDER.to_vec());
        v.dynamic
            .iter()
            .flat_map(|d| {
                d.fields
                    .iter()
                    .map(|(suffix, _)| (d.name.clone(), suffix.clone(), placeholder.clone()))
            })
            .collect()
    } else {
        carry.vault.dynamic_values(v, &ctx.env)?
    };
    let mut errors = Errors::default();
    for (name, suffix, content) in values {
        let f = plan::FileDelivery {
            path: ctx.settings.output_dir.join(format!("{name}.{suffix}")),
            secret: name,
            content,
            mode: 0o600,
            owner: None,
        };
        if let Some(other) = plan.files.iter().find(|p| p.path == f.path) {
            errors.push(
                Error::new(
                    Kind::Data,
                    format!(
                        "writes {} as secret \"{}\" does",
                        f.path.display(),
                        other.secret
                    ),
                )
                .with_source(format!("vault dynamic \"{}\"", f.secret)),
            );
            continue;
        }
        plan.origins.entry(f.secret.clone()).or_insert_with(|| {
            format!(
                "vault dynamic {}",
                v.dynamic
                    .iter()
                    .find(|d| d.name == f.secret)
                    .map_or("", |d| d.path.as_str())
            )
        });
        plan.values.push((f.secret.clone(), f.content.clone()));
        plan.files.push(f);
    }
    errors.into_result()
}

/// The pass for a run or a refresh: everything resolved and checked, the plan (files owned by
/// the `--user` unless a secret names its owner), the program's environment and the write policy.
/// A live refresh calls it again with the same context and what the previous pass left (`carry`).
pub(crate) fn delivery(
    ctx: &Context,
    creds: Option<&sys::Credentials>,
    carry: &mut Carry,
    program: &[OsString],
) -> Result<Delivery, Errors> {
    let from_env = env_declared(ctx);
    let target = Target {
        ending: Ending::Deliver,
        creds,
        program,
        only: None,
        offline: false,
    };
    let pass = pass(ctx, &from_env, carry, &target)?;
    let mut delivery = pass.delivery?;
    delivery.snapshot = crate::fallback::next(
        &ctx.settings,
        &ctx.manifest,
        &ctx.env,
        &pass.resolutions,
        &pass.stale,
    );
    delivery.stale = pass.stale;
    Ok(delivery)
}

/// The plan of a pass that ends at `ending` ([`Ending::Plan`] or [`Ending::Env`]), for the
/// development-machine commands. `carry` holds what the pass issued (dynamic secrets): revoked
/// when it drops, unless handed over once the plan is published (`materialize`).
pub(crate) fn plan_for(
    ctx: &Context,
    ending: Ending,
    carry: &mut Carry,
) -> Result<plan::Plan, Errors> {
    let from_env = env_declared(ctx);
    let target = Target {
        ending,
        creds: None,
        program: &[],
        only: None,
        offline: false,
    };
    Ok(pass(ctx, &from_env, carry, &target)?.delivery?.plan)
}

/// One pass's result, ready to publish: see [`pass`].
#[derive(Default)]
pub(crate) struct Delivery {
    /// What goes where.
    pub plan: plan::Plan,
    /// The program's whole environment.
    pub env: Vec<(OsString, OsString)>,
    /// The write policy for the publisher.
    pub opts: file::WriteOptions,
    /// The secrets the fallback snapshot stood in for (a run or a refresh).
    pub stale: Vec<crate::fallback::Stale>,
    /// The snapshot to write once published (a run or a refresh, with `secret_init.fallback`).
    pub snapshot: Option<crate::fallback::Next>,
}

/// Removes input files a login used up (`remove_secret_id_file`), once the start has got as far
/// as publishing: a start that failed earlier can be retried with them. Each parent is opened
/// without following a link and only a regular file is unlinked, so a link planted on the way
/// (a `--user` program owning the directory) cannot aim the removal elsewhere.
pub(crate) fn remove_consumed(paths: &[std::path::PathBuf]) {
    file::remove_files(paths, "consumed input");
}

/// The last steps before publishing, shared by a run and `check`: the files' owners, the
/// program's environment and its size, the program's lookup (when there is a program), and the
/// write policy.
fn before_publishing(
    ctx: &Context,
    plan: &mut plan::Plan,
    creds: Option<&sys::Credentials>,
    program: &[OsString],
) -> Result<(Vec<(OsString, OsString)>, file::WriteOptions), Error> {
    if let Some(c) = creds {
        // The program must be able to read its files: they are the --user's unless a secret
        // names its own owner.
        for f in &mut plan.files {
            f.owner.get_or_insert((c.uid, c.gid));
        }
    }
    let env = child_env::child_environment(
        &ctx.program_env(),
        &ctx.settings.env_prefix,
        &ctx.settings.scrub_env,
        &plan.env,
    );
    child_env::check_exec_size(program, &env)?;
    if !program.is_empty() && ctx.settings.allow_dangerous_env {
        // Found and runnable before anything is published: a typo gets 127 with nothing written.
        // Without `allow_dangerous_env` no delivery can change the PATH, and the pass looked the
        // program up before resolving ([`look_up_early`]); with it, the PATH is known only now.
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str());
        process::lookup::resolve(program, path)?;
    }
    let opts = file::WriteOptions {
        allow_shared_dir: ctx.settings.allow_shared_dir,
        trusted_uids: creds.iter().map(|c| c.uid).collect(),
        // Rebuilt on every start: see deliver::file on durability.
        durable: false,
        record: Some(ctx.settings.output_dir.clone()),
    };
    Ok((env, opts))
}
