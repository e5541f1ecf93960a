//! The commands: `run` (the default), `check`, `get`, and the development-machine commands
//! `providers`, `materialize`, `clean` and `env` (app/materialize.rs).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::cli::{self, Command};
use crate::deliver::{env as child_env, file};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::manifest;
use crate::name::SecretName;
use crate::process::{self, supervise};
use crate::settings::{self, InitMode, ProcessSettings, ReportFormat, Settings};
use crate::source::Carry;
use crate::sys;

pub(crate) mod bundle;
mod env_refs;
pub(crate) mod materialize;
pub(crate) mod observe;
pub(crate) mod pipeline;
pub(crate) mod refresh;
mod report;
mod snapshot;
mod status;
mod version;

pub(crate) use pipeline::{Context, Delivery, delivery, remove_consumed};
use pipeline::{Ending, Pass, Target, env_declared, pass, plan_for};
pub(crate) use report::columns;
use report::{Row, table};

/// Parses argv, loads the manifest and settings, and runs the command; its errors one line per
/// cause.
pub(crate) fn dispatch(
    args: impl IntoIterator<Item = OsString>,
    start: &sys::StartState,
) -> Result<u8, Errors> {
    command(args, start).map_err(Errors::grouped)
}

fn command(
    args: impl IntoIterator<Item = OsString>,
    start: &sys::StartState,
) -> Result<u8, Errors> {
    let inv = cli::parse(args)?;
    let options_given = inv.any_given();
    match inv.command {
        Command::Help(name) => {
            let text = name.and_then(cli::command_help).unwrap_or_else(cli::help);
            print_stdout(text.as_bytes());
            return Ok(0);
        }
        Command::Version => {
            let json = match inv.values(cli::Opt::Format).last().map(|v| v.to_str()) {
                None | Some(Some("table" | "text")) => false,
                Some(Some("json")) => true,
                Some(_) => {
                    return Err(Error::new(
                        Kind::Usage,
                        "--format: expected table or json (see secret-init --help)",
                    )
                    .into());
                }
            };
            print_stdout(version::text(json).as_bytes());
            return Ok(0);
        }
        Command::Bundle { args, alias } => {
            if alias {
                crate::log::warn!(
                    "`secret-init vault` is now `secret-init bundle` (\"vault\" also names HashiCorp \
                     Vault); the old name still works for now"
                );
            }
            if options_given {
                return Err(Error::new(
                    Kind::Usage,
                    "options go after the bundle verb (see secret-init bundle VERB --help)",
                )
                .into());
            }
            return crate::app::bundle::run(args, Environ::capture());
        }
        _ => {}
    }
    let env = Environ::capture();
    let config = settings::config_path(&inv, &env);
    let manifest = manifest::load(config.as_deref())?;
    let settings = Settings::resolve(&inv, &env, &manifest.settings)?;
    crate::log::configure(settings.log_level, settings.log_format);
    for (var, near) in cli::unknown_own_vars(&env) {
        let hint = near.map_or_else(String::new, |n| format!(" (did you mean {n}?)"));
        crate::log::warn!(
            "{} is not one of secret-init's variables and is ignored{hint}",
            crate::log::escape_controls(&var)
        );
    }
    match &config {
        Some(p) => crate::log::debug!(
            "manifest {}: {} secrets declared",
            p.display(),
            manifest.secrets.len()
        ),
        None => crate::log::info!("no config.yaml found (--config); no secrets declared"),
    }
    if settings.offline && !matches!(inv.command, Command::Check(_)) {
        return Err(Error::new(
            Kind::Usage,
            "--offline goes with check only: secret-init check --offline",
        )
        .into());
    }
    let mut ctx = Context {
        env,
        manifest,
        settings,
        program_home: None,
    };
    match inv.command {
        Command::Run(program) => run(&mut ctx, &program, start),
        Command::Check(program) => check(&mut ctx, &program),
        Command::Get(name) => get(&ctx, &name),
        Command::Providers => {
            print_stdout(crate::app::materialize::providers(&ctx).as_bytes());
            Ok(0)
        }
        Command::Materialize => {
            // The dynamic secrets issued are the developer's once published; anything issued
            // for a materialize that fails is revoked with the carry.
            let mut carry = Carry::default();
            let done = crate::app::materialize::materialize(
                &ctx,
                plan_for(&ctx, Ending::Plan, &mut carry)?,
            )?;
            carry.hand_over();
            Ok(done)
        }
        Command::Clean => crate::app::materialize::clean(&ctx),
        Command::Status => {
            let file =
                settings::status_file(&inv, &ctx.env, ctx.manifest.settings.refresh.as_ref());
            let ready = cli::merge::flag(&inv, &ctx.env, cli::Opt::Ready, None)?;
            status::run(file.as_deref(), ctx.settings.report_format, ready)
        }
        Command::Env => {
            crate::app::materialize::env(&plan_for(&ctx, Ending::Env, &mut Carry::default())?)
        }
        Command::Help(_) | Command::Version | Command::Bundle { .. } => Ok(0),
    }
}

/// "1 env var", "2 env vars".
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub(crate) fn print_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// The ids the program runs as (`--user`), checked against `--no-root` and our own privileges
/// before anything is resolved. `None`: the program runs as we do.
fn program_credentials(p: &ProcessSettings) -> Result<Option<sys::Credentials>, Error> {
    let euid = nix::unistd::geteuid().as_raw();
    let creds = p.user.as_deref().map(crate::user::resolve).transpose()?;
    let runs_as = creds.as_ref().map_or(euid, |c| c.uid);
    if p.no_root && runs_as == 0 {
        return Err(Error::new(
            Kind::Config,
            "refusing to run the program as root (--no-root); give --user UID[:GID]",
        ));
    }
    match creds {
        Some(c) if euid != 0 => {
            let egid = nix::unistd::getegid().as_raw();
            if c.uid != euid || c.gid != egid {
                return Err(Error::new(
                    Kind::Permission,
                    format!(
                        "--user {}:{}: switching users needs root; secret-init runs as uid {euid}",
                        c.uid, c.gid
                    ),
                ));
            }
            // Already that user: nothing to switch (and no right to set groups).
            Ok(None)
        }
        other => Ok(other),
    }
}

/// The names of the vault's dynamic secrets (`secret_init.vault.dynamic`).
fn dynamic_names(s: &Settings) -> Vec<&str> {
    #[cfg(feature = "vault")]
    return s
        .source
        .vault
        .as_ref()
        .map(|v| v.dynamic.iter().map(|d| d.name.as_str()).collect())
        .unwrap_or_default();
    #[cfg(not(feature = "vault"))]
    {
        let _ = s;
        Vec::new()
    }
}

/// Resolve, deliver, then exec or supervise.
pub(crate) fn run(
    ctx: &mut Context,
    program: &[OsString],
    start: &sys::StartState,
) -> Result<u8, Errors> {
    let proc = &ctx.settings.process;
    let pid1 = sys::is_pid1();
    let refresh = ctx.settings.refresh.clone();
    if refresh.is_some() && proc.init == InitMode::Exec {
        return Err(Error::new(
            Kind::Usage,
            "--refresh needs secret-init to stay as the program's parent; it excludes --no-init",
        )
        .into());
    }
    let mask = ctx.settings.mask.clone();
    if mask.is_some() && proc.init == InitMode::Exec {
        return Err(Error::new(
            Kind::Usage,
            "--mask needs secret-init to stay as the program's parent; it excludes --no-init",
        )
        .into());
    }
    let serves_metrics = ctx.settings.observe.needs_supervisor();
    if serves_metrics && proc.init == InitMode::Exec {
        return Err(Error::new(
            Kind::Usage,
            "secret_init.metrics needs secret-init to stay as the program's parent; it excludes --no-init",
        )
        .into());
    }
    let supervised = proc.cleanup
        || refresh.is_some()
        || mask.is_some()
        || serves_metrics
        || match proc.init {
            InitMode::Supervise => true,
            InitMode::Exec => false,
            InitMode::Auto => pid1,
        };
    if pid1 && !supervised {
        crate::log::warn!(
            "running the program as PID 1 without supervision (--no-init): it receives no signal \
             it has no handler for, and zombies are not reaped"
        );
    }
    let creds = program_credentials(proc)?;
    out_of_the_programs_reach(ctx, creds.as_ref())?;
    ctx.program_home = creds.as_ref().map(|c| c.home.clone());
    let ctx = &*ctx;
    // Before anything is resolved: a metrics address or an audit file that cannot be had stops
    // the start with nothing written.
    let mut observer = observe::Observer::open(&ctx.settings, creds.as_ref())?;
    if !ctx.settings.allow_shared_dir && !ctx.settings.env_only {
        // Before the first read: the output dir is usually /secrets, also the first secrets dir.
        file::tighten_fresh_mount(
            &ctx.settings.output_dir,
            creds.as_ref().map(|c| (c.uid, c.gid)),
        );
    }
    // A refresh keeps the vault login (and dynamic leases) alive from the start on. Without one
    // the carry lives until the program is about to start: every failure before that drops it,
    // revoking the dynamic secrets issued and our login token (vault/keep.rs).
    let mut carry = if refresh.is_some() {
        Carry::live()
    } else {
        Carry::default()
    };
    let Delivery {
        plan,
        env,
        opts: write_opts,
        stale,
        snapshot,
    } = delivery(ctx, creds.as_ref(), &mut carry, program)?;
    // Which of our own variables the program inherits as they are: what the supervisor keeps in
    // its /proc/<pid>/environ (an exec'd program replaces that block).
    let inherited = supervised.then(|| {
        child_env::inherited(
            &ctx.env,
            &ctx.settings.env_prefix,
            &ctx.settings.scrub_env,
            &plan.env,
        )
    });

    sys::enter_delivery();
    // Publication holds the stop signals once committed: a later one waits for the program.
    let published = file::publish(&plan.files, &write_opts, file::SignalStop)?;
    carry.written_ids.extend(published.ids.iter().copied());
    remove_consumed(&plan.consumed);
    snapshot::write(&ctx.settings, snapshot);
    crate::log::info!(
        "{} delivered ({} written, {} unchanged, {}); starting {}",
        plural(ctx.manifest.secrets.len(), "secret"),
        plural(published.files.len(), "file"),
        plan.unchanged.len(),
        plural(plan.env.len(), "env var"),
        program[0].to_string_lossy()
    );
    let delivered = refresh
        .is_some()
        .then(|| crate::app::refresh::Delivered::of(&plan, &env));
    let masks = mask.map(|rules| crate::mask::Masks::new(plan.masked_values(), rules));
    // The observed state is read by the audit trail, the metrics and a refresh's status file; with
    // none of them it would die unread at the exec (one stat a secret read from a file, and JSON).
    if observer.active() || refresh.is_some() {
        observer.started(&ctx.manifest.secrets, &dynamic_names(&ctx.settings), &plan);
    }
    drop(plan);
    let setup = sys::ChildSetup {
        state: *start,
        creds: creds.clone(),
        foreground: false,
    };
    if !supervised {
        // exec keeps our PID: the program's is ours.
        if observer.active() {
            observer.program(i32::try_from(std::process::id()).unwrap_or(0), "exec");
        }
        carry.before_exec();
        let failed = process::exec_as(program, &env, setup);
        // Only a failed exec comes back: the program never started, so what was issued for it
        // is revoked with the carry.
        drop(carry);
        return Err(failed.into());
    }
    if refresh.is_none() {
        carry.hand_over();
    }
    // The supervisor is long-lived: it allocates from musl's allocator, never the start arena.
    sys::end_start_arena();
    // Its own thread, which allocates: only once the arena is over.
    observer.serve();
    let Some(cmd) = process::command(program, &env) else {
        return Err(Error::new(Kind::Usage, "no program given").into());
    };
    // The supervisor stays alive with its start-up environment in /proc/<pid>/environ: wipe the
    // values of every entry the program did not inherit as it is (TRUSS_SECRET_*, SECRET_INIT_*,
    // tokens, scrubbed and replaced variables), by position in the block.
    let wiped = sys::wipe_initial_env(&inherited.unwrap_or_default());
    crate::log::debug!("{wiped} input variables wiped from our own /proc/<pid>/environ");
    drop(env);
    let opts = supervise::Options {
        process_group: proc.process_group,
        grace_period: proc.grace_period,
        mask: masks.clone(),
    };
    let mut watchman = None;
    let mut refresher = match refresh.zip(delivered) {
        Some((r, last)) => Some(
            crate::app::refresh::Refresher::new(
                ctx,
                r,
                creds,
                program,
                write_opts,
                crate::app::refresh::Started {
                    last,
                    carry,
                    observe: observer,
                },
            )
            .masking(masks)
            .with_stale(stale),
        ),
        None => {
            watchman = observer.active().then_some(observer);
            None
        }
    };
    let mut watch = watchman.as_mut().map(observe::Watchman);
    let hook: Option<&mut dyn supervise::Refresh> = match (&mut refresher, &mut watch) {
        (Some(r), _) => Some(r),
        (None, Some(w)) => Some(w),
        (None, None) => None,
    };
    let result = supervise::run(cmd, setup, &opts, &program[0], hook);
    // With refresh, its record holds the start's files and every one it wrote since. The
    // record of deliveries goes with them: it lists nothing that is left.
    let mut removed_too: Vec<PathBuf> = published.record.into_iter().collect();
    let mut published: Vec<PathBuf> = match refresher {
        Some(r) => r.into_published().into_iter().collect(),
        None => published.files,
    };
    published.append(&mut removed_too);
    if proc.cleanup {
        let removed = file::remove_published(&published);
        crate::log::debug!("cleanup: {removed} delivered files removed");
    }
    result.map_err(Into::into)
}

/// Under `--user`, the files that decide what is delivered where must be out of the program's
/// reach (`provenance`): config.yaml, the template sources (and their directories, which hold
/// their includes), a local bundle and the local config. A program that could rewrite them
/// would choose, at the next start or refresh, what root delivers and where. Refused with 78.
fn out_of_the_programs_reach(ctx: &Context, creds: Option<&sys::Credentials>) -> Result<(), Error> {
    let Some(user) = pipeline::program_user(creds) else {
        return Ok(());
    };
    let mut files: Vec<(&std::path::Path, &str)> = Vec::new();
    if let Some(p) = &ctx.manifest.path {
        files.push((p, "config.yaml"));
    }
    for t in &ctx.manifest.templates {
        if let crate::template::Body::Source(p) = &t.body {
            files.push((p, "a template source"));
        }
    }
    if let Some(crate::source::bundle::Location::File(p)) =
        ctx.settings.source.bundle.as_ref().map(|b| &b.location)
    {
        files.push((p, "the bundle"));
    }
    if let Some(p) = &ctx.settings.local_config {
        files.push((p, "the local config"));
    }
    if let Some(fb) = &ctx.settings.fallback {
        // The program could delete, replace or replay the snapshot: it must not reach its
        // directory (a snapshot not there yet included), nor the key that seals it.
        let dir = fb.path.parent().unwrap_or(std::path::Path::new("/"));
        if dir.is_dir() && user.could_change_dir(dir) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "the fallback snapshot's directory {}: the program's user (uid {}) could change it; under --user it must be out of the program's reach",
                    dir.display(),
                    user.uid
                ),
            ));
        }
        if let crate::settings::KeyFrom::File(k) = &fb.key {
            files.push((k, "the fallback key file"));
        }
    }
    for (path, what) in files {
        if let Some(why) = user.could_write(path) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "{what} {}: the program's user (uid {}) could have written it ({why}); under --user it must be out of the program's reach",
                    path.display(),
                    user.uid
                ),
            ));
        }
    }
    Ok(())
}

/// The pre-flight of a run, short of writing: resolve, plan, the output-dir policy and a
/// writability probe that writes no secret, the environment's policy and size, and the program
/// lookup when one is given (`check -- PROGRAM`). Reports a table and exits as the run would.
pub(crate) fn check(ctx: &mut Context, program: &[OsString]) -> Result<u8, Errors> {
    let creds = program_credentials(&ctx.settings.process)?;
    out_of_the_programs_reach(ctx, creds.as_ref())?;
    // As in a run: provider files are planned under the --user's HOME.
    ctx.program_home = creds.as_ref().map(|c| c.home.clone());
    let ctx = &*ctx;
    let from_env = env_declared(ctx);
    let target = Target {
        ending: Ending::Deliver,
        creds: creds.as_ref(),
        program,
        only: None,
        offline: ctx.settings.offline,
    };
    // The run's own pass: check stops where the run would, with the run's errors.
    let Pass {
        resolutions,
        provider_files,
        delivery,
        stale,
    } = pass(ctx, &from_env, &mut Carry::default(), &target)?;
    // The vault's dynamic secrets: one row per delivered field (`web.cert`), never its value.
    let dynamic = dynamic_names(&ctx.settings);
    let mut dynamic_rows = Vec::new();
    if let Ok(d) = &delivery {
        for f in d
            .plan
            .files
            .iter()
            .filter(|f| dynamic.contains(&f.secret.as_str()))
        {
            dynamic_rows.push(Row {
                name: f
                    .path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                source: d
                    .plan
                    .origins
                    .get(&f.secret)
                    .cloned()
                    .unwrap_or_else(|| "vault dynamic".to_string()),
                destination: vec![f.path.display().to_string()],
                value: "-".into(),
                status: if ctx.settings.offline {
                    crate::source::offline::NOT_CONTACTED
                } else {
                    "ok"
                }
                .into(),
                reason: None,
            });
        }
    }
    let errors = match delivery {
        Ok(mut d) => match probe(ctx, &mut d) {
            Ok(()) => Errors::default(),
            Err(e) => e.into(),
        },
        Err(e) => e,
    };
    let provider_rows = provider_files
        .into_iter()
        .map(|(inst, role, path, write)| Row {
            name: format!("provider:{inst}"),
            source: role,
            destination: vec![path.display().to_string()],
            value: "-".into(),
            status: if write { "ok" } else { "unchanged" }.into(),
            reason: None,
        });
    let mut rows: Vec<Row> = resolutions
        .iter()
        .map(|r| Row::of(r, &ctx.settings))
        .collect();
    // A secret that resolved but cannot be delivered (its directory cannot be made, its env
    // name is refused) is not `ok`: its row says what the run would say.
    for row in &mut rows {
        if let Some(e) = errors
            .0
            .iter()
            .find(|e| e.secret.as_deref() == Some(row.name.as_str()))
            .filter(|_| row.status.starts_with("ok"))
        {
            row.status = format!("error: {}", e.what);
            row.reason = Some(e.reason());
        }
    }
    // Served from the fallback snapshot: how old, and why the store was not asked.
    let now = crate::fallback::now();
    for s in &stale {
        if let Some(row) = rows
            .iter_mut()
            .find(|r| r.name == s.name && r.status == "ok")
        {
            row.status = format!(
                "stale: {} old, from the fallback snapshot (store unavailable: {})",
                crate::fallback::human_age(s.age(now)),
                s.outage.words()
            );
        }
    }
    rows.extend(provider_rows);
    rows.extend(dynamic_rows);
    // Templates: rendered to check them, never shown; the row lists the secrets each one used.
    for o in crate::template::render_all(&ctx.manifest.templates, &resolutions) {
        let (source, status, reason) = match o.result {
            Ok(r) if r.used.is_empty() => ("no secrets".to_string(), "ok".to_string(), None),
            Ok(r) => (
                format!("secrets: {}", r.used.join(", ")),
                "ok".to_string(),
                None,
            ),
            // Its error, if the pass got as far as templates, is among the pass's errors.
            Err(e) => (
                "-".to_string(),
                format!("error: {}", e.what),
                Some(e.reason()),
            ),
        };
        rows.push(Row {
            name: format!("template:{}", o.template.name),
            source,
            destination: vec![o.template.destination.display().to_string()],
            value: "-".into(),
            status,
            reason,
        });
    }
    let refresh = ctx.settings.refresh.as_ref().map(|r| {
        let watches = crate::app::refresh::watches(&ctx.settings, &ctx.manifest.secrets, r, None);
        (r, watches)
    });
    let out = match ctx.settings.report_format {
        ReportFormat::Json => {
            let json: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| serde_json::json!({"name": r.name, "source": r.source, "destination": r.destination, "value": r.value, "status": r.status, "reason": r.reason}))
                .collect();
            // Every problem with its stable reason code (docs/observability.md).
            let problems: Vec<serde_json::Value> = errors
                .0
                .iter()
                .map(|e| serde_json::json!({"secret": e.secret, "source": e.source, "reason": e.reason(), "message": e.to_string()}))
                .collect();
            let mut report =
                serde_json::json!({"ok": errors.0.is_empty(), "secrets": json, "errors": problems});
            if let Some((r, watches)) = &refresh {
                report["refresh"] = serde_json::json!({
                    "interval_seconds": r.interval.as_secs_f64(),
                    "jitter": r.jitter,
                    "on_change": crate::app::refresh::on_change_name(r.on_change),
                    "signal": crate::app::refresh::signal_name(r.signal),
                    "status_file": r.status_file,
                    "sources": watches.iter().map(|w| serde_json::json!({"source": w.source, "watch": w.how})).collect::<Vec<_>>(),
                });
            }
            format!("{report}\n")
        }
        ReportFormat::Table => {
            let mut out = table(&rows);
            if let Some((r, watches)) = &refresh {
                out.push_str(&refresh_text(r, watches));
            }
            out
        }
    };
    print_stdout(out.as_bytes());
    if errors.0.is_empty() {
        Ok(0)
    } else {
        Err(errors)
    }
}

/// `check`'s refresh section: the settings, then what each source would watch or poll.
fn refresh_text(r: &settings::RefreshSettings, watches: &[crate::app::refresh::Watch]) -> String {
    let tell = match r.on_change {
        settings::OnChange::Signal => {
            format!("signal {}", crate::app::refresh::signal_name(r.signal))
        }
        other => crate::app::refresh::on_change_name(other).to_string(),
    };
    let mut out = format!(
        "\nrefresh: every {} (jitter {:.0}%), on change: {tell}{}\n",
        crate::app::refresh::human(r.interval),
        r.jitter * 100.0,
        r.status_file
            .as_ref()
            .map_or_else(String::new, |p| format!(", status file {}", p.display()))
    );
    for w in watches {
        out.push_str(&format!("  {}: {}\n", w.source, w.how));
    }
    out
}

/// The last thing a run does before publishing, without publishing: every destination directory
/// probed for writability (no secret is written), as the run would find it.
fn probe(ctx: &Context, d: &mut Delivery) -> Result<(), Error> {
    // As a run would find it: a fresh `--tmpfs` output dir is made private before use.
    let out = &ctx.settings.output_dir;
    let tightened = (!d.opts.allow_shared_dir && file::would_tighten(out)).then_some(out.as_path());
    file::probe(&d.plan.files, &d.opts, tightened)
}

/// Print one resolved value, byte-exact, for scripts.
pub(crate) fn get(ctx: &Context, name: &str) -> Result<u8, Errors> {
    let parsed =
        SecretName::parse(name).map_err(|why| Error::secret(Kind::Usage, name, "get", why))?;
    let declared = ctx
        .manifest
        .secrets
        .iter()
        .find(|d| d.name == parsed)
        .ok_or_else(|| {
            Error::secret(
                Kind::Usage,
                name,
                "get",
                "not declared under secrets: in config.yaml",
            )
        })?;
    let target = Target {
        ending: Ending::Resolve,
        creds: None,
        program: &[],
        only: Some(&declared.name),
        offline: false,
    };
    let Pass {
        resolutions,
        delivery,
        ..
    } = pass(ctx, &[], &mut Carry::default(), &target)?;
    delivery?;
    match resolutions.first().and_then(|r| r.value.as_ref()) {
        Some(v) => {
            print_stdout(v.expose());
            Ok(0)
        }
        None => {
            Err(Error::secret(Kind::Unavailable, name, "get", "optional secret not found").into())
        }
    }
}
