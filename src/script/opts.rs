//! Option maps (`#{ip: .., mac: ..}`): unknown keys are errors (a typo must not be silently ignored),
//! and values are converted with messages that name the key.

use rhai::{Dynamic, EvalAltResult, Map};

pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub fn err<T>(msg: impl Into<String>) -> RhaiResult<T> {
    Err(EvalAltResult::ErrorRuntime(msg.into().into(), rhai::Position::NONE).into())
}

fn distance(a: &str, b: &str) -> usize {
    strsim::damerau_levenshtein(a, b)
}

/// Reject keys not in `allowed`, suggesting the closest one.
pub fn check_keys(func: &str, map: &Map, allowed: &[&str]) -> RhaiResult<()> {
    for k in map.keys() {
        if !allowed.contains(&k.as_str()) {
            let near = allowed
                .iter()
                .min_by_key(|a| distance(k, a))
                .filter(|a| distance(k, a) <= 2);
            let hint = near
                .map(|n| format!(" — did you mean `{n}`?"))
                .unwrap_or_default();
            return err(format!(
                "{func}(): unknown option `{k}`{hint} (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

pub fn opt_str(func: &str, map: &Map, key: &str) -> RhaiResult<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) if v.is_string() => Ok(Some(v.clone().into_string().unwrap_or_default())),
        Some(v) => err(format!(
            "{func}(): option `{key}` must be a string, not {}",
            v.type_name()
        )),
    }
}

pub fn opt_int(func: &str, map: &Map, key: &str) -> RhaiResult<Option<i64>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) if v.is_int() => Ok(Some(v.as_int().unwrap_or_default())),
        Some(v) => err(format!(
            "{func}(): option `{key}` must be a number, not {}",
            v.type_name()
        )),
    }
}

pub fn opt_bool(func: &str, map: &Map, key: &str) -> RhaiResult<Option<bool>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) if v.is_bool() => Ok(Some(v.as_bool().unwrap_or_default())),
        Some(v) => err(format!(
            "{func}(): option `{key}` must be true or false, not {}",
            v.type_name()
        )),
    }
}

/// A string or an array of strings (e.g. `ip: "198.18.0.1/24"` or `ip: ["198.18.0.1/24", "fd00::1/64"]`).
pub fn opt_strs(func: &str, map: &Map, key: &str) -> RhaiResult<Vec<String>> {
    match map.get(key) {
        None => Ok(vec![]),
        Some(v) if v.is_unit() => Ok(vec![]),
        Some(v) if v.is_string() => Ok(vec![v.clone().into_string().unwrap_or_default()]),
        Some(v) if v.is_array() => v
            .clone()
            .into_array()
            .unwrap_or_default()
            .into_iter()
            .map(|x: Dynamic| {
                x.into_string().or_else(|t| {
                    err(format!(
                        "{func}(): `{key}` entries must be strings, not {t}"
                    ))
                })
            })
            .collect(),
        Some(v) => err(format!(
            "{func}(): option `{key}` must be a string or array of strings, not {}",
            v.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_suggest() {
        let mut m = Map::new();
        m.insert("gatway".into(), "x".into());
        let e = check_keys("veth", &m, &["ip", "gateway", "mac"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown option `gatway`"), "{e}");
        assert!(e.contains("did you mean `gateway`"), "{e}");
        m.clear();
        m.insert("ip".into(), 5_i64.into());
        assert!(check_keys("veth", &m, &["ip"]).is_ok());
        assert!(opt_strs("veth", &m, "ip")
            .unwrap_err()
            .to_string()
            .contains("must be a string"));
    }
}
