//! `mediadocs-dev-s3`: the S3-compatible server the dev stack and the tests run; see
//! `mediadocs_dev::s3` for what it adds to `s3s-fs`.
//!
//! Usage: mediadocs-dev-s3 --host 127.0.0.1 --port 9000 --access-key K --secret-key S ROOT

use std::{net::SocketAddr, path::PathBuf};

use mediadocs_dev::s3;
use tokio::net::TcpListener;

struct Args {
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    root: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut access, mut secret, mut root) =
        ("127.0.0.1".to_owned(), 9000u16, None, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse().map_err(|_| "--port must be a number")?,
            "--access-key" => access = Some(value()?),
            "--secret-key" => secret = Some(value()?),
            other if !other.starts_with('-') => root = Some(PathBuf::from(other)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        addr: format!("{host}:{port}")
            .parse()
            .map_err(|_| "--host and --port must form an address")?,
        access_key: access.ok_or("--access-key is required")?,
        secret_key: secret.ok_or("--secret-key is required")?,
        root: root.ok_or("the data directory is required")?,
    })
}

#[tokio::main]
async fn main() {
    let args = args().unwrap_or_else(|e| {
        eprintln!("mediadocs-dev-s3: {e}\nusage: mediadocs-dev-s3 [--host H] [--port P] --access-key K --secret-key S ROOT");
        std::process::exit(2);
    });
    let service = s3::service(&args.root, args.access_key, args.secret_key);

    let listener = TcpListener::bind(args.addr)
        .await
        .expect("binding the listen address");
    eprintln!("mediadocs-dev-s3 listening on http://{}", args.addr);
    s3::serve(listener, service).await;
}
