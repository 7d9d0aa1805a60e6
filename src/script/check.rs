//! `pipework check`: a script compiled against the real engine, not a bare one — every import
//! resolved (a missing recipe is an error now, not at run time) and every plain function call
//! matched against what the engine has (registered functions, Rhai's own, the script's), by name
//! and number of arguments. Nothing runs: no guest is made, no socket used beyond the session's.

use rhai::{Engine, Scope};
use std::collections::{HashMap, HashSet};

/// Calls the engine handles itself, that no signature lists.
const SPECIAL: &[&str] = &[
    "Fn",
    "call",
    "curry",
    "is_def_fn",
    "is_def_var",
    "is_shared",
    "type_of",
    "print",
    "debug",
    "eval",
];

/// Arity of each function by name, from the engine's signatures (`name(a: T, b: U) -> R`).
fn known(engine: &Engine) -> HashMap<String, HashSet<usize>> {
    let mut m: HashMap<String, HashSet<usize>> = HashMap::new();
    for sig in engine.gen_fn_signatures(true) {
        let Some((name, rest)) = sig.split_once('(') else {
            continue;
        };
        let name = name
            .trim()
            .trim_start_matches("get$")
            .trim_start_matches("set$");
        let params = rest.split(')').next().unwrap_or_default().trim();
        let arity = if params.is_empty() {
            0
        } else {
            params.split(',').count()
        };
        m.entry(name.to_string()).or_default().insert(arity);
    }
    m
}

/// The problems, one line each (empty: fine); Err for a script that does not compile or imports
/// what does not exist.
pub fn check(engine: &Engine, src: &str, name: &str) -> Result<Vec<String>, String> {
    let ast = engine
        .compile_into_self_contained(&Scope::new(), src)
        .map_err(|e| e.to_string())?;
    let mut have = known(engine);
    for f in ast.iter_functions() {
        have.entry(f.name.to_string())
            .or_default()
            .insert(f.params.len());
    }
    let mut wrong = vec![];
    ast.walk(&mut |path| {
        // A call is an expression, or a statement of its own (`veth(g, br);`).
        let call = match path.last() {
            Some(rhai::ASTNode::Expr(rhai::Expr::FnCall(call, pos)))
            | Some(rhai::ASTNode::Stmt(rhai::Stmt::FnCall(call, pos))) => Some((call, *pos)),
            _ => None,
        };
        if let Some((call, pos)) = call {
            // Namespaced calls (`lamp::up`) live in their modules, already resolved above.
            let n = call.name.as_str();
            if call.namespace.is_empty() && !SPECIAL.contains(&n) && call.op_token.is_none() {
                let argc = call.args.len();
                match have.get(n) {
                    Some(a) if a.contains(&argc) => {}
                    Some(a) => {
                        let mut takes: Vec<usize> = a.iter().copied().collect();
                        takes.sort();
                        wrong.push(format!(
                            "{name}: line {}: {n}() takes {} argument(s), not {argc}",
                            pos.line().unwrap_or(0),
                            takes
                                .iter()
                                .map(|t| t.to_string())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ));
                    }
                    None => {
                        let near = have
                            .keys()
                            .filter(|k| !k.starts_with(|c: char| !c.is_ascii_alphabetic()))
                            .map(|k| (strsim::damerau_levenshtein(n, k), k))
                            .filter(|(d, _)| *d <= 2)
                            .min();
                        wrong.push(format!(
                            "{name}: line {}: no function {n}(){}",
                            pos.line().unwrap_or(0),
                            near.map(|(_, k)| format!(" — did you mean {k}()?"))
                                .unwrap_or_default()
                        ));
                    }
                }
            }
        }
        true
    });
    Ok(wrong)
}
