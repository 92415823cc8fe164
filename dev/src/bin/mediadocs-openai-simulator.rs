//! `mediadocs-openai-simulator`: the OpenAI API simulator from `mediadocs-tests`, as a server
//! for the dev stack. It runs no model; see `mediadocs_dev::openai`.
//!
//! Usage: mediadocs-openai-simulator [--addr 127.0.0.1:8089]   (or OPENAI_SIMULATOR_ADDR)
//! Knobs: POST /_simulator/knobs with a partial JSON object; counters: GET /_simulator/calls.

use std::net::SocketAddr;

use mediadocs_dev::openai::OpenAiSimulator;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [] => std::env::var("OPENAI_SIMULATOR_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into()),
        [flag, addr] if flag == "--addr" => addr.clone(),
        _ => {
            eprintln!("usage: mediadocs-openai-simulator [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    let addr: SocketAddr = addr.parse().unwrap_or_else(|_| {
        eprintln!("--addr must be HOST:PORT, such as 127.0.0.1:8089 (got {addr:?})");
        std::process::exit(2);
    });
    let simulator = OpenAiSimulator::bind(addr).await.unwrap_or_else(|e| {
        eprintln!("cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    // Scripts read this line to learn the port.
    println!(
        "OpenAI simulator (not OpenAI) listening on {}",
        simulator.base_url()
    );
    simulator.wait().await;
}
