use clap::Parser;
use pipework::cli;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // A first argument that is neither one of our verbs nor one of our flags is a classic pipework
    // command line (`pipework br1 web 192.168.1.1/24`), parsed by its own grammar.
    if args.get(1).map(String::as_str) == Some(pipework::dhcp::keeper::VERB) {
        std::process::exit(pipework::dhcp::keeper::main(&args[2..]));
    }
    if let Some(first) = args.get(1) {
        let ours = cli::VERBS.contains(&first.as_str())
            || (first.starts_with('-') && first != "--wait" && first != "--direct-phys");
        if !ours {
            let verbose = std::env::var_os("PIPEWORK_VERBOSE").is_some();
            let code = match cli::classic::parse_classic(&args[1..]) {
                Ok(cmd) => match cli::classic::run(cmd, verbose) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("pipework: {e}");
                        1
                    }
                },
                Err(e) => {
                    eprintln!("pipework: {e}");
                    1
                }
            };
            std::process::exit(code);
        }
    }
    let cli = cli::Cli::parse();
    std::process::exit(cli::main_with(cli));
}
