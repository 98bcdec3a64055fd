//! `foredeck schedule`: inspect cron schedules.

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use foredeck::CronSchedule;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
enum ScheduleCommand {
    /// Print the next fire times of a cron pattern, one RFC 3339 instant per
    /// line with the zone's offset.
    Next(NextArgs),
}

#[derive(Debug, Args)]
struct NextArgs {
    /// Quartz (`0 30 2 * * ?`, optional year) or Unix 5-field (`30 2 * * 1-5`) pattern.
    #[arg(long, value_name = "EXPR")]
    cron: String,
    /// IANA time zone, e.g. `Europe/Berlin` (default: the server's zone: `TZ`,
    /// else the system zone, else UTC).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Start instant (RFC 3339); fire times strictly after it are printed
    /// (default: now).
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,
    /// How many fire times to print.
    #[arg(long, default_value_t = 5)]
    count: usize,
}

pub async fn run(a: ScheduleArgs) -> anyhow::Result<u8> {
    match a.command {
        ScheduleCommand::Next(a) => next(a),
    }
}

fn next(a: NextArgs) -> anyhow::Result<u8> {
    let from: DateTime<Utc> = match &a.from {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--from {s:?} is not an RFC 3339 instant"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let schedule = CronSchedule::parse_at(&a.cron, a.tz.as_deref(), from)?;
    for t in schedule.upcoming(from, a.count) {
        println!("{}", schedule.to_local(t).to_rfc3339());
    }
    Ok(0)
}
