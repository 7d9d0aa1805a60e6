//! Addresses come from the IPAM plugin the config names (host-local, static, dhcp, …), run as the
//! reference plugins run it: found in `CNI_PATH`, given our environment with the verb we delegate
//! and our stdin unchanged; its result (or its error, code and all) becomes ours.

use super::conf::Env;
use super::CniError;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn find(env: &Env, plugin: &str) -> Result<PathBuf, CniError> {
    let path = env.need(&env.path, "CNI_PATH")?;
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::new(
                7,
                format!("IPAM plugin {plugin:?} is not in CNI_PATH ({path})"),
            )
        })
}

/// Run `plugin` for `verb` with `stdin`; its stdout as JSON when it printed any.
pub fn delegate(
    env: &Env,
    verb: &str,
    plugin: &str,
    stdin: &[u8],
) -> Result<Option<Value>, CniError> {
    let exe = find(env, plugin)?;
    let failed = |why: String| CniError::new(5, format!("IPAM plugin {plugin} ({verb}): {why}"));
    let mut child = Command::new(&exe)
        .env("CNI_COMMAND", verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e}", exe.display())))?;
    if let Some(mut w) = child.stdin.take() {
        // A plugin that exits without reading its stdin is judged by its exit, not by our write.
        let _ = w.write_all(stdin);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let json: Option<Value> = if text.trim().is_empty() {
        None
    } else {
        serde_json::from_str(&text).ok()
    };
    if !out.status.success() {
        // The plugin's own error, passed on with its code: the runtime reads it as ours.
        if let Some(e) = json.as_ref().filter(|j| j.get("code").is_some()) {
            let code = e.get("code").and_then(Value::as_u64).unwrap_or(999) as u32;
            let msg = e.get("msg").and_then(Value::as_str).unwrap_or("");
            let mut err = CniError::new(code, format!("IPAM plugin {plugin} ({verb}): {msg}"));
            err.details = e
                .get("details")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            return Err(err);
        }
        return Err(failed(format!(
            "{}; {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    if json.is_none() && !text.trim().is_empty() {
        return Err(CniError::new(
            6,
            format!("IPAM plugin {plugin} ({verb}) printed something that is not JSON: {text}"),
        ));
    }
    Ok(json)
}

/// Whether the plugin speaks `version` (asked with VERSION): STATUS and GC are passed on only to
/// an IPAM plugin that knows them.
pub fn speaks(env: &Env, plugin: &str, version: &str) -> bool {
    let ask = serde_json::json!({ "cniVersion": version }).to_string();
    match delegate(env, "VERSION", plugin, ask.as_bytes()) {
        Ok(Some(v)) => v
            .get("supportedVersions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(version))),
        _ => false,
    }
}
