//! The `classchat` binary: `serve` (default), `migrate`, `token`.

use std::time::Duration;

use clap::{Parser, Subcommand};

use classchat::config::{Config, JwtKey};
use classchat::domain::Role;

#[derive(Parser)]
#[command(
    name = "classchat",
    version,
    about = "Real-time chat backend: REST :4500, Socket.IO :4501, metrics :9464"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print an HS256 token signed with the configured (or generated) secret.
    Token {
        #[arg(long)]
        sub: String,
        #[arg(long, default_value = "student")]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
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
    let cli = Cli::parse();
    let config = Config::from_env().unwrap_or_else(|e| fail(e));
    match cli.command.unwrap_or(Command::Serve) {
        Command::Token {
            sub,
            role,
            name,
            ttl,
        } => {
            let role = Role::parse(&role)
                .unwrap_or_else(|| fail("--role must be student, teacher or admin"));
            let ttl = parse_ttl(&ttl).unwrap_or_else(|| fail("--ttl must look like 30m, 1h or 7d"));
            if sub.is_empty() || sub.chars().count() > 128 {
                fail("--sub must be 1-128 characters");
            }
            match classchat::auth::resolve_key(&config).unwrap_or_else(|e| fail(e)) {
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
        Command::Migrate => runtime().block_on(async {
            classchat::telemetry::init();
            let store = classchat::storage::Store::connect(&config.effective_database_url(), 2)
                .await
                .unwrap_or_else(|e| fail(format!("DATABASE_URL: cannot connect: {e}")));
            store
                .migrate()
                .await
                .unwrap_or_else(|e| fail(format!("migrations failed: {e}")));
            println!("migrations applied ({})", store.kind());
        }),
        Command::Serve => runtime().block_on(async {
            classchat::telemetry::init();
            let running = classchat::start(config).await.unwrap_or_else(|e| fail(e));
            println!(
                "classchat listening api={} socket={} metrics={}",
                running.api_addr, running.socket_addr, running.metrics_addr
            );
            wait_for_signal().await;
            tracing::info!("shutting down");
            running.shutdown().await;
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
