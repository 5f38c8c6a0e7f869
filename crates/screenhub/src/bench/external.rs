//! `screenhub bench --external`: the way a user load-tests a service. This
//! process is only the load generator (and the hub's peers); the hub is a
//! separate `screenhub serve` and the bare baseline a separate
//! `screenhub bench-baseline-serve`, both children of this same binary. Both
//! get the same requests over TCP, in alternating rounds, and the report is
//! the ratio between them. With `--callgrind DIR` both children run under
//! callgrind instead and the report is instructions per start.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use tokio::process::{Child, Command};

use super::{baseline, client, connect_peers, drive, BenchArgs, LoadReport, Peers, Tracker};

/// `screenhub bench-baseline-serve`: the bare baseline as a process of its own.
#[derive(Args, Debug, Clone)]
pub struct BaselineServeArgs {
    /// Address to listen on.
    #[arg(long)]
    pub listen: String,
    /// Directory of its SQLite database.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL to write to instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The token it accepts.
    #[arg(long)]
    pub token: String,
    /// The assessment type id it accepts.
    #[arg(long)]
    pub type_id: uuid::Uuid,
}

/// Serve the bare baseline until killed.
pub async fn serve_baseline(args: BaselineServeArgs) -> anyhow::Result<()> {
    let credentials = baseline::Credentials {
        token: args.token,
        type_id: args.type_id,
    };
    let postgres = args.database_url.as_deref();
    let router = baseline::router(
        &args.data_dir,
        postgres,
        baseline::Commit::Group,
        &credentials,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding --listen {}", args.listen))?;
    axum::serve(listener, router).await?;
    Ok(())
}

/// A child process of this binary, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }
}

/// A free port on the loopback interface (bound, read and released).
fn free_address() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// Start `screenhub <args>` (under callgrind, writing into `callgrind`, if
/// given), its log going to `log`, and wait until `url/readyz` answers.
async fn spawn(
    name: &str,
    log: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    url: String,
    callgrind: Option<&Path>,
) -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut command = match callgrind {
        Some(dir) => {
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind")
                .arg(format!(
                    "--callgrind-out-file={}",
                    dir.join(format!("{name}.%p.out")).display()
                ))
                .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its log is still written (the hub logs every order at info), not shown.
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .with_context(|| format!("starting the {name} process"))?;
    let server = Server { child, url };
    let http = reqwest::Client::new();
    let ready_by = Instant::now() + Duration::from_secs(if callgrind.is_some() { 120 } else { 30 });
    while Instant::now() < ready_by {
        let ready = http
            .get(format!("{}/readyz", server.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let said = std::fs::read_to_string(log).unwrap_or_default();
    bail!(
        "the {name} process did not become ready at {}; its log:\n{said}",
        server.url
    )
}

/// One round of one target.
#[derive(Debug, Serialize)]
pub struct Round {
    pub bare: LoadReport,
    pub screenhub: LoadReport,
}

/// Instructions per start under callgrind.
#[derive(Debug, Serialize)]
pub struct Instructions {
    pub requests: u64,
    pub bare_per_start: f64,
    pub screenhub_per_start: f64,
    pub ratio: f64,
    pub profiles: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ExternalReport {
    pub database: String,
    pub concurrency: usize,
    pub rounds: Vec<Round>,
    /// Median throughput ratio, Screenhub / bare (the goal: ≥ 0.8).
    pub throughput_ratio: Option<f64>,
    /// Median p99 ratio, Screenhub / bare (the goal: ≤ 1.5).
    pub p99_ratio: Option<f64>,
    pub load_average: Option<String>,
    pub instructions: Option<Instructions>,
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied()
}

/// The hub and the bare baseline as two processes, loaded alike; prints
/// both and their ratio.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let hub_dir = tmp.path().join("hub");
    let bare_dir = tmp.path().join("bare");
    std::fs::create_dir_all(&bare_dir)?;
    let hub_dir_text = hub_dir.display().to_string();
    // A database of its own: the hub's master key is new in every run. It is
    // dropped when `run_database` goes out of scope.
    let run_database = match &args.database_url {
        Some(server) => Some(
            screenhub_store::testing::fresh_postgres_database(server)
                .await
                .with_context(|| {
                    format!(
                        "creating this run's database on --database-url {}",
                        crate::app::redact(server)
                    )
                })?,
        ),
        None => None,
    };
    let database_url = run_database
        .as_ref()
        .map(|d| d.url().to_owned())
        .unwrap_or_default();
    let mut hub_env = vec![
        ("SCREENHUB_DATA_DIR", hub_dir_text.as_str()),
        ("SCREENHUB_OUTBOUND_ALLOW", "127.0.0.0/8"),
    ];
    if !database_url.is_empty() {
        hub_env.push(("SCREENHUB_DATABASE_URL", database_url.as_str()));
    }
    let exe = std::env::current_exe()?;
    let created = Command::new(&exe)
        .args(["keys", "create", "--name", "bench", "--json"])
        .envs(hub_env.iter().copied())
        .output()
        .await?;
    if !created.status.success() {
        bail!(
            "screenhub keys create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
    }
    let key: serde_json::Value = serde_json::from_slice(&created.stdout)?;
    let api_key = key["api_key"].as_str().context("an API key")?.to_owned();

    let callgrind = args.callgrind.as_deref();
    if let Some(dir) = callgrind {
        std::fs::create_dir_all(dir)?;
    }
    // The hub serves the API only: like the bare baseline, it writes each
    // start's outbox row and leaves delivering it out of the measurement.
    let hub_address = free_address()?;
    let hub = spawn(
        "hub",
        &tmp.path().join("hub.log"),
        &["serve", "--api", "--listen", &hub_address],
        &hub_env,
        format!("http://{hub_address}"),
        callgrind,
    )
    .await?;
    let tracker = Tracker::new();
    let http = client(args);
    let Peers {
        run_id,
        credentials,
        ..
    } = connect_peers(args, &http, &hub.url, &api_key, &tracker).await?;

    let bare_address = free_address()?;
    let type_id = credentials.type_id.to_string();
    let bare_dir_text = bare_dir.display().to_string();
    let mut bare_args = vec![
        "bench-baseline-serve",
        "--listen",
        &bare_address,
        "--data-dir",
        &bare_dir_text,
        "--token",
        &credentials.token,
        "--type-id",
        &type_id,
    ];
    if !database_url.is_empty() {
        bare_args.extend(["--database-url", database_url.as_str()]);
    }
    let bare = spawn(
        "bare",
        &tmp.path().join("bare.log"),
        &bare_args,
        &[],
        format!("http://{bare_address}"),
        callgrind,
    )
    .await?;

    let database = if database_url.is_empty() {
        "SQLite (synchronous=FULL)".to_owned()
    } else {
        crate::app::redact(&database_url)
    };
    let report = match callgrind {
        Some(dir) => {
            let instructions = profile(args, dir, &hub, &bare, &run_id, &credentials).await?;
            ExternalReport {
                database,
                concurrency: args.concurrency,
                rounds: Vec::new(),
                throughput_ratio: None,
                p99_ratio: None,
                load_average: load_average(),
                instructions: Some(instructions),
            }
        }
        None => {
            let mut rounds = Vec::new();
            for round in 0..args.rounds {
                let run = format!("{run_id}-{round}");
                let bare_report = drive(
                    args,
                    &format!("bare baseline, round {}", round + 1),
                    None,
                    super::start_request(client(args), &bare.url, &run, &credentials),
                    |_| {},
                )
                .await;
                let hub_report = drive(
                    args,
                    &format!("screenhub, round {}", round + 1),
                    None,
                    super::start_request(client(args), &hub.url, &run, &credentials),
                    |_| {},
                )
                .await;
                rounds.push(Round {
                    bare: bare_report,
                    screenhub: hub_report,
                });
            }
            let ratios = |f: &dyn Fn(&LoadReport) -> Option<f64>| {
                median(
                    rounds
                        .iter()
                        .filter_map(|r| Some(f(&r.screenhub)? / f(&r.bare)?))
                        .collect(),
                )
            };
            ExternalReport {
                database,
                concurrency: args.concurrency,
                throughput_ratio: ratios(&|l| Some(l.requests_per_sec)),
                p99_ratio: ratios(&|l| Some(l.latency.as_ref()?.p99_ms)),
                rounds,
                load_average: load_average(),
                instructions: None,
            }
        }
    };
    drop((hub, bare, run_database));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Send exactly `count` starts from `concurrency` callers and wait for every answer.
async fn send_exactly(
    args: &BenchArgs,
    url: &str,
    run: &str,
    credentials: &baseline::Credentials,
    count: u64,
) -> anyhow::Result<()> {
    let request = Arc::new(super::start_request(client(args), url, run, credentials));
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (request, next) = (request.clone(), next.clone());
        callers.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    return Ok(());
                }
                let response = request(n).send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "a start failed: HTTP {}",
                    response.status()
                );
                response.bytes().await?;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done??;
    }
    Ok(())
}

/// `callgrind_control <what> <pid>`.
async fn callgrind_control(what: &str, pid: u32) -> anyhow::Result<()> {
    let status = Command::new("callgrind_control")
        .arg(what)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .status()
        .await
        .context("running callgrind_control")?;
    anyhow::ensure!(status.success(), "callgrind_control {what} {pid} failed");
    Ok(())
}

/// The total instruction count (`summary:` / `totals:`) of a callgrind dump.
fn instructions_in(path: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no instruction total in {}", path.display()))
}

/// The newest dump of `pid` in `dir` (callgrind numbers them `.1`, `.2`, …).
fn newest_dump(dir: &Path, name: &str, pid: u32) -> anyhow::Result<PathBuf> {
    let prefix = format!("{name}.{pid}.out.");
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let n: u32 = p
                .file_name()?
                .to_str()?
                .strip_prefix(&prefix)?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
        .with_context(|| format!("no callgrind dump of {name} in {}", dir.display()))
}

/// Warm each server up, zero its counters, send exactly `--profile-requests`
/// starts, and dump: the dump holds those starts' instructions and nothing else
/// but the idle process's timers.
async fn profile(
    args: &BenchArgs,
    dir: &Path,
    hub: &Server,
    bare: &Server,
    run_id: &str,
    credentials: &baseline::Credentials,
) -> anyhow::Result<Instructions> {
    let count = args.profile_requests;
    let mut per_start = Vec::new();
    let mut profiles = Vec::new();
    for (file_name, server) in [("bare", bare), ("hub", hub)] {
        let warm = format!("{run_id}-warm-{file_name}");
        send_exactly(args, &server.url, &warm, credentials, count / 10 + 64).await?;
        callgrind_control("--zero", server.pid()).await?;
        let measured = format!("{run_id}-measured-{file_name}");
        eprintln!("[callgrind] {count} starts to the {file_name} process …");
        send_exactly(args, &server.url, &measured, credentials, count).await?;
        callgrind_control("--dump=measured", server.pid()).await?;
        let dump = newest_dump(dir, file_name, server.pid())?;
        per_start.push(instructions_in(&dump)? as f64 / count as f64);
        profiles.push(dump.display().to_string());
    }
    Ok(Instructions {
        requests: count,
        bare_per_start: per_start[0],
        screenhub_per_start: per_start[1],
        ratio: per_start[1] / per_start[0],
        profiles,
    })
}

fn print_report(r: &ExternalReport) {
    println!();
    println!(
        "screenhub bench --external: screenhub serve vs the bare baseline, two processes, {} ({} connections, load average {})",
        r.database,
        r.concurrency,
        r.load_average.as_deref().unwrap_or("unknown")
    );
    if let Some(i) = &r.instructions {
        println!();
        println!(
            "instructions per start (callgrind, {} starts each): bare {:.0}, screenhub {:.0}, ratio {:.2}×",
            i.requests, i.bare_per_start, i.screenhub_per_start, i.ratio
        );
        for p in &i.profiles {
            println!("  profile: {p}");
        }
        return;
    }
    println!();
    println!(
        "{:<8} {:>12} {:>10} {:>12} {:>10} {:>8} {:>8}",
        "round", "bare req/s", "bare p99", "hub req/s", "hub p99", "ratio", "p99 ×"
    );
    for (i, round) in r.rounds.iter().enumerate() {
        let p99 = |l: &LoadReport| l.latency.as_ref().map_or(f64::NAN, |l| l.p99_ms);
        println!(
            "{:<8} {:>12.0} {:>8.1}ms {:>12.0} {:>8.1}ms {:>7.2}× {:>7.2}×  errors {} / {}",
            i + 1,
            round.bare.requests_per_sec,
            p99(&round.bare),
            round.screenhub.requests_per_sec,
            p99(&round.screenhub),
            round.screenhub.requests_per_sec / round.bare.requests_per_sec,
            p99(&round.screenhub) / p99(&round.bare),
            round.bare.errors,
            round.screenhub.errors,
        );
    }
    println!();
    println!(
        "median ratio, screenhub / bare: throughput {:.2}× (goal ≥ 0.8×), p99 {:.2}× (goal ≤ 1.5×)",
        r.throughput_ratio.unwrap_or(f64::NAN),
        r.p99_ratio.unwrap_or(f64::NAN)
    );
}
