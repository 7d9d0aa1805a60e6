//! Ownership markers. Everything pipework creates carries one (the interface alias; a state file for
//! named namespaces), naming the owner — a recipe, a script, a container — so `down(owner)` can find and
//! remove it later, even after pipework itself crashed.

use crate::error::{Error, Result};

pub const PREFIX: &str = "pipework";

pub fn validate_owner(owner: &str) -> Result<()> {
    if owner.is_empty()
        || owner.len() > 64
        || owner.starts_with('-')
        || !owner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
    {
        return Err(Error::invalid(
            "owner",
            owner,
            "use 1-64 characters from A-Z a-z 0-9 . _ : -, not starting with '-'",
        ));
    }
    Ok(())
}

/// An owner name derived from arbitrary text (a container name), made valid.
pub fn sanitize_owner(s: &str) -> String {
    let o: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let o = o.trim_start_matches('-').to_string();
    if o.is_empty() {
        "classic".into()
    } else {
        o
    }
}

/// `pipework owner=lamp guest=netns:web if=eth1` (extra fields optional).
pub fn encode(owner: &str, fields: &[(&str, &str)]) -> String {
    let mut s = format!("{PREFIX} owner={owner}");
    for (k, v) in fields {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// The owner named by a marker, if the string is one of ours.
pub fn owner_of(alias: &str) -> Option<&str> {
    let rest = alias.strip_prefix(PREFIX)?.strip_prefix(' ')?;
    field(rest, "owner")
}

pub fn field<'a>(alias: &'a str, key: &str) -> Option<&'a str> {
    alias
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let m = encode("lamp", &[("guest", "netns:web"), ("if", "eth1")]);
        assert_eq!(m, "pipework owner=lamp guest=netns:web if=eth1");
        assert_eq!(owner_of(&m), Some("lamp"));
        assert_eq!(field(&m, "if"), Some("eth1"));
        assert_eq!(owner_of("somebody else's alias"), None);
        assert_eq!(owner_of("pipeworks owner=x"), None);
    }

    #[test]
    fn owners() {
        assert!(validate_owner("lamp-1.web:x").is_ok());
        assert!(validate_owner("").is_err());
        assert!(validate_owner("a b").is_err());
    }
}
