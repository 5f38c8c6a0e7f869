//! `screenhub sim teamtailor`: the simulator as a process.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use super::{
    AuthScheme, Faults, KeyForm, LostReply, NewCandidate, NewCompany, PartnerSettings, SimConfig,
    Stack, TeamtailorSim,
};

#[derive(Clone, Copy, ValueEnum)]
enum KeyFormArg {
    Jwt,
    JweA256gcm,
    JweA256gcmHex,
    JweA128gcm,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    Either,
    Token,
    Bearer,
}

#[derive(Clone, Copy, ValueEnum)]
enum StackArg {
    Eu,
    Na,
    Ap,
}

#[derive(Clone, Copy, ValueEnum)]
enum LostReplyArg {
    Drop,
    Delay,
}

#[derive(Args)]
pub struct SimTeamtailorArgs {
    #[arg(long, default_value = "127.0.0.1:8084")]
    listen: SocketAddr,
    /// Where the partner and browsers reach the sim (default: http://<listen>);
    /// the `update-url`s it sends are under it.
    #[arg(long)]
    public_url: Option<String>,
    /// The partner's base URL, e.g. http://127.0.0.1:8080/ats/teamtailor.
    #[arg(long, requires_all = ["api_key", "webhook_secret"])]
    partner_base_url: Option<String>,
    /// The partner API key Teamtailor's Integration's Hub shows.
    #[arg(long)]
    api_key: Option<String>,
    /// The webhook secret key Teamtailor's Integration's Hub shows.
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Create a company and save its activation form with this External
    /// Trigger Token (the partner must be up).
    #[arg(long, requires = "partner_base_url")]
    token: Option<String>,
    #[arg(long, default_value = "Acme")]
    company_name: String,
    /// Once activated, add a trigger on the "Background check" stage picking
    /// this value for the form's `package` field.
    #[arg(long, requires = "token")]
    package: Option<String>,
    #[arg(long, value_enum, default_value = "eu")]
    stack: StackArg,
    /// The provider key's form.
    #[arg(long, value_enum, default_value = "jwt")]
    key_form: KeyFormArg,
    /// Which scheme the Partner API takes with the API key.
    #[arg(long, value_enum, default_value = "either")]
    auth_scheme: SchemeArg,
    /// How long a webhook's reply is waited for (it is never retried).
    #[arg(long, default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// Made-up candidates put into the company's job.
    #[arg(long, default_value_t = 5)]
    candidates: usize,
    #[arg(long)]
    seed: Option<u64>,
    /// Lose the next N webhook replies.
    #[arg(long, default_value_t = 0)]
    lose_webhook_replies: u32,
    #[arg(long, value_enum, default_value = "drop")]
    lost_reply: LostReplyArg,
    #[arg(long, default_value_t = 1_000)]
    webhook_delay_ms: u64,
    /// Sign the next N webhooks with a wrong secret.
    #[arg(long, default_value_t = 0)]
    bad_signatures: u32,
    /// Answer the next N valid Partner API writes with --api-error-status.
    #[arg(long, default_value_t = 0)]
    api_errors: u32,
    /// Share (0–1) of valid writes answered with --api-error-status.
    #[arg(long, default_value_t = 0.0)]
    api_error_rate: f64,
    /// 429 or a 5xx.
    #[arg(long, default_value_t = 503)]
    api_error_status: u16,
    #[arg(long)]
    retry_after_secs: Option<u64>,
}

pub async fn run(args: SimTeamtailorArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        public_url: args.public_url.clone(),
        partner: None,
    };
    let sim = match args.seed {
        Some(seed) => TeamtailorSim::with_seed(config, seed),
        None => TeamtailorSim::new(config),
    };
    sim.set_faults(Faults {
        lose_webhook_replies: args.lose_webhook_replies,
        lost_reply: match args.lost_reply {
            LostReplyArg::Drop => LostReply::Drop,
            LostReplyArg::Delay => LostReply::Delay,
        },
        webhook_delay_ms: args.webhook_delay_ms,
        bad_signatures: args.bad_signatures,
        api_errors: args.api_errors,
        api_error_rate: args.api_error_rate,
        api_error_status: args.api_error_status,
        retry_after_secs: args.retry_after_secs,
        ..Faults::default()
    })
    .map_err(|e| anyhow::anyhow!("fault flags: {e}"))?;
    if let (Some(base_url), Some(api_key), Some(secret)) =
        (&args.partner_base_url, &args.api_key, &args.webhook_secret)
    {
        let mut settings = PartnerSettings::new(base_url.clone(), api_key.clone(), secret.clone());
        settings.key_form = match args.key_form {
            KeyFormArg::Jwt => KeyForm::Jwt,
            KeyFormArg::JweA256gcm => KeyForm::JweA256gcm,
            KeyFormArg::JweA256gcmHex => KeyForm::JweA256gcmHex,
            KeyFormArg::JweA128gcm => KeyForm::JweA128gcm,
        };
        settings.auth_scheme = match args.auth_scheme {
            SchemeArg::Either => AuthScheme::Either,
            SchemeArg::Token => AuthScheme::TokenOnly,
            SchemeArg::Bearer => AuthScheme::BearerOnly,
        };
        settings.webhook_timeout_ms = args.webhook_timeout_ms;
        sim.set_partner(settings).map_err(|e| {
            anyhow::anyhow!(
                "--partner-base-url, --api-key, --webhook-secret, --webhook-timeout-ms: {e}"
            )
        })?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let serving = tokio::spawn(super::serve(listener, sim.clone()));
    if let Some(token) = &args.token {
        let company = sim
            .create_company(NewCompany {
                name: args.company_name.clone(),
                stack: match args.stack {
                    StackArg::Eu => Stack::Eu,
                    StackArg::Na => Stack::Na,
                    StackArg::Ap => Stack::Ap,
                },
                job_title: None,
            })
            .map_err(|e| anyhow::anyhow!("--company-name: {e}"))?;
        for _ in 0..args.candidates.min(200) {
            sim.add_candidate(&company.id, NewCandidate::default())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let mut values = Map::new();
        values.insert("externalTriggerToken".into(), Value::String(token.clone()));
        match sim.activate(&company.id, values).await {
            Ok((true, _)) => {
                println!("{} activated the partner", company.name);
                if let Some(package) = &args.package {
                    let mut values = Map::new();
                    values.insert("package".into(), Value::String(package.clone()));
                    match sim
                        .add_trigger(&company.id, company.stages[2].id, values)
                        .await
                    {
                        Ok(_) => println!("trigger added on Background check"),
                        Err(e) => eprintln!("warning: --package: {e}"),
                    }
                }
            }
            Ok((false, messages)) => {
                eprintln!(
                    "warning: the activation was refused: {}",
                    messages.join(" ")
                );
            }
            Err(e) => eprintln!("warning: activation: {e}"),
        }
    }
    println!("Teamtailor simulator on {base}/ (control API under /_sim)");
    tokio::select! {
        served = serving => served??,
        () = crate::cli::shutdown_signal() => {}
    }
    Ok(())
}
