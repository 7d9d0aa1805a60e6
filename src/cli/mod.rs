//! The command line: our verbs (`run`, `repl`, `check`, `doc`, `recipes`, `completions`, `-e`), all of
//! which end up in the same Rhai engine and `Session`.

/// `println!`/`print!` for what we say on stdout: a reader that went away (`pipework … | head -1`)
/// loses the rest of the text, and the command still finishes its work and exits as it would
/// (std's macros panic there).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

pub mod classic;

use crate::script;
use crate::session::Session;
use clap::{CommandFactory, Parser, Subcommand};
use std::rc::Rc;

#[derive(Parser, Debug)]
#[command(
    name = "pipework",
    version,
    about = "Scriptable software-defined networking for Linux containers and namespaces",
    long_about = "Scriptable software-defined networking for Linux containers and namespaces.\n\n\
        Run a recipe (`pipework run lamp web=web db=db`), experiment in the REPL (`pipework repl`),\n\
        or run one function from the shell (`pipework -e 'veth(netns(\"web\"), bridge(\"br1\"), #{ip: \"198.18.0.2/24\"})'`).",
    args_conflicts_with_subcommands = true,
    after_help = classic::GRAMMAR
)]
pub struct Cli {
    /// Log every netlink operation to stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Evaluate one Rhai expression or statement list and print its value
    #[arg(short = 'e', long = "eval", value_name = "EXPR")]
    pub eval: Option<String>,

    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run a script or embedded recipe; KEY=VALUE pairs reach it as `params`
    Run {
        /// Script file, or the name of an embedded recipe (see `pipework recipes`)
        file: String,
        /// Parameters for the script, KEY=VALUE
        params: Vec<String>,
        /// On failure, keep what the run created instead of rolling it back
        #[arg(long)]
        keep: bool,
        /// Owner of what the run creates (default: the script's name), so one recipe can run
        /// more than once side by side; `pipework down OWNER` removes one of them
        #[arg(long)]
        owner: Option<String>,
        /// Write every event of the script's timeline (`play()`: actions, flaps, what was put
        /// back) to FILE, one JSON object per line
        #[arg(long, value_name = "FILE")]
        timeline: Option<std::path::PathBuf>,
    },
    /// Draw a `run --timeline` record: each probe's RTT and loss over time, with every change the
    /// timeline made marked (SVG or PNG)
    Plot {
        /// The record (JSON lines, as `pipework run FILE --timeline OUT` writes it)
        record: std::path::PathBuf,
        /// Where to draw it (.svg, or .png with the machine's fonts)
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: std::path::PathBuf,
    },
    /// Remove everything owners created, as `down(owner)` does in a script; every error is
    /// reported, none stops the rest
    Down {
        /// Whose objects (the `owner(...)` of a script, a recipe's name, a classic container's)
        #[arg(required_unless_present_any = ["stale", "all"], conflicts_with_all = ["stale", "all"])]
        owners: Vec<String>,
        /// Every owner anything of pipework's is marked for (only objects carrying our markers)
        #[arg(long, conflicts_with = "stale")]
        all: bool,
        /// Instead: finish what killed pipework processes left half-made, for every owner
        #[arg(long)]
        stale: bool,
    },
    /// What pipework has wired, read live from the kernel, OVSDB and our records: guests, their
    /// interfaces, addresses, MACs, VLANs, host ends, bridges, owners, DHCP clients
    Show {
        /// Only this owner's objects, or only this guest's (`web`, `netns:web`, `container:web`)
        select: Option<String>,
        /// The stable JSON form (schema: docs/show.md)
        #[arg(long)]
        json: bool,
    },
    /// The same as a picture: Graphviz DOT (`| dot -Tsvg > topo.svg`) or Mermaid
    Graph {
        /// Only this owner's objects, or only this guest's
        select: Option<String>,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// The live wiring as a script that makes it again: `pipework save lab > lab.rhai`, later
    /// `pipework run lab.rhai`
    Save {
        /// Only this owner's objects, or only this guest's
        select: Option<String>,
    },
    /// Keep containers' wiring across their life, in the foreground (a service): when one dies
    /// its host veth, OVS port and DHCP client go; when it starts again its wiring comes back
    /// (docs/watch.md)
    Watch,
    /// Interactive shell: persistent scope, history, completion, :help, :doc NAME
    Repl,
    /// Compile a script without running it (no side effects)
    Check { file: String },
    /// Print every registered function with its signature and documentation
    Doc {
        /// Only this function
        name: Option<String>,
    },
    /// List the embedded recipe library with descriptions and parameters
    Recipes {
        /// Print the source of this recipe
        name: Option<String>,
    },
    /// Act as a CNI plugin (spec 1.0/1.1): the verb and container in CNI_* variables, the
    /// network config on stdin, the result on stdout. A runtime finds it as /opt/cni/bin/pipework
    /// (a link to this binary), which needs no verb (docs/cni.md)
    Cni,
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub const VERBS: &[&str] = &[
    "run",
    "down",
    "show",
    "graph",
    "save",
    "watch",
    "repl",
    "check",
    "doc",
    "recipes",
    "completions",
    "cni",
    "plot",
    "help",
];

fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    raw.iter()
        .map(|p| {
            p.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("parameter {p:?} is not KEY=VALUE"))
        })
        .collect()
}

fn owner_for(file: &str) -> String {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "script".into());
    crate::marker::sanitize_owner(&stem)
}

/// A failed run removes everything it created (objects that existed before are left alone).
fn report_rollback(s: &Session) {
    let undone = s.rollback();
    if !undone.is_empty() {
        eprintln!("pipework: rolled back: {}", undone.join(", "));
    }
}

/// A script run to its end: compiled, run with its parameters, rolled back whole when it fails
/// (unless `keep`), then settled. `pipework run` and watch's replays both come through here.
pub(crate) fn run_source(
    s: &Rc<Session>,
    src: &str,
    name: &str,
    params: &[(String, String)],
    keep: bool,
) -> Result<(), ()> {
    let engine = script::engine(s.clone());
    let res = script::compile(&engine, src, name).and_then(|ast| {
        let r = script::run(&engine, &ast, script::params_map(params));
        script::end_of_run(&engine, &ast, s, r)
    });
    let out = match res {
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!("pipework: {name}: {}", script::describe_error(&e));
            if keep {
                eprintln!("pipework: --keep: leaving what the run created in place");
            } else {
                report_rollback(s);
            }
            Err(())
        }
    };
    settle(s);
    out
}

/// The end of a run, whatever its outcome: the watch records of the containers it touched.
fn settle(s: &Session) {
    for w in s.settle() {
        eprintln!("pipework: {w}");
    }
}

/// The verbs that plumb say what privileges are missing before anything else (exit 1).
fn privileged() -> Result<(), i32> {
    crate::privilege::require().map_err(|e| {
        eprintln!("pipework: {e}");
        1
    })
}

fn session(verbose: bool) -> Result<Rc<Session>, i32> {
    Session::new(verbose).map(Rc::new).map_err(|e| {
        eprintln!("pipework: {e}");
        1
    })
}

/// `show`, `graph`, `save`: the live inventory, narrowed to an owner or a guest, printed by `render`.
/// A selection that matches nothing is an error (exit 1): a typo must not look like "nothing wired".
fn view(
    verbose: bool,
    select: Option<&str>,
    render: impl FnOnce(&crate::session::Inventory) -> String,
) -> i32 {
    if let Err(code) = privileged() {
        return code;
    }
    let Ok(s) = session(verbose) else {
        return 1;
    };
    let inv = match s.inventory() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("pipework: reading what is wired: {e}");
            return 1;
        }
    };
    let inv = match select {
        None => inv,
        Some(sel) => {
            let narrowed = if inv.owners().iter().any(|o| o == sel) {
                inv.of_owner(sel)
            } else {
                inv.of_guest(sel)
            };
            if narrowed.is_empty() {
                let owners = inv.owners();
                eprintln!(
                    "pipework: nothing of pipework's belongs to an owner or guest {sel:?} (owners: {})",
                    if owners.is_empty() { "none".to_string() } else { owners.join(", ") }
                );
                return 1;
            }
            narrowed
        }
    };
    out!("{}", render(&inv));
    0
}

/// The time in UTC as RFC 3339 (`2026-12-02T10:40:00Z`), without a date crate: days to a civil
/// date by Howard Hinnant's algorithm.
pub(crate) fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Entry point for our own verbs; returns the process exit code.
pub fn main_with(cli: Cli) -> i32 {
    if let Some(expr) = cli.eval {
        if let Err(code) = privileged() {
            return code;
        }
        let Ok(s) = session(cli.verbose) else {
            return 1;
        };
        let engine = script::engine(s.clone());
        let res = script::compile(&engine, &expr, "-e").and_then(|ast| {
            let r = engine.eval_ast::<rhai::Dynamic>(&ast);
            script::end_of_run(&engine, &ast, &s, r)
        });
        let code = match res {
            Ok(v) => {
                if !v.is_unit() {
                    outln!("{}", script::api::display(&s, &v));
                }
                0
            }
            Err(e) => {
                eprintln!("pipework: {}", script::describe_error(&e));
                report_rollback(&s);
                1
            }
        };
        settle(&s);
        return code;
    }
    let Some(cmd) = cli.cmd else {
        let _ = Cli::command().print_help();
        return 2;
    };
    match cmd {
        Cmd::Run {
            file,
            params,
            keep,
            owner,
            timeline,
        } => {
            let params = match parse_params(&params) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("pipework: {e}");
                    return 2;
                }
            };
            let (src, name) = match script::load(&file) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("pipework: {e}");
                    return 1;
                }
            };
            // Held to the script's declared parameters before anything is touched.
            let params =
                match script::stdlib::check_params(&script::stdlib::describe(&name, &src), &params)
                {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("pipework: {e}");
                        return 2;
                    }
                };
            if let Err(code) = privileged() {
                return code;
            }
            let Ok(s) = session(cli.verbose) else {
                return 1;
            };
            if let Err(e) = s.set_owner(&owner.unwrap_or_else(|| owner_for(&name))) {
                eprintln!("pipework: {e}");
                return 1;
            }
            if let Some(path) = timeline {
                if let Err(e) = script::api::time::log_to(&path) {
                    eprintln!("pipework: --timeline: {e}");
                    return 1;
                }
            }
            match run_source(&s, &src, &name, &params, keep) {
                Ok(()) => 0,
                Err(()) => 1,
            }
        }
        Cmd::Plot { record, output } => {
            let drawn = std::fs::read_to_string(&record)
                .map_err(|e| crate::Error::io(format!("reading {}", record.display()), e))
                .and_then(|t| crate::timeline::plot::read(&t))
                .and_then(|r| crate::timeline::plot::draw(&r, &output));
            match drawn {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("pipework: plot: {e}");
                    1
                }
            }
        }
        Cmd::Down { owners, all, stale } => {
            if let Err(code) = privileged() {
                return code;
            }
            let Ok(s) = session(cli.verbose) else {
                return 1;
            };
            let runs: Vec<(String, crate::Result<crate::session::Removed>)> = if stale {
                vec![("--stale".into(), s.down_stale())]
            } else {
                let owners = if all {
                    match s.owners() {
                        Ok(o) => o,
                        Err(e) => {
                            eprintln!("pipework: finding owners: {e}");
                            return 1;
                        }
                    }
                } else {
                    owners
                };
                owners
                    .into_iter()
                    .map(|o| {
                        let r = s.down(&o);
                        (o, r)
                    })
                    .collect()
            };
            let mut failed = 0;
            for (who, res) in runs {
                match res {
                    Ok(r) => {
                        for note in &r.notes {
                            eprintln!("pipework: {note}");
                        }
                        for (what, list) in [
                            ("links", &r.links),
                            ("netns", &r.netns),
                            ("dhcp clients", &r.clients),
                        ] {
                            if !list.is_empty() {
                                outln!("{who}: removed {what}: {}", list.join(" "));
                            }
                        }
                        for e in &r.errors {
                            eprintln!("pipework: {who}: {e}");
                        }
                        failed += r.errors.len();
                    }
                    Err(e) => {
                        eprintln!("pipework: {who}: {e}");
                        failed += 1;
                    }
                }
            }
            i32::from(failed > 0)
        }
        Cmd::Show { select, json } => view(cli.verbose, select.as_deref(), |inv| {
            if json {
                let v = crate::view::json(inv);
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
            } else {
                crate::view::text(inv)
            }
        }),
        Cmd::Graph { select, format } => view(cli.verbose, select.as_deref(), |inv| {
            let f = match format {
                GraphFormat::Dot => crate::view::graph::Format::Dot,
                GraphFormat::Mermaid => crate::view::graph::Format::Mermaid,
            };
            crate::view::graph::render(inv, f)
        }),
        Cmd::Save { select } => view(cli.verbose, select.as_deref(), |inv| {
            crate::view::save::script(inv, &now_utc())
        }),
        Cmd::Watch => {
            if let Err(code) = privileged() {
                return code;
            }
            crate::watch::run(cli.verbose)
        }
        Cmd::Repl => {
            // Exploring (:doc, pure expressions) works without; say once what plumbing will need.
            if let Err(e) = crate::privilege::require() {
                eprintln!("pipework: note: {e}");
            }
            let Ok(s) = session(cli.verbose) else {
                return 1;
            };
            let _ = s.set_owner("repl");
            script::repl::Repl::new(script::engine(s.clone()), s).run()
        }
        Cmd::Check { file } => {
            let (src, name) = match script::load(&file) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("pipework: {e}");
                    return 1;
                }
            };
            // The real engine (a session opens sockets, changes nothing), so that calls and
            // imports are checked against what a run would have.
            let Ok(s) = session(false) else { return 1 };
            let engine = script::engine(s);
            match script::check::check(&engine, &src, &name) {
                Ok(wrong) if wrong.is_empty() => {
                    outln!("{name}: ok");
                    0
                }
                Ok(wrong) => {
                    for w in wrong {
                        eprintln!("pipework: {w}");
                    }
                    1
                }
                Err(e) => {
                    eprintln!("pipework: {name}: {e}");
                    1
                }
            }
        }
        Cmd::Doc { name } => {
            let Ok(s) = session(false) else { return 1 };
            let engine = script::engine(s);
            let docs = script::docs(&engine);
            let mut shown = 0;
            for (n, sig, doc) in &docs {
                if name.as_deref().is_none_or(|x| x == n) {
                    outln!("{sig}\n    {doc}\n");
                    shown += 1;
                }
            }
            if shown == 0 {
                eprintln!("pipework: no function named {:?}", name.unwrap_or_default());
                return 1;
            }
            0
        }
        Cmd::Recipes { name } => {
            if let Some(n) = name {
                return match script::stdlib::get(&n) {
                    Some(src) => {
                        out!("{src}");
                        0
                    }
                    None => {
                        eprintln!("pipework: no embedded recipe {n:?} (see `pipework recipes`)");
                        1
                    }
                };
            }
            for r in script::stdlib::all() {
                outln!("{:<12} {}", r.name, r.summary);
                for p in &r.params {
                    outln!("    {:<10} {}", p.name, p.doc);
                }
            }
            0
        }
        Cmd::Cni => crate::cni::main(),
        Cmd::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "pipework",
                &mut std::io::stdout(),
            );
            0
        }
    }
}
