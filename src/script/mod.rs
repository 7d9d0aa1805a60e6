//! The Rhai layer: engine set-up, running scripts and one-liners, and the REPL. It is glue only; all
//! plumbing lives in `Session`.

pub mod api;
pub mod check;
pub mod opts;
pub mod repl;
pub mod stdlib;

use crate::session::Session;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};
use std::path::Path;
use std::rc::Rc;

pub fn engine(s: Rc<Session>) -> Engine {
    let mut e = Engine::new();
    e.set_module_resolver(stdlib::Resolver::new());
    e.set_max_expr_depths(128, 64);
    // Rhai's own print panics when stdout is gone (`pipework run x | head -1`), which would stop
    // a run half-way with no rollback; a line nobody reads is dropped instead and the run goes on.
    e.on_print(|line| {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{line}");
    });
    api::register(&mut e, s);
    e
}

/// An engine with the API registered but no session behind it would be useless; for `check` and
/// `doc` we still build a real session (it only opens sockets, it changes nothing).
pub fn params_map(params: &[(String, String)]) -> Map {
    params
        .iter()
        .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
        .collect()
}

/// Source of a script: a file path, or the name of an embedded recipe (`lamp`).
pub fn load(path: &str) -> Result<(String, String), String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok((s, path.to_string())),
        Err(e) => match stdlib::get(path) {
            Some(s) if !Path::new(path).exists() => Ok((
                s.to_string(),
                format!("stdlib/{}.rhai", path.trim_end_matches(".rhai")),
            )),
            _ => Err(format!("cannot read script {path}: {e}")),
        },
    }
}

pub fn compile(engine: &Engine, src: &str, name: &str) -> Result<AST, Box<EvalAltResult>> {
    let mut ast = engine
        .compile(src)
        .map_err(|e| Box::new(EvalAltResult::from(e)))?;
    ast.set_source(name);
    Ok(ast)
}

/// Run a script: top-level statements first; then, if it defines `main(params)`, that is called.
pub fn run(engine: &Engine, ast: &AST, params: Map) -> Result<Dynamic, Box<EvalAltResult>> {
    let mut scope = Scope::new();
    scope.push_constant("params", params.clone());
    let v = engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast)?;
    if ast
        .iter_functions()
        .any(|f| f.name == "main" && f.params.len() == 1)
    {
        return engine.call_fn::<Dynamic>(&mut scope, ast, "main", (params,));
    }
    Ok(v)
}

/// The end of a run, whatever its outcome, for the timeline (`api::time`): after a script that
/// succeeded, actions it registered and never played are played now (so a one-liner that only
/// registers works); then, or after a failure, whatever the timeline still has in force is put
/// back.
pub fn end_of_run(
    engine: &Engine,
    ast: &AST,
    s: &Session,
    result: Result<Dynamic, Box<EvalAltResult>>,
) -> Result<Dynamic, Box<EvalAltResult>> {
    match result {
        Ok(v) => api::time::finish(engine, ast, s).map(|()| v),
        Err(e) => {
            let restored = api::time::restore(s);
            if !restored.is_empty() {
                eprintln!("pipework: timeline: {}", restored.join("; "));
            }
            Err(e)
        }
    }
}

/// Render an evaluation error with its script position, e.g.
/// `demo.rhai line 12: veth(): unknown option `gatway``.
pub fn describe_error(e: &EvalAltResult) -> String {
    // A script that caught an error and threw it on (try/catch + throw e) throws Rhai's error map;
    // show it as the original message with its original place.
    if let EvalAltResult::ErrorRuntime(v, pos) = e {
        if let Some(m) = v.read_lock::<rhai::Map>() {
            // One of ours (kind + message), raised by a function: its message at the call's place.
            if let (Some(text), true, false) = (
                m.get("message"),
                m.contains_key("kind"),
                m.contains_key("line"),
            ) {
                return if pos.is_none() {
                    format!("Runtime error: {text}")
                } else {
                    format!("Runtime error: {text} ({pos})")
                };
            }
            if let Some(text) = m.get("message") {
                let src = m.get("source").map(|s| format!("{s} ")).unwrap_or_default();
                let line = m
                    .get("line")
                    .map(|l| format!("line {l}"))
                    .unwrap_or_default();
                return format!("{text} ({src}{line}; rethrown at {pos})");
            }
        }
    }
    let mut msg = e.to_string();
    // Rhai wraps errors raised in functions of imported modules; unwrap to the useful part.
    if let EvalAltResult::ErrorInFunctionCall(f, src, inner, pos) = e {
        let place = if src.is_empty() {
            String::new()
        } else {
            format!("{src} ")
        };
        msg = format!(
            "{} (in {f}() called at {place}{pos})",
            describe_error(inner)
        );
    }
    msg
}

/// The engine's own function metadata (signatures and doc comments), for `pipework doc`/`:doc`.
pub fn docs(engine: &Engine) -> Vec<(String, String, String)> {
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut out: Vec<(String, String, String)> = v["functions"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter(|f| f["docComments"].as_array().is_some_and(|d| !d.is_empty()))
                .map(|f| {
                    let name = f["name"].as_str().unwrap_or_default().to_string();
                    let sig = f["signature"].as_str().unwrap_or_default().to_string();
                    let doc = f["docComments"]
                        .as_array()
                        .map(|d| {
                            d.iter()
                                .filter_map(|x| x.as_str())
                                .map(|x| x.trim_start_matches("///").trim())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    (name, sig, doc)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
