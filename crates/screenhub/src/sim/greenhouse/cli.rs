//! `screenhub sim greenhouse`: the simulator as a process.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;

use super::{
    Faults, GreenhouseSim, LostReply, Mode, NewCandidate, NewOrg, PartnerSettings, SimConfig,
};

#[derive(Args)]
pub struct SimGreenhouseArgs {
    #[arg(long, default_value = "127.0.0.1:8083")]
    listen: SocketAddr,
    /// Where the partner and browsers reach the sim (default: http://<listen>);
    /// the PATCH `url`s it sends are under it.
    #[arg(long)]
    public_url: Option<String>,
    /// The partner's base URL, e.g. http://127.0.0.1:8080/ats/greenhouse.
    #[arg(long, requires = "org_key")]
    partner_base_url: Option<String>,
    /// The organisation's partner key (the account's External Trigger Token).
    #[arg(long, requires = "partner_base_url")]
    org_key: Option<String>,
    #[arg(long, default_value = "Acme Robotics")]
    org_name: String,
    /// The credential the partner must use on the PATCH (made up and printed when absent).
    #[arg(long, requires = "patch_password")]
    patch_username: Option<String>,
    #[arg(long, requires = "patch_username")]
    patch_password: Option<String>,
    /// `patch` (current contract) or `poll` (legacy: test_status every simulated hour).
    #[arg(long, default_value = "patch", value_parser = parse_mode)]
    mode: Mode,
    /// Keep hourly polling on in `patch` mode too.
    #[arg(long)]
    poll_in_patch_mode: bool,
    /// A loopback or private report link is a violation, as for the real Greenhouse.
    #[arg(long)]
    strict_report_urls: bool,
    /// Simulated seconds per real second (3600: an hour a second).
    #[arg(long, default_value_t = 1.0)]
    clock_speed: f64,
    /// Made-up candidates put into the organisation's job.
    #[arg(long, default_value_t = 5)]
    candidates: usize,
    /// Make made-up data and drawn faults the same on every run.
    #[arg(long)]
    seed: Option<u64>,
    /// Lose the next N send_test replies (the same request is sent again).
    #[arg(long, default_value_t = 0)]
    lose_send_test_replies: u32,
    /// How they are lost: `drop` or `delay`.
    #[arg(long, default_value = "drop", value_parser = parse_lost_reply)]
    lost_reply: LostReply,
    #[arg(long, default_value_t = 1_000)]
    send_test_delay_ms: u64,
    /// Answer the next N good PATCHes with --patch-error-status.
    #[arg(long, default_value_t = 0)]
    patch_errors: u32,
    /// Share (0–1) of good PATCHes answered with --patch-error-status.
    #[arg(long, default_value_t = 0.0)]
    patch_error_rate: f64,
    /// 429 or a 5xx.
    #[arg(long, default_value_t = 503)]
    patch_error_status: u16,
    /// `Retry-After` on those answers, in seconds.
    #[arg(long)]
    retry_after_secs: Option<u64>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "patch" => Ok(Mode::Patch),
        "poll" => Ok(Mode::Poll),
        _ => Err("must be `patch` or `poll`".into()),
    }
}

fn parse_lost_reply(s: &str) -> Result<LostReply, String> {
    match s {
        "drop" => Ok(LostReply::Drop),
        "delay" => Ok(LostReply::Delay),
        _ => Err("must be `drop` or `delay`".into()),
    }
}

pub async fn run(args: SimGreenhouseArgs) -> anyhow::Result<()> {
    if !(0.0..=1_000_000.0).contains(&args.clock_speed) {
        anyhow::bail!("--clock-speed must be between 0 and 1000000");
    }
    let config = SimConfig {
        public_url: args.public_url.clone(),
        clock_speed: args.clock_speed,
        ..SimConfig::default()
    };
    let sim = match args.seed {
        Some(seed) => GreenhouseSim::with_seed(config, seed),
        None => GreenhouseSim::new(config),
    };
    sim.set_faults(Faults {
        lose_send_test_replies: args.lose_send_test_replies,
        lost_reply: args.lost_reply,
        send_test_delay_ms: args.send_test_delay_ms,
        patch_errors: args.patch_errors,
        patch_error_rate: args.patch_error_rate,
        patch_error_status: args.patch_error_status,
        retry_after_secs: args.retry_after_secs,
        seed: None,
    })
    .map_err(|e| anyhow::anyhow!("fault flags: {e}"))?;
    if let (Some(base_url), Some(key)) = (&args.partner_base_url, &args.org_key) {
        let (username, password, made_up) = match (&args.patch_username, &args.patch_password) {
            (Some(u), Some(p)) => (u.clone(), p.clone(), false),
            _ => (
                "greenhouse-partner".to_owned(),
                screenhub_core::secret::generate_token(""),
                true,
            ),
        };
        let mut settings =
            PartnerSettings::new(base_url.clone(), username.clone(), password.clone());
        settings.mode = args.mode;
        settings.poll_in_patch_mode = args.poll_in_patch_mode;
        settings.strict_report_urls = args.strict_report_urls;
        for warning in sim
            .set_partner(settings)
            .map_err(|e| anyhow::anyhow!("--partner-base-url: {e}"))?
        {
            eprintln!("warning: {warning}");
        }
        if made_up {
            println!("PATCH credential for the partner: username {username}, password {password}");
        }
        let org = sim
            .create_org(NewOrg {
                name: args.org_name.clone(),
                key: key.clone(),
                job_name: None,
            })
            .map_err(|e| anyhow::anyhow!("--org-key: {e}"))?;
        for _ in 0..args.candidates.min(200) {
            sim.add_candidate(&org.id, NewCandidate::default())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!(
        "Greenhouse simulator on http://{}/ (control API under /_sim)",
        args.listen
    );
    tokio::select! {
        served = super::serve(listener, sim) => served?,
        () = crate::cli::shutdown_signal() => {}
    }
    Ok(())
}
