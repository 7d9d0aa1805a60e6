//! The embedded recipe library (stdlib/*.rhai) and the module resolver that serves it to `import`.

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

pub fn get(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix(".rhai").unwrap_or(name);
    let name = name.strip_prefix("stdlib/").unwrap_or(name);
    RECIPES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A recipe's self-description, from its `//!` header: the first line, then `//! param NAME …` lines.
pub struct RecipeInfo {
    pub name: &'static str,
    pub summary: String,
    pub params: Vec<(String, String)>,
}

pub fn describe(name: &'static str, src: &str) -> RecipeInfo {
    let header: Vec<&str> = src
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect();
    let summary = header
        .iter()
        .find(|l| !l.is_empty() && !l.starts_with("param "))
        .unwrap_or(&"")
        .to_string();
    let params = header
        .iter()
        .filter_map(|l| l.strip_prefix("param "))
        .map(|l| {
            let (n, d) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (n.trim_end_matches(':').to_string(), d.trim().to_string())
        })
        .collect();
    RecipeInfo {
        name,
        summary,
        params,
    }
}

pub fn all() -> Vec<RecipeInfo> {
    RECIPES.iter().map(|(n, s)| describe(n, s)).collect()
}

/// Files first (a recipe beside the script overrides the embedded one), then the embedded stdlib.
pub struct Resolver {
    files: rhai::module_resolvers::FileModuleResolver,
}

impl Resolver {
    pub fn new() -> Self {
        Resolver {
            files: rhai::module_resolvers::FileModuleResolver::new(),
        }
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        match self.files.resolve(engine, source, path, pos) {
            Err(e) if matches!(*e, EvalAltResult::ErrorModuleNotFound(..)) => {
                let Some(src) = get(path) else { return Err(e) };
                let mut ast = engine.compile(src).map_err(|e| {
                    Box::new(EvalAltResult::ErrorInModule(
                        path.into(),
                        Box::new(e.into()),
                        pos,
                    ))
                })?;
                ast.set_source(format!("stdlib/{}.rhai", path.trim_end_matches(".rhai")));
                let m = Module::eval_ast_as_new(Scope::new(), &ast, engine)
                    .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.into(), e, pos)))?;
                Ok(m.into())
            }
            other => other,
        }
    }
}
