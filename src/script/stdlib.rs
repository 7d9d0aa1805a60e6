//! The embedded recipe library (stdlib/*.rhai) and the module resolver that serves it to `import`.

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

pub fn get(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix(".rhai").unwrap_or(name);
    let name = name.strip_prefix("stdlib/").unwrap_or(name);
    RECIPES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A recipe's self-description, from its `//!` header: the first line, then one line per
/// parameter — `//! param NAME  what it is (default "x")`, or `(required)` — which is the schema
/// `run` and `recipe_params()` hold the caller's parameters to.
pub struct RecipeInfo {
    pub name: String,
    pub summary: String,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub doc: String,
    pub required: bool,
    pub default: Option<String>,
}

impl Param {
    fn parse(line: &str) -> Param {
        let (n, d) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let doc = d.trim().to_string();
        let default = doc.find("(default ").map(|at| {
            let v = doc[at + "(default ".len()..].trim_end_matches(')');
            let v = v.split(')').next().unwrap_or(v);
            v.trim().trim_matches('"').to_string()
        });
        Param {
            name: n.trim_end_matches(':').to_string(),
            required: doc.contains("(required)"),
            default,
            doc,
        }
    }
}

pub fn describe(name: &str, src: &str) -> RecipeInfo {
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
        .map(Param::parse)
        .collect();
    RecipeInfo {
        name: name.to_string(),
        summary,
        params,
    }
}

/// Hold parameters to a recipe's schema: an unknown name is refused (with the nearest known one),
/// a missing required one names itself, and absent ones take their defaults. Returns the complete
/// set. A script that declares no parameters accepts any.
pub fn check_params(
    info: &RecipeInfo,
    given: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    if info.params.is_empty() {
        return Ok(given.to_vec());
    }
    for (k, _) in given {
        if info.params.iter().any(|p| &p.name == k) {
            continue;
        }
        let near = info
            .params
            .iter()
            .map(|p| (strsim::damerau_levenshtein(k, &p.name), &p.name))
            .min()
            .filter(|(d, _)| *d <= 2)
            .map(|(_, n)| format!(" — did you mean '{n}'?"))
            .unwrap_or_else(|| {
                let all: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
                format!(" (it takes: {})", all.join(", "))
            });
        return Err(format!("{}: unknown parameter '{k}'{near}", info.name));
    }
    let mut out = given.to_vec();
    for p in &info.params {
        if given.iter().any(|(k, _)| *k == p.name) {
            continue;
        }
        match (&p.default, p.required) {
            (_, true) => {
                return Err(format!(
                    "{}: parameter '{}' is required: {}",
                    info.name,
                    p.name,
                    p.doc.replace("(required)", "").trim()
                ))
            }
            (Some(d), _) => out.push((p.name.clone(), d.clone())),
            (None, _) => {}
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "//! Demo recipe.\n//! param vlans  VLAN ids (default \"100,200\")\n//! param parent  (required) the host NIC\n//! param note  free text\n\nfn main(p) {}\n";

    fn given(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn schema_from_the_header() {
        let i = describe("demo", SRC);
        assert_eq!(i.summary, "Demo recipe.");
        assert_eq!(i.params[0].default.as_deref(), Some("100,200"));
        assert!(i.params[1].required && i.params[1].default.is_none());
        assert!(!i.params[2].required && i.params[2].default.is_none());
    }

    #[test]
    fn unknown_missing_and_defaults() {
        let i = describe("demo", SRC);
        let e = check_params(&i, &given(&[("vlns", "1"), ("parent", "x")])).unwrap_err();
        assert_eq!(e, "demo: unknown parameter 'vlns' — did you mean 'vlans'?");
        let e = check_params(&i, &given(&[("zzzzzz", "1")])).unwrap_err();
        assert!(e.contains("it takes: vlans, parent, note"), "{e}");
        let e = check_params(&i, &given(&[])).unwrap_err();
        assert!(e.contains("'parent' is required"), "{e}");
        let all = check_params(&i, &given(&[("parent", "eth9")])).unwrap();
        assert!(all.contains(&("vlans".into(), "100,200".into())));
        assert!(!all.iter().any(|(k, _)| k == "note"));
    }
}
