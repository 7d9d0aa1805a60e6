use clap::Parser;

fn main() {
    let cli = pipework::cli::Cli::parse();
    std::process::exit(pipework::cli::main_with(cli));
}
