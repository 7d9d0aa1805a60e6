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

/// Whether a link's alias is one of our markers (`pipework` alone, or followed by fields).
pub fn is_ours(alias: &str) -> bool {
    alias
        .strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// `alias` (ours, or none yet) with `fields` set to new values and every other field kept: how the
/// declared state of a link is recorded next to its owner.
pub fn with_fields(alias: Option<&str>, fields: &[(&str, String)]) -> String {
    let mut words: Vec<String> = match alias.filter(|a| is_ours(a)) {
        Some(a) => a[PREFIX.len()..]
            .split_whitespace()
            .map(String::from)
            .collect(),
        None => vec![],
    };
    for (k, v) in fields {
        let kv = format!("{k}={v}");
        match words.iter_mut().find(|w| w.split('=').next() == Some(*k)) {
            Some(w) => *w = kv,
            None => words.push(kv),
        }
    }
    std::iter::once(PREFIX.to_string())
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
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
    fn fields_are_replaced_or_added() {
        let a = with_fields(Some("pipework owner=o guest=g"), &[("ips", "a,b".into())]);
        assert_eq!(a, "pipework owner=o guest=g ips=a,b");
        let b = with_fields(Some(&a), &[("ips", "c".into()), ("gw", "-".into())]);
        assert_eq!(b, "pipework owner=o guest=g ips=c gw=-");
        assert_eq!(with_fields(None, &[("ips", "-".into())]), "pipework ips=-");
        // Somebody else's alias is not extended: ours replaces it only on links we made.
        assert_eq!(
            with_fields(Some("uplink"), &[("ips", "-".into())]),
            "pipework ips=-"
        );
    }

    #[test]
    fn owners() {
        assert!(validate_owner("lamp-1.web:x").is_ok());
        assert!(validate_owner("").is_err());
        assert!(validate_owner("a b").is_err());
    }
}
