use clap::Parser;
use pipework::cli;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // A first argument that is neither one of our verbs nor one of our flags is a classic pipework
    // command line (`pipework br1 web 192.168.1.1/24`), parsed by its own grammar. `-v` is global:
    // it may stand before a classic command line too (`pipework -v br1 web 198.18.0.2/24`).
    match args.get(1).map(String::as_str) {
        Some(pipework::dhcp::keeper::VERB) => {
            std::process::exit(pipework::dhcp::keeper::main(&args[2..]))
        }
        Some(pipework::dhcp::warden::VERB) => {
            std::process::exit(pipework::dhcp::warden::main(&args[2..]))
        }
        // A CNI runtime runs its plugins with no arguments and CNI_COMMAND set.
        None if std::env::var_os("CNI_COMMAND").is_some() => {
            std::process::exit(pipework::cni::main())
        }
        _ => {}
    }
    let flags = args[1..]
        .iter()
        .take_while(|a| matches!(a.as_str(), "-v" | "--verbose"))
        .count();
    if let Some(first) = args.get(1 + flags) {
        let ours = cli::VERBS.contains(&first.as_str())
            || (first.starts_with('-') && first != "--wait" && first != "--direct-phys");
        if !ours {
            let verbose = flags > 0 || std::env::var_os("PIPEWORK_VERBOSE").is_some();
            let code = match cli::classic::parse_classic(&args[1 + flags..]) {
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
