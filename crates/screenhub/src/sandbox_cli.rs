//! The sandbox commands: `screenhub sim ashby`, `screenhub sim greenhouse`,
//! `screenhub sim vendor` and `screenhub demo`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::demo::{print_summary, run_auto, Demo, DemoSetup};
use crate::sim::ashby::{AshbySim, ErrorKind, Faults, SimConfig};
use crate::sim::vendor::{OutcomePolicy, ReferenceVendor, Scenario, VendorConfig};

#[derive(Subcommand)]
pub enum SimCommand {
    /// A local Ashby: its public API, its partner-API driver, a recruiter's web page.
    Ashby(SimAshbyArgs),
    /// A local Greenhouse: calls a partner's assessment endpoints, checks every
    /// answer, serves the PATCH endpoint, and shows a recruiter's pages.
    Greenhouse(crate::sim::greenhouse::cli::SimGreenhouseArgs),
    /// A local Teamtailor: activation, trigger form, the order webhook, the
    /// Partner API with strict checks, and a recruiter's result cards.
    Teamtailor(crate::sim::teamtailor::cli::SimTeamtailorArgs),
    /// The reference vendor: an example integration with the vendor API.
    Vendor(SimVendorArgs),
}

#[derive(Args)]
pub struct SimAshbyArgs {
    #[arg(long, default_value = "127.0.0.1:8081", value_parser = crate::config::parse_listen)]
    listen: SocketAddr,
    /// An Ashby API key the sim accepts, with the permissions the hub's connect
    /// page asks for (repeat for more).
    #[arg(long = "api-key")]
    api_keys: Vec<String>,
    /// An Ashby API key that exists but is deactivated (answered 403).
    #[arg(long = "revoked-api-key")]
    revoked_api_keys: Vec<String>,
    /// The partner's base URL, e.g. http://127.0.0.1:8080/ats/ashby.
    #[arg(long, requires = "partner_key")]
    partner_base_url: Option<String>,
    /// The partner key Ashby sends: the account's External Trigger Token.
    #[arg(long, requires = "partner_base_url")]
    partner_key: Option<String>,
    /// Make faults and made-up data the same on every run.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    faults: FaultArgs,
}

/// Faults on the public API (also settable with `POST /_sim/faults`).
#[derive(Args)]
pub struct FaultArgs {
    /// Share of requests (0–1) that fail.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// How they fail: `http_500` or `success_false`.
    #[arg(long, default_value = "http_500", value_parser = parse_error_kind)]
    error_kind: ErrorKind,
    /// Added to every request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of requests held for --timeout-ms, then answered 504.
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    /// How long a --timeout-rate request is held before its 504.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
    /// Share of requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// Share of requests whose connection is closed without an answer.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Mark 429s `X-RateLimit-Scope: integration-partner`.
    #[arg(long)]
    rate_limit_scope_partner: bool,
    /// `Retry-After` on 429s, in seconds.
    #[arg(long)]
    retry_after_secs: Option<u64>,
}

fn parse_error_kind(s: &str) -> Result<ErrorKind, String> {
    match s {
        "http_500" => Ok(ErrorKind::Http500),
        "success_false" => Ok(ErrorKind::SuccessFalse),
        _ => Err("must be `http_500` or `success_false`".into()),
    }
}

impl FaultArgs {
    fn faults(&self, seed: Option<u64>) -> Faults {
        Faults {
            error_rate: self.error_rate,
            error_kind: self.error_kind,
            latency_ms: self.latency_ms,
            timeout_rate: self.timeout_rate,
            timeout_ms: self.timeout_ms,
            rate_limit_rate: self.rate_limit_rate,
            drop_rate: self.drop_rate,
            rate_limit_scope_partner: self.rate_limit_scope_partner,
            retry_after_secs: self.retry_after_secs,
            seed,
        }
    }
}

#[derive(Args)]
pub struct SimVendorArgs {
    #[arg(long, default_value = "127.0.0.1:8082", value_parser = crate::config::parse_listen)]
    listen: SocketAddr,
    /// The hub's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    hub_url: String,
    /// A vendor API key (`screenhub keys create`).
    #[arg(long, env = "SCREENHUB_VENDOR_API_KEY")]
    api_key: String,
    /// Where the hub and browsers reach this vendor (default: http://<listen>).
    #[arg(long)]
    public_url: Option<String>,
    /// From `order.created` to `in_progress`.
    #[arg(long, default_value_t = 2_000)]
    progress_after_ms: u64,
    /// From `in_progress` to the result.
    #[arg(long, default_value_t = 8_000)]
    complete_after_ms: u64,
    /// PACKAGE=SCENARIO: how orders for a package end (pass, fail, review,
    /// scored, failed, cancel, hold); otherwise at random. A `+scenario` tag in
    /// the candidate's email wins over both.
    #[arg(long = "outcome", value_parser = parse_outcome)]
    outcomes: Vec<(String, Scenario)>,
    /// Make the random outcomes and report contents the same on every run.
    #[arg(long)]
    seed: Option<u64>,
}

fn parse_outcome(s: &str) -> Result<(String, Scenario), String> {
    let (package, scenario) = s
        .split_once('=')
        .ok_or("expected PACKAGE=SCENARIO, e.g. standard-background=review")?;
    let scenario = Scenario::parse(scenario).ok_or_else(|| {
        format!(
            "unknown scenario `{scenario}`; use pass, fail, review, scored, failed, cancel or hold"
        )
    })?;
    Ok((package.to_owned(), scenario))
}

#[derive(Args)]
pub struct DemoArgs {
    /// Drive candidates through the whole flow, print their timelines and a summary, and exit.
    #[arg(long)]
    auto: bool,
    /// How many candidates --auto drives.
    #[arg(long, default_value_t = 21)]
    candidates: usize,
    /// Keep the database here instead of in a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The hub's address (default 127.0.0.1:8080; any free port with --auto).
    #[arg(long, value_parser = crate::config::parse_listen)]
    listen: Option<SocketAddr>,
    /// The Ashby simulator's address (default 127.0.0.1:8081).
    #[arg(long, value_parser = crate::config::parse_listen)]
    ashby_listen: Option<SocketAddr>,
    /// The reference vendor's address (default 127.0.0.1:8082).
    #[arg(long, value_parser = crate::config::parse_listen)]
    vendor_listen: Option<SocketAddr>,
    /// The Greenhouse simulator's address (default 127.0.0.1:8083).
    #[arg(long)]
    greenhouse_listen: Option<SocketAddr>,
    /// With --auto: how long an order may take to reach its end in Ashby.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    #[command(flatten)]
    faults: FaultArgs,
}

pub async fn run_sim(command: SimCommand) -> anyhow::Result<()> {
    match command {
        SimCommand::Ashby(args) => {
            let mut api_keys = args.api_keys.clone();
            api_keys.extend(args.revoked_api_keys.iter().cloned());
            let config = SimConfig {
                api_keys,
                partner_base_url: args.partner_base_url.clone(),
                partner_key: args.partner_key.clone(),
            };
            let sim = match args.seed {
                Some(seed) => AshbySim::with_seed(config, seed),
                None => AshbySim::new(config),
            };
            for key in &args.revoked_api_keys {
                sim.revoke_key(key);
            }
            sim.set_faults(args.faults.faults(None))
                .map_err(anyhow::Error::msg)?;
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            println!(
                "Ashby simulator on http://{}/ (control API under /_sim)",
                args.listen
            );
            tokio::select! {
                served = crate::sim::ashby::serve(listener, sim) => served?,
                () = crate::cli::shutdown_signal() => {}
            }
            Ok(())
        }
        SimCommand::Greenhouse(args) => crate::sim::greenhouse::cli::run(args).await,
        SimCommand::Teamtailor(args) => crate::sim::teamtailor::cli::run(args).await,
        SimCommand::Vendor(args) => {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            let vendor = ReferenceVendor::start(
                listener,
                VendorConfig {
                    hub_url: args.hub_url.clone(),
                    api_key: args.api_key,
                    public_url: args.public_url,
                    progress_after: Duration::from_millis(args.progress_after_ms),
                    complete_after: Duration::from_millis(args.complete_after_ms),
                    policy: OutcomePolicy {
                        per_package: args.outcomes.into_iter().collect(),
                    },
                    seed: args.seed,
                },
            )
            .await
            .with_context(|| format!("connecting to the hub at {}", args.hub_url))?;
            println!(
                "Reference vendor on {}: catalog published and webhook endpoint registered at {}",
                vendor.url(),
                args.hub_url
            );
            crate::cli::shutdown_signal().await;
            Ok(())
        }
    }
}

pub async fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    let defaults = DemoSetup::default();
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let or = |given: Option<SocketAddr>, interactive: SocketAddr| {
        given.unwrap_or(if args.auto { any_port } else { interactive })
    };
    let setup = DemoSetup {
        data_dir: args.data_dir.clone(),
        hub_listen: or(args.listen, defaults.hub_listen),
        ashby_listen: or(args.ashby_listen, defaults.ashby_listen),
        vendor_listen: or(args.vendor_listen, defaults.vendor_listen),
        greenhouse_listen: or(args.greenhouse_listen, defaults.greenhouse_listen),
        // Quick enough to watch, slow enough to see each step.
        progress_after: if args.auto {
            Duration::from_millis(300)
        } else {
            defaults.progress_after
        },
        complete_after: if args.auto {
            Duration::from_millis(1_000)
        } else {
            defaults.complete_after
        },
        retry_schedule_ms: Some(vec![
            0, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
        ]),
        faults: args.faults.faults(None),
        seed: None,
        vendor_policy: Default::default(),
        enable_ashby_integration: true,
    };
    let demo = Demo::start(setup).await?;
    let mut stdout = std::io::stdout();
    if !args.auto {
        demo.print_urls(&mut stdout)?;
        println!("\nOpen the Ashby page and walk the flow as a recruiter. Ctrl-C stops the demo.");
        crate::cli::shutdown_signal().await;
        return demo.stop().await;
    }
    // No URLs here: they stop working when --auto exits.
    println!(
        "Screenhub demo: the hub, a simulated Ashby and the reference vendor, in this process until the run ends.\n"
    );
    let out: Arc<Mutex<dyn Write + Send>> = Arc::new(Mutex::new(std::io::stdout()));
    let report = run_auto(
        &demo,
        args.candidates,
        Duration::from_secs(args.timeout_secs),
        out,
    )
    .await?;
    print_summary(&report, &mut stdout)?;
    demo.stop().await?;
    println!(
        "\nTo click through the same flow yourself: screenhub demo (without --auto) keeps running until Ctrl-C."
    );
    anyhow::ensure!(
        report.all_reached_their_ats(),
        "some orders did not end in their ATS as the vendor decided"
    );
    Ok(())
}
