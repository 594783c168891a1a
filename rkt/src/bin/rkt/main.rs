//! rkt: the App Container executor, stage0. Every error is one line on
//! stderr and exit status 254.

mod cobra_order;
mod enter;
mod export;
mod fetch;
mod image;
mod metadata_service;
mod pods;
mod run;
mod trust;

use anyhow::Context;
use clap::{Args, FromArgMatches, Subcommand};
use rkt::config::{Config, InsecureOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// The flags every command takes (`global`: before or after its name). Not
// a doc comment: clap would make it the about text of `rkt --help`. (Each
// set of arguments says `#[group(skip)]`: clap would build a group of
// them, which rkt never uses, on every parse.)
#[derive(Args)]
#[group(skip)]
pub struct Global {
    /// rkt data directory
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// local configuration directory
    #[arg(long, global = true, default_value = "/etc/rkt")]
    local_config: PathBuf,
    /// system configuration directory
    #[arg(long, global = true, default_value = "/usr/lib/rkt")]
    system_config: PathBuf,
    /// user configuration directory
    #[arg(long, global = true)]
    user_config: Option<PathBuf>,
    /// print out more debug information to stderr
    #[arg(long, global = true)]
    debug: bool,
    /// comma-separated list of security features to disable: none, image,
    /// tls, ondisk, http, pubkey, capabilities, paths, seccomp, run,
    /// all-fetch, all-run, all
    #[arg(long, global = true, default_value = "none")]
    insecure_options: String,
    /// automatically trust gpg keys fetched from https
    #[arg(long, global = true)]
    trust_keys_from_https: bool,
    /// longest a download of one image may take (default 1h; fetch.d `deadline`)
    #[arg(long, global = true)]
    fetch_deadline: Option<String>,
    /// longest a download may go without a byte (default 30s; fetch.d `idleTimeout`)
    #[arg(long, global = true)]
    fetch_idle_timeout: Option<String>,
    /// largest image file a download may be (default 16Gi; fetch.d `maxDownloadSize`)
    #[arg(long, global = true)]
    max_download_size: Option<String>,
    /// largest an image may expand to (default 64Gi; fetch.d `maxExtractedSize`)
    #[arg(long, global = true)]
    max_extracted_size: Option<String>,
    /// share of the store's file system an image may not use (default 5; fetch.d `minFreePercent`)
    #[arg(long, global = true)]
    min_free_percent: Option<String>,
}

/// rkt's command line: the global flags and every command.
fn cli() -> clap::Command {
    Command::augment_subcommands(global_flags())
}

fn global_flags() -> clap::Command {
    Global::augment_args(
        clap::Command::new("rkt")
            .version(env!("CARGO_PKG_VERSION"))
            .about("rkt, the application container runner")
            .subcommand_required(true)
            .arg_required_else_help(true),
    )
}

/// `cli` with only the command named `chosen`, if there is one: before
/// it parses, clap copies every global flag into every command it holds,
/// which took most of the parse when all were there.
fn narrowed(cli: clap::Command, chosen: Option<&str>) -> clap::Command {
    match chosen.and_then(|name| cli.find_subcommand(name)) {
        Some(one) => global_flags().subcommand(one.clone()),
        None => cli,
    }
}

// Each command's arguments are defined only when it is the one run
// (`defer`): defining every command's took most of the time of parsing a
// command line (and under emulation, code run once costs most). (Not a
// doc comment, which would be `rkt --help`'s about text.)
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Fetch image(s) and store them in the local store
    Fetch(fetch::Args),
    /// Trust a key for image verification
    Trust(trust::Args),
    /// Operate on image(s) in the local store
    #[command(subcommand)]
    Image(image::Command),
    /// Run image(s) in a pod
    Run(run::Args),
    /// List pods
    List(pods::ListArgs),
    /// Check the status of a pod
    Status(pods::StatusArgs),
    /// Stop a pod
    Stop(pods::StopArgs),
    /// Remove pods that are not running
    Rm(pods::RmArgs),
    /// Garbage-collect pods that have exited
    Gc(pods::GcArgs),
    /// Prepare a pod to run later with run-prepared
    Prepare(pods::PrepareArgs),
    /// Run a prepared pod
    RunPrepared(pods::RunPreparedArgs),
    /// Print the manifest of a pod
    CatManifest(pods::CatManifestArgs),
    /// Run a command in a running pod
    Enter(enter::Args),
    /// Print the configuration
    Config(pods::ConfigArgs),
    /// Export an app of an exited pod as an ACI
    Export(export::Args),
    /// Run the metadata service for pods run with --mds-register
    MetadataService(metadata_service::Args),
    /// Print the version
    Version,
}

/// The configuration every command works from.
pub struct Settings {
    pub data_dir: PathBuf,
    pub config: Config,
    pub insecure: InsecureOptions,
    pub trust_keys_from_https: bool,
    pub local_config: PathBuf,
    pub system_config: PathBuf,
    pub user_config: Option<PathBuf>,
    /// From `fetch.d`, then the flags.
    pub fetch_limits: rkt::fetch::FetchLimits,
    /// `--debug`, passed on to stage1.
    pub debug: bool,
}

impl Settings {
    fn new(g: &Global) -> anyhow::Result<Self> {
        let insecure = InsecureOptions::parse(&g.insecure_options)?;
        let mut dirs: Vec<&Path> = vec![&g.system_config, &g.local_config];
        dirs.extend(g.user_config.as_deref());
        let config = Config::load(&dirs)?;
        let mut fetch_limits = config.fetch_limits;
        for (key, flag, value) in [
            ("deadline", "--fetch-deadline", &g.fetch_deadline),
            ("idleTimeout", "--fetch-idle-timeout", &g.fetch_idle_timeout),
            (
                "maxDownloadSize",
                "--max-download-size",
                &g.max_download_size,
            ),
            (
                "maxExtractedSize",
                "--max-extracted-size",
                &g.max_extracted_size,
            ),
            ("minFreePercent", "--min-free-percent", &g.min_free_percent),
        ] {
            if let Some(v) = value {
                fetch_limits
                    .set(key, v)
                    .map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
            }
        }
        let data_dir = g
            .dir
            .clone()
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(|| "/var/lib/rkt".into());
        Ok(Settings {
            data_dir,
            config,
            insecure,
            trust_keys_from_https: g.trust_keys_from_https,
            local_config: g.local_config.clone(),
            system_config: g.system_config.clone(),
            user_config: g.user_config.clone(),
            fetch_limits,
            debug: g.debug,
        })
    }

    pub fn trust_store(&self) -> rkt::trust::TrustStore {
        rkt::trust::TrustStore::new(
            &self.system_config,
            &self.local_config,
            self.user_config.as_deref(),
        )
    }

    /// Where CNI plugins are looked for (see `pod::net::plugin_path`).
    pub fn net_plugin_path(&self) -> Vec<PathBuf> {
        pod::net::plugin_path(&self.local_config, self.config.net_plugins_dir.as_deref())
    }

    /// `CNI_PATH=...` for stage1's entrypoints.
    pub fn cni_path_env(&self) -> anyhow::Result<std::ffi::CString> {
        let joined = std::env::join_paths(self.net_plugin_path())?;
        let mut kv = b"CNI_PATH=".to_vec();
        kv.extend_from_slice(joined.as_encoded_bytes());
        Ok(std::ffi::CString::new(kv)?)
    }

    pub fn image_store(&self) -> anyhow::Result<rkt::store::ImageStore> {
        rkt::store::ImageStore::open(&self.data_dir)
            .with_context(|| format!("cannot open the image store in {}", self.data_dir.display()))
    }
}

/// Prints `value` as JSON, indented for `json-pretty`.
pub fn print_json(value: &impl serde::Serialize, format: &str) -> anyhow::Result<()> {
    let text = if format == "json-pretty" {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    println!("{text}");
    Ok(())
}

/// The error and its causes on one line, most general first, leaving out
/// causes that an outer message already quotes.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for part in e.chain() {
        let text = part.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    appc::printable::one_line(&msg)
}

/// rkt's flags are pflag's: every boolean flag also takes `=true` or
/// `=false` (`--no-legend=false`, `--mark-only=true`), which scripts use,
/// and a flag given twice takes the last value.
fn pflag_booleans(cmd: clap::Command) -> clap::Command {
    cmd.args_override_self(true)
        .mut_args(pflag_bool)
        .mut_subcommands(pflag_booleans)
}

/// A boolean flag as pflag has it (see `pflag_booleans`). The commands'
/// arguments are defined only when one is chosen (`defer`), after
/// `pflag_booleans` ran: each command's arguments say
/// `#[command(mut_args = crate::pflag_bool)]` themselves.
pub fn pflag_bool(a: clap::Arg) -> clap::Arg {
    if matches!(a.get_action(), clap::ArgAction::SetTrue) {
        a.action(clap::ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .default_value("false")
            .value_parser(clap::value_parser!(bool))
    } else {
        a
    }
}

/// The commands that make, enter or remove pods: root's only.
fn needs_root(command: &str) -> bool {
    matches!(
        command,
        "run" | "run-prepared" | "prepare" | "enter" | "stop" | "rm" | "gc" | "export"
    )
}

/// Whether `command` needs root that this process does not have: said if so.
fn refused_unprivileged(command: &str) -> bool {
    let refused = needs_root(command) && !rustix::process::geteuid().is_root();
    if refused {
        eprintln!("{command}: cannot run as unprivileged user");
    }
    refused
}

/// The command line; a usage error exits 254, as every rkt error does.
/// As in rkt, a command that needs root says so before it says that
/// arguments are missing (flags it cannot parse come first).
fn parse_args() -> (Global, Command) {
    use clap::error::ErrorKind;
    let cli = cli();
    let args = cobra_order::reorder(&cli, std::env::args_os().collect());
    // The command's name comes first once reordered.
    let chosen = args.get(1).and_then(|a| a.to_str());
    let matches = pflag_booleans(narrowed(cli, chosen)).try_get_matches_from(args.iter());
    let parsed = matches.and_then(|m| {
        Ok((
            Global::from_arg_matches(&m)?,
            Command::from_arg_matches(&m)?,
        ))
    });
    parsed.unwrap_or_else(|e| match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        ErrorKind::MissingRequiredArgument if chosen.is_some_and(refused_unprivileged) => {
            std::process::exit(254)
        }
        _ => {
            let _ = e.print();
            std::process::exit(254)
        }
    })
}

fn main() -> ExitCode {
    // What rkt creates gets its modes from rkt, not from the caller's
    // umask (see rkt::data_dir); stage1 and the apps inherit it, as from
    // rkt's systemd units.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let (g, command) = parse_args();
    let name = match &command {
        Command::Fetch(_) => "fetch",
        Command::Trust(_) => "trust",
        Command::Image(_) => "image",
        Command::Run(_) => "run",
        Command::List(_) => "list",
        Command::Status(_) => "status",
        Command::Stop(_) => "stop",
        Command::Rm(_) => "rm",
        Command::Gc(_) => "gc",
        Command::Prepare(_) => "prepare",
        Command::RunPrepared(_) => "run-prepared",
        Command::CatManifest(_) => "cat-manifest",
        Command::Version => "version",
        Command::Enter(_) => "enter",
        Command::Config(_) => "config",
        Command::Export(_) => "export",
        Command::MetadataService(_) => "metadata-service",
    };
    // As rkt: what makes or enters pods needs root, said before anything else.
    if refused_unprivileged(name) {
        return ExitCode::from(254);
    }
    let result = Settings::new(&g).and_then(|settings| match command {
        Command::Fetch(a) => fetch::run(&settings, a),
        Command::Trust(a) => trust::run(&settings, a),
        Command::Image(c) => image::run(&settings, c),
        Command::Run(a) => run::run(&settings, a),
        Command::List(a) => pods::list(&settings, a),
        Command::Status(a) => pods::status(&settings, a),
        Command::Stop(a) => pods::stop(&settings, a),
        Command::Rm(a) => pods::rm(&settings, a),
        Command::Gc(a) => pods::gc(&settings, a),
        Command::Prepare(a) => pods::prepare(&settings, a),
        Command::RunPrepared(a) => pods::run_prepared(&settings, a),
        Command::CatManifest(a) => pods::cat_manifest(&settings, a),
        Command::Enter(a) => enter::run(&settings, a),
        Command::Config(a) => pods::config(&settings, a),
        Command::Export(a) => export::run(&settings, a),
        Command::MetadataService(a) => metadata_service::run(a),
        Command::Version => {
            println!("rkt Version: {}", env!("CARGO_PKG_VERSION"));
            println!("appc Version: {}", appc::schema::AC_VERSION);
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {}", one_line(&e));
            ExitCode::from(254)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The global flags, wherever they stand, reach the command named
    /// when the others are left out.
    #[test]
    fn a_narrowed_line_parses_as_the_whole() {
        for line in [
            "rkt --dir=/d image --debug list --no-legend=false",
            "rkt image list --dir /d --debug=true",
            "rkt --insecure-options=image run --net=host img --exec=/x",
        ] {
            let args = cobra_order::reorder(&cli(), line.split(' ').map(Into::into).collect());
            let chosen = args[1].to_str();
            let m = pflag_booleans(narrowed(cli(), chosen))
                .try_get_matches_from(&args)
                .unwrap();
            let g = Global::from_arg_matches(&m).unwrap();
            assert_eq!(
                g.dir.as_deref(),
                Some(Path::new("/d")).filter(|_| line.contains("/d"))
            );
            assert_eq!(g.debug, line.contains("--debug"));
            assert_eq!(g.insecure_options == "image", line.contains("=image"));
            let command = Command::from_arg_matches(&m).unwrap();
            assert_eq!(
                matches!(command, Command::Image(_)),
                line.contains(" image "),
                "{line}"
            );
        }
    }

    /// No set of arguments builds an argument group (see `Global`).
    #[test]
    fn no_argument_groups() {
        fn check(cmd: &clap::Command, path: &str) {
            let groups: Vec<_> = cmd.get_groups().map(|g| g.get_id()).collect();
            assert!(
                groups.is_empty(),
                "{path}: add #[group(skip)] to {groups:?}"
            );
            cmd.get_subcommands()
                .for_each(|sub| check(sub, &format!("{path} {}", sub.get_name())));
        }
        let mut cmd = cli();
        cmd.build();
        check(&cmd, "rkt");
    }

    /// Every boolean flag of every command, defined when the command is
    /// chosen, takes `=true` and `=false`.
    #[test]
    fn every_boolean_is_pflags() {
        fn check(cmd: &clap::Command, path: &str) {
            for a in cmd.get_arguments() {
                assert!(
                    !matches!(a.get_action(), clap::ArgAction::SetTrue),
                    "{path} --{}: add #[command(mut_args = crate::pflag_bool)]",
                    a.get_id()
                );
            }
            for sub in cmd.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let mut cmd = pflag_booleans(cli());
        cmd.build();
        check(&cmd, "rkt");
        let run = cmd.find_subcommand("run").unwrap();
        assert!(
            run.get_arguments()
                .any(|a| a.get_long() == Some("interactive"))
        );
    }
}
