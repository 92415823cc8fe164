//! `mediadocs`: the operator CLI.
//!
//! `migrate` applies the embedded migrations; `ensure-bucket` creates the S3 bucket; `ping`
//! runs the diagnostic workflow through Temporal and a worker, the same way the API does;
//! `sample` runs a recording through the whole stack as the recording app would. Settings
//! come from the same environment variables as the API (see `.env.example`).

mod sample;

use clap::{Parser, Subcommand};
use mediadocs_settings::{DatabaseSettings, S3Settings, TemporalSettings, or_exit};
use mediadocs_store::connect;

#[derive(Parser)]
#[command(name = "mediadocs", version, about = "mediadocs operator CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations (the API and worker also do this on start).
    Migrate,
    /// Create the S3 bucket if it does not exist yet.
    EnsureBucket,
    /// Start the diagnostic ping workflow and print its result.
    Ping {
        #[arg(default_value = "hello from the mediadocs CLI")]
        message: String,
    },
    /// Upload a recording through the API as the recording app does, wait for its pipeline,
    /// and print what it produced.
    Sample {
        #[arg(default_value = "samples/weekly-sync.webm")]
        file: std::path::PathBuf,
        /// The API's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value = "sample@mediadocs.dev")]
        email: String,
        #[arg(long, default_value = "sample-password-1")]
        password: String,
        /// How long to wait for the pipeline: minutes, with models on the CPU.
        #[arg(long, default_value_t = 1800)]
        timeout_secs: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => {
            let database = or_exit(DatabaseSettings::from_env);
            connect::migrate(&database).await?;
            println!("migrations applied");
        }
        Command::EnsureBucket => {
            let s3 = or_exit(S3Settings::from_env);
            let client = connect::s3(&s3);
            if client
                .head_bucket()
                .bucket(&s3.bucket)
                .send()
                .await
                .is_err()
            {
                client.create_bucket().bucket(&s3.bucket).send().await?;
                println!("created bucket {}", s3.bucket);
            }
        }
        Command::Ping { message } => {
            let temporal = or_exit(TemporalSettings::from_env);
            let client = connect::temporal(&temporal, "mediadocs-cli").await?;
            let id = uuid::Uuid::now_v7().to_string();
            let out =
                mediadocs_api::orchestration::ping(&client, &temporal.task_queue, &id, message)
                    .await?;
            println!("{} (diagnostic_pings row {})", out.reply, out.row_id);
        }
        Command::Sample {
            file,
            api,
            email,
            password,
            timeout_secs,
        } => {
            let temporal = or_exit(TemporalSettings::from_env);
            let client = connect::temporal(&temporal, "mediadocs-cli").await?;
            let sample = sample::Sample {
                file,
                api,
                email,
                password,
                timeout: std::time::Duration::from_secs(timeout_secs),
            };
            sample::run(sample, &client).await?;
        }
    }
    Ok(())
}
