//! `pipework repl`: persistent scope, history, completion of functions and variables, multi-line input
//! until the statement is complete, `:help` and `:doc NAME`. Piped (non-terminal) input gets the same
//! statement grouping, so a REPL session can be scripted and tested.

use super::api::display;
use crate::session::Session;
use rhai::{Engine, EvalAltResult, ParseErrorType, Scope, AST};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal};
use std::rc::Rc;

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "import", "as", "true", "false", "print", "debug", "throw", "try", "catch", "switch",
];

/// True when `src` fails to compile only because it ends too early (open block, call or string).
pub fn incomplete(engine: &Engine, src: &str) -> bool {
    match engine.compile(src) {
        Ok(_) => false,
        Err(e) => {
            let eof = matches!(e.err_type(), ParseErrorType::UnexpectedEOF);
            let mut depth = 0i32;
            let mut in_str = false;
            let mut prev = ' ';
            for c in src.chars() {
                match c {
                    '"' if prev != '\\' => in_str = !in_str,
                    '(' | '[' | '{' if !in_str => depth += 1,
                    ')' | ']' | '}' if !in_str => depth -= 1,
                    _ => {}
                }
                prev = c;
            }
            eof || depth > 0 || in_str
        }
    }
}

struct ReplHelper {
    engine: Rc<Engine>,
    words: Rc<RefCell<Vec<String>>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let prefix = &line[start..pos];
        let mut found: Vec<Pair> = self
            .words
            .borrow()
            .iter()
            .filter(|w| w.starts_with(prefix))
            .map(|w| Pair {
                display: w.clone(),
                replacement: w.clone(),
            })
            .collect();
        found.dedup_by(|a, b| a.display == b.display);
        Ok((start, found))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}
impl Highlighter for ReplHelper {}
impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || !incomplete(&self.engine, input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}
impl Helper for ReplHelper {}

pub struct Repl {
    engine: Rc<Engine>,
    session: Rc<Session>,
    scope: Scope<'static>,
    /// Functions defined so far and `import` statements, replayed for every new input.
    functions: AST,
    imports: Vec<String>,
    words: Rc<RefCell<Vec<String>>>,
}

impl Repl {
    pub fn new(engine: Engine, session: Rc<Session>) -> Repl {
        let engine = Rc::new(engine);
        let mut words: Vec<String> = super::docs(&engine)
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        words.extend(KEYWORDS.iter().map(|k| k.to_string()));
        words.sort();
        words.dedup();
        Repl {
            engine,
            session,
            scope: Scope::new(),
            functions: AST::empty(),
            imports: vec![],
            words: Rc::new(RefCell::new(words)),
        }
    }

    fn refresh_words(&self) {
        let mut w = self.words.borrow_mut();
        for (name, _, _) in self.scope.iter() {
            if !w.iter().any(|x| x == name) {
                w.push(name.to_string());
            }
        }
        for f in self.functions.iter_functions() {
            if !w.iter().any(|x| x == f.name) {
                w.push(f.name.to_string());
            }
        }
        w.sort();
    }

    /// Evaluate one complete input; returns the text to show (result or error).
    pub fn eval(&mut self, input: &str) -> Option<String> {
        let t = input.trim();
        if t.is_empty() {
            return None;
        }
        if let Some(cmd) = t.strip_prefix(':') {
            return Some(self.command(cmd.trim()));
        }
        let src = format!("{}\n{input}", self.imports.join("\n"));
        let ast = match self.engine.compile(&src) {
            Ok(a) => a,
            Err(e) => return Some(format!("syntax error: {e}")),
        };
        let merged = self.functions.merge(&ast);
        let result = self
            .engine
            .eval_ast_with_scope::<rhai::Dynamic>(&mut self.scope, &merged);
        self.functions = merged.clone_functions_only();
        for w in self.session.settle() {
            eprintln!("pipework: {w}");
        }
        for line in input.lines() {
            let l = line.trim();
            if l.starts_with("import ") && !self.imports.iter().any(|i| i == l) {
                self.imports.push(l.to_string());
            }
        }
        self.refresh_words();
        match result {
            Ok(v) if v.is_unit() => None,
            Ok(v) => Some(format!("=> {}", display(&self.session, &v))),
            Err(e) => Some(format!("error: {}", error_text(&e))),
        }
    }

    fn command(&self, cmd: &str) -> String {
        let (name, arg) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
        match name {
            "help" | "h" | "?" => HELP.to_string(),
            "doc" => {
                let docs = super::docs(&self.engine);
                let hits: Vec<String> = docs
                    .iter()
                    .filter(|(n, _, _)| arg.is_empty() || n == arg.trim())
                    .map(|(_, sig, doc)| format!("{sig}\n    {doc}"))
                    .collect();
                if hits.is_empty() {
                    format!(
                        "no function named {:?}; `:doc` alone lists them all",
                        arg.trim()
                    )
                } else {
                    hits.join("\n")
                }
            }
            "vars" => self
                .scope
                .iter()
                .map(|(n, _, v)| format!("{n} = {}", display(&self.session, &v)))
                .collect::<Vec<_>>()
                .join("\n"),
            "owner" => format!("owner: {}", self.session.owner()),
            _ => format!("unknown command :{name} (try :help)"),
        }
    }

    pub fn run(mut self) -> i32 {
        if !std::io::stdin().is_terminal() {
            return self.run_piped();
        }
        let helper = ReplHelper {
            engine: self.engine.clone(),
            words: self.words.clone(),
        };
        let config = rustyline::Config::builder().auto_add_history(true).build();
        let Ok(mut rl) =
            rustyline::Editor::<ReplHelper, rustyline::history::DefaultHistory>::with_config(
                config,
            )
        else {
            eprintln!("cannot start the line editor");
            return 1;
        };
        rl.set_helper(Some(helper));
        let hist = history_path();
        let _ = rl.load_history(&hist);
        println!(
            "pipework {} — :help for help, Ctrl-D to quit",
            env!("CARGO_PKG_VERSION")
        );
        loop {
            match rl.readline("pipework> ") {
                Ok(line) => {
                    if matches!(line.trim(), ":quit" | ":q" | ":exit") {
                        break;
                    }
                    if let Some(out) = self.eval(&line) {
                        println!("{out}");
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => continue,
                Err(_) => break,
            }
        }
        if let Some(dir) = std::path::Path::new(&hist).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.save_history(&hist);
        0
    }

    /// Non-terminal input: group lines into complete statements, evaluate each, report errors.
    fn run_piped(mut self) -> i32 {
        let mut buf = String::new();
        let mut failed = false;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            buf.push_str(&line);
            buf.push('\n');
            if buf.trim_start().starts_with(':') || !incomplete(&self.engine, &buf) {
                let input = std::mem::take(&mut buf);
                if let Some(out) = self.eval(&input) {
                    failed |= out.starts_with("error:") || out.starts_with("syntax error:");
                    println!("{out}");
                }
            }
        }
        if !buf.trim().is_empty() {
            println!("syntax error: incomplete input at end: {}", buf.trim());
            failed = true;
        }
        i32::from(failed)
    }
}

fn error_text(e: &EvalAltResult) -> String {
    super::describe_error(e)
}

fn history_path() -> String {
    let base = std::env::var("XDG_STATE_HOME")
        .ok()
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| format!("{h}/.local/state"))
        })
        .unwrap_or_else(|| "/tmp".into());
    format!("{base}/pipework/history")
}

const HELP: &str = "\
Type Rhai statements; they run at once against the live kernel. Multi-line input continues
until the statement is complete. Variables and functions persist for the session.

  let web = netns(\"web\");  let br = bridge(\"br-lab\");
  let a = veth(web, br, #{ip: \"198.18.0.2/24\"});  print(a);
  ping(web, \"198.18.0.1\")    links(web)    routes(web)    down()

Commands:  :doc [NAME]  function signatures and docs    :vars  variables in scope
           :owner  current owner                           :help  this text    :quit  leave
Tab completes function and variable names.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_detection() {
        let e = Engine::new();
        assert!(incomplete(&e, "fn f() {"));
        assert!(incomplete(&e, "let x = [1, 2,"));
        assert!(incomplete(&e, "print(\"abc"));
        assert!(!incomplete(&e, "let x = 1;"));
        assert!(!incomplete(&e, "1 +* 2")); // an error, but not one more input can fix
    }

    /// Tab completes registered functions, then what the session itself defined: variables and
    /// functions appear among the candidates once a line has defined them.
    #[test]
    fn completion_offers_functions_then_the_sessions_own_names() {
        let s = Rc::new(Session::new(false).unwrap());
        let mut repl = Repl::new(super::super::engine(s.clone()), s);
        let helper = ReplHelper {
            engine: repl.engine.clone(),
            words: repl.words.clone(),
        };
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let names = |line: &str, h: &ReplHelper| -> Vec<String> {
            let (start, c) = h.complete(line, line.len(), &ctx).unwrap();
            assert!(start <= line.len());
            c.into_iter().map(|p| p.replacement).collect()
        };
        assert!(names("let x = vet", &helper).contains(&"veth".to_string()));
        assert!(!names("my_", &helper).iter().any(|w| w == "my_subnet"));
        assert_eq!(repl.eval("let my_subnet = \"198.18.0.0/24\";"), None);
        assert_eq!(repl.eval("fn my_helper(x) { x }"), None);
        let after = names("my_", &helper);
        assert!(after.contains(&"my_subnet".to_string()), "{after:?}");
        assert!(after.contains(&"my_helper".to_string()), "{after:?}");
        // And :help names the commands it has.
        assert!(repl.eval(":help").unwrap().contains(":doc [NAME]"));
    }
}
