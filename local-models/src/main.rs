fn main() {
    eprintln!("mediadocs-local-models: not wired yet");
    std::process::exit(2);
}
