//! The `screenhub` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use screenhub_core::account::{Ats, Environment};
use screenhub_core::clock::{rfc3339, Clock, SystemClock};
use screenhub_store::NewAccount;
use serde_json::json;

use crate::app::{open_existing_store, open_or_create_store, Hub, Roles};
use crate::config::{Config, Overrides};

#[derive(Parser)]
#[command(
    name = "screenhub",
    version,
    about = "A self-hostable hub between applicant tracking systems and background-check vendors."
)]
struct Cli {
    /// A TOML configuration file (see config.default.toml for every setting).
    #[arg(long, global = true, env = "SCREENHUB_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: the vendor API, Ashby's partner API and the delivery worker.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Vendor API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Employer accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Print the vendor API's OpenAPI document.
    Openapi,
    /// Simulators: a local Ashby, and the reference vendor.
    #[command(subcommand)]
    Sim(crate::sandbox_cli::SimCommand),
    /// The hub, a simulated Ashby and the reference vendor in one process.
    Demo(crate::sandbox_cli::DemoArgs),
    /// Load-test a hub (in-process by default) through Ashby's start and the vendor API.
    Bench(crate::bench::BenchArgs),
    /// The bare baseline of `bench --external`, as a process of its own.
    #[command(hide = true)]
    BenchBaselineServe(crate::bench::BaselineServeArgs),
}

#[derive(Args, Default)]
struct DbArgs {
    /// Database URL (default: SQLite in the data directory).
    #[arg(long, env = "SCREENHUB_DATABASE_URL")]
    database_url: Option<String>,
    /// Directory for the SQLite database and the master key file.
    #[arg(long, env = "SCREENHUB_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "SCREENHUB_LISTEN")]
    listen: Option<String>,
    #[command(flatten)]
    db: DbArgs,
    /// Serve the HTTP APIs (with --worker: both; neither flag: both).
    #[arg(long)]
    api: bool,
    /// Run the delivery worker.
    #[arg(long)]
    worker: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a vendor API key; it is printed once.
    Create {
        /// What the key is for, e.g. "billing backend" (shown in lists and the audit log).
        #[arg(long)]
        name: String,
        /// Print `{"id", "api_key"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List vendor API keys (never their secrets).
    List {
        /// One JSON object per line: id, name, prefix, created_at, revoked_at.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Re-encrypt every secret and all candidate data under a new master key
    /// (written to <data_dir>/master.key; the old one is kept as master.key.previous).
    RotateMaster {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a vendor API key: requests with it are refused from now on.
    Revoke {
        /// The key's id (`key_…`, from `screenhub keys list`), not the secret.
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create an employer account and print its External Trigger Token.
    Create {
        /// The employer's name, e.g. "Acme Corp".
        #[arg(long)]
        name: String,
        /// The employer's ATS: `ashby` or `greenhouse`.
        #[arg(long, default_value = "ashby")]
        ats: String,
        /// Ashby only: Ashby's public API base URL for this account (default: Ashby's).
        #[arg(long)]
        ats_api_base_url: Option<String>,
        /// `production` or `test`.
        #[arg(long, default_value = "production")]
        environment: String,
        /// Print `{"id", "external_trigger_token", "ats_partner_base_url"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Erase an account and everything it owns (orders, candidate data,
    /// timeline, deliveries, tokens). Irreversible.
    Erase {
        /// The account id (`acct_…`).
        id: String,
        /// Confirm: without it nothing is erased.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List accounts.
    List {
        /// One JSON object per line: id, name, status, status_reason.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print a one-time link to the employer's connect page for ACCOUNT.
    ConnectLink {
        /// The account id (`acct_…`).
        account: String,
        /// Seconds until the link expires (default 7 days, at most 30 days).
        #[arg(long)]
        expires_in: Option<u64>,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause said once: libraries often
/// repeat their source's message in their own (`database error: X: X`).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line.replace('\n', " ")
}

fn load(
    config: Option<&std::path::Path>,
    db: &DbArgs,
    listen: Option<String>,
) -> anyhow::Result<Config> {
    let overrides = Overrides {
        listen,
        database_url: db.database_url.clone(),
        data_dir: db.data_dir.clone(),
    };
    Config::load(config, &overrides)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => {
            let config = load(file, &args.db, args.listen)?;
            crate::app::init_tracing(config.log_format);
            let roles = if args.api || args.worker {
                Roles {
                    api: args.api,
                    worker: args.worker,
                }
            } else {
                Roles::default()
            };
            let _lock = crate::app::lock_data_dir(&config)?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("listening on {}", config.listen))?;
            let hub = Hub::start(config, listener, roles).await?;
            tracing::info!(
                url = %hub.url(),
                partner_base_url = %hub.state.ats_partner_base_url(),
                database = %crate::app::redact(&hub.state.config.database_url()),
                api = roles.api,
                worker = roles.worker,
                "screenhub is ready"
            );
            let token = hub.shutdown_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: finishing requests and deliveries in flight");
                token.cancel();
            });
            hub.wait().await
        }
        Command::Migrate(db) => {
            let config = load(file, &db, None)?;
            open_or_create_store(&config).await?;
            println!(
                "database is up to date: {}",
                crate::app::redact(&config.database_url())
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Create { name, json, db }) => {
            let config = load(file, &db, None)?;
            let store = open_or_create_store(&config).await?;
            let name =
                crate::api::v1::validate_name(&name).map_err(|e| anyhow::anyhow!(e.message))?;
            let (key, secret) = store.create_api_key(&name, SystemClock.now_ms()).await?;
            store
                .record_audit(
                    "cli",
                    "api_key.created",
                    Some(("api_key", key.id.as_str())),
                    &json!({ "name": name }),
                    SystemClock.now_ms(),
                )
                .await?;
            if json {
                println!("{}", json!({ "id": key.id, "api_key": secret }));
            } else {
                println!(
                    "Created vendor API key {} ({name}):\n\n  {secret}\n",
                    key.id
                );
                println!(
                    "Store it now: it is shown only once. Use it as `Authorization: Bearer <key>`."
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::List { json, db }) => {
            let store = open_existing_store(&load(file, &db, None)?).await?;
            for key in store.list_api_keys().await? {
                if json {
                    println!(
                        "{}",
                        json!({
                            "id": key.id,
                            "name": key.name,
                            "prefix": key.prefix,
                            "created_at": rfc3339(key.created_at),
                            "revoked_at": key.revoked_at.map(rfc3339),
                        })
                    );
                    continue;
                }
                let state = key
                    .revoked_at
                    .map(|t| format!("revoked {}", rfc3339(t)))
                    .unwrap_or_else(|| "active".into());
                println!(
                    "{}  {:<24}  {}  created {}  {state}",
                    key.id,
                    key.name,
                    key.prefix,
                    rfc3339(key.created_at)
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::RotateMaster { db }) => {
            let config = load(file, &db, None)?;
            crate::app::require_database(&config)?;
            let resealed = crate::app::rotate_master_key(&config).await?;
            let store = open_existing_store(&config).await?;
            store
                .record_audit(
                    "cli",
                    "master_key.rotated",
                    None,
                    &json!({ "resealed": resealed }),
                    SystemClock.now_ms(),
                )
                .await?;
            println!("re-encrypted {resealed} values under a new master key; the previous key is in master.key.previous (for old backups)");
            Ok(())
        }
        Command::Keys(KeysCommand::Revoke { id, db }) => {
            let store = open_existing_store(&load(file, &db, None)?).await?;
            let id = id.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            store
                .revoke_api_key(&id, SystemClock.now_ms())
                .await
                .context("revoking the key")?;
            store
                .record_audit(
                    "cli",
                    "api_key.revoked",
                    Some(("api_key", id.as_str())),
                    &json!({}),
                    SystemClock.now_ms(),
                )
                .await?;
            println!("revoked {id}");
            Ok(())
        }
        Command::Accounts(AccountsCommand::Create {
            name,
            ats,
            ats_api_base_url,
            environment,
            json,
            db,
        }) => {
            let config = load(file, &db, None)?;
            let store = open_or_create_store(&config).await?;
            let name =
                crate::api::v1::validate_name(&name).map_err(|e| anyhow::anyhow!(e.message))?;
            let environment = Environment::parse(&environment)
                .ok_or_else(|| anyhow::anyhow!("--environment must be `production` or `test`"))?;
            let ats = Ats::parse(&ats)
                .ok_or_else(|| anyhow::anyhow!("--ats must be `ashby` or `greenhouse`"))?;
            anyhow::ensure!(
                ats == Ats::Ashby || ats_api_base_url.is_none(),
                "--ats-api-base-url applies to Ashby accounts only"
            );
            let base = ats_api_base_url.unwrap_or_else(|| match ats {
                Ats::Ashby => config.ashby_api_base_url.clone(),
                other => other.default_api_base_url().to_owned(),
            });
            screenhub_core::order::validate_http_url(&base)
                .map_err(|e| anyhow::anyhow!("--ats-api-base-url {e}"))?;
            let new = NewAccount {
                name,
                ats,
                environment,
                ats_api_base_url: base.trim_end_matches('/').to_owned(),
            };
            let (account, token) = store.create_account(new, SystemClock.now_ms()).await?;
            store
                .record_audit(
                    "cli",
                    "account.created",
                    Some(("account", account.id.as_str())),
                    &json!({ "name": account.name }),
                    SystemClock.now_ms(),
                )
                .await?;
            let partner_base_url =
                format!("{}/ats/{}", config.public_url(config.listen), ats.as_str());
            if json {
                println!(
                    "{}",
                    json!({ "id": account.id, "external_trigger_token": token, "ats_partner_base_url": partner_base_url })
                );
            } else {
                println!("Created account {} ({}).\n", account.id, account.name);
                match ats {
                    Ats::Ashby => println!("The employer pastes this External Trigger Token into Ashby (Admin → Integrations → your integration → API Key):\n\n  {token}\n"),
                    Ats::Greenhouse => println!("The employer sends this External Trigger Token to Greenhouse Support (through the secure link Support replies with, never in the ticket):\n\n  {token}\n"),
                }
                println!("{} calls the hub at: {partner_base_url}", ats.label());
            }
            Ok(())
        }
        Command::Accounts(AccountsCommand::Erase { id, yes, db }) => {
            let store = open_existing_store(&load(file, &db, None)?).await?;
            let id: screenhub_core::AccountId = id.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let account = store
                .get_account(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("there is no account {id}"))?;
            if !yes {
                anyhow::bail!(
                    "this erases {} ({id}) and all its orders and candidate data for good; run again with --yes to confirm",
                    account.name
                );
            }
            store.erase_account(&id).await?;
            store
                .record_audit(
                    "cli",
                    "account.erased",
                    Some(("account", id.as_str())),
                    &json!({ "name": account.name }),
                    SystemClock.now_ms(),
                )
                .await?;
            println!("erased {id} ({})", account.name);
            Ok(())
        }
        Command::Accounts(AccountsCommand::List { json, db }) => {
            let store = open_existing_store(&load(file, &db, None)?).await?;
            let accounts = store.list_accounts(None, 1000).await?;
            for a in accounts {
                if json {
                    println!(
                        "{}",
                        json!({ "id": a.id, "name": a.name, "status": a.status(), "status_reason": a.status_reason })
                    );
                } else {
                    println!(
                        "{}  {:<30}  {:<8}  {}",
                        a.id,
                        a.name,
                        a.status().as_str(),
                        a.status_reason.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        Command::Accounts(AccountsCommand::ConnectLink {
            account,
            expires_in,
            db,
        }) => {
            let config = load(file, &db, None)?;
            let store = open_existing_store(&config).await?;
            let account = account
                .parse()
                .map_err(|_| anyhow::anyhow!("`{account}` is not an account id (acct_…)"))?;
            let (url, expires_at) = crate::ops::create_connect_link(
                &store,
                "cli",
                &config.public_url(config.listen),
                &account,
                expires_in,
                SystemClock.now_ms(),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{url}");
            eprintln!(
                "Send it to the employer's Ashby admin. It works until {} or until the connection is complete.",
                screenhub_core::clock::rfc3339(expires_at)
            );
            Ok(())
        }
        Command::Bench(args) => crate::bench::run(args).await,
        Command::BenchBaselineServe(args) => crate::bench::serve_baseline(args).await,
        Command::Openapi => {
            println!("{}", crate::api::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Sim(command) => {
            crate::app::init_tracing(crate::config::LogFormat::Text);
            crate::sandbox_cli::run_sim(command).await
        }
        Command::Demo(args) => crate::sandbox_cli::run_demo(args).await,
    }
}

/// SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
