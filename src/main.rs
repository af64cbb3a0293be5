//! The `classchat` binary: `serve` (default), `migrate`, `token`.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use classchat::config::{
    database_url_or_default, parse_args, warn_unknown_env, Config, DataDirArg, JwtKey, KeyArgs,
    LifetimeArg, LogArgs, ServeArgs, StorageArgs,
};
use classchat::domain::Role;

#[derive(Parser)]
#[command(
    name = "classchat",
    version,
    about = "Real-time chat backend: REST :4500, Socket.IO :4501, metrics :9464",
    after_help = "With no sub-command, classchat runs `serve`. Every setting is a flag or an \
                  environment variable: `classchat serve --help` lists them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (the default).
    Serve(Box<ServeArgs>),
    /// Apply database migrations to DATABASE_URL and exit.
    Migrate {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Print an HS256 token signed with the configured (or generated) secret.
    Token {
        /// The user id (claim sub), 1-128 characters.
        #[arg(long)]
        sub: String,
        /// student, teacher or admin.
        #[arg(long, default_value = "student")]
        role: String,
        /// The display name (claim name).
        #[arg(long)]
        name: Option<String>,
        /// Lifetime: seconds, or e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        #[command(flatten)]
        dir: DataDirArg,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        lifetime: LifetimeArg,
    },
}

/// The arguments with `serve` put in when no sub-command is given.
fn with_default_command(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let first = argv.get(1).map(|a| a.to_string_lossy().into_owned());
    let serve = match first.as_deref() {
        None => true,
        Some("-h" | "--help" | "-V" | "--version") => false,
        Some(a) => a.starts_with('-'),
    };
    if serve {
        argv.insert(1.min(argv.len()), "serve".into());
    }
    argv
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("classchat: {msg}");
    std::process::exit(2)
}

fn parse_ttl(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn main() {
    let argv = with_default_command(std::env::args_os().collect());
    let matches = parse_args(Cli::command(), argv).unwrap_or_else(|e| match e {
        Ok(config_error) => fail(config_error),
        Err(clap_error) => clap_error.exit(),
    });
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Token {
            sub,
            role,
            name,
            ttl,
            dir,
            key,
            lifetime,
        } => {
            let role = Role::parse(&role)
                .unwrap_or_else(|| fail("--role must be student, teacher or admin"));
            let ttl = parse_ttl(&ttl).unwrap_or_else(|| fail("--ttl must look like 30m, 1h or 7d"));
            let max = lifetime.jwt_max_lifetime_secs;
            if ttl.as_secs() > max {
                fail(format!(
                    "--ttl is over CLASSCHAT_JWT_MAX_LIFETIME_SECS ({max} s): the server would refuse the token"
                ));
            }
            if sub.is_empty() || sub.chars().count() > 128 {
                fail("--sub must be 1-128 characters");
            }
            let key = classchat::auth::key_from(
                key.jwt_secret.as_deref(),
                key.jwt_public_key_file.as_deref(),
                &dir.data_dir,
            );
            match key.unwrap_or_else(|e| fail(e)) {
                JwtKey::Secret(secret) => {
                    println!(
                        "{}",
                        classchat::auth::mint(&secret, &sub, role, name.as_deref(), ttl)
                    )
                }
                JwtKey::PublicKeyPem(_) => {
                    fail("token minting needs an HS256 secret, not a public key")
                }
            }
        }
        Command::Migrate { storage, log } => runtime().block_on(async {
            classchat::telemetry::init(&log);
            warn_unknown_env(&Cli::command());
            let url =
                database_url_or_default(storage.database_url.as_deref(), &storage.dir.data_dir);
            if storage.database_url.is_none() {
                classchat::data_dir::prepare_sqlite(&storage.dir.data_dir)
                    .unwrap_or_else(|e| fail(e));
            }
            let store = classchat::storage::Store::connect(&url, storage.db_max_connections)
                .await
                .unwrap_or_else(|e| fail(format!("DATABASE_URL: cannot connect: {e}")));
            store
                .migrate()
                .await
                .unwrap_or_else(|e| fail(format!("migrations failed: {e}")));
            println!("migrations applied ({})", store.kind());
        }),
        Command::Serve(args) => runtime().block_on(async {
            classchat::telemetry::init(&args.log);
            warn_unknown_env(&Cli::command());
            let config = Config::from(*args);
            let running = classchat::start(config).await.unwrap_or_else(|e| fail(e));
            println!(
                "classchat listening api={} socket={} metrics={}",
                running.api_addr, running.socket_addr, running.metrics_addr
            );
            wait_for_signal().await;
            tracing::info!("shutting down");
            running.shutdown().await;
            // Off the workers: the last spans are posted from them while this waits.
            let _ = tokio::task::spawn_blocking(classchat::telemetry::flush).await;
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("cannot start the runtime: {e}")))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .unwrap_or_else(|e| fail(format!("cannot listen for SIGTERM: {e}")));
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
