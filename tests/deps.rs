//! The manifest pins what the code uses: no wildcard requirements (a `cargo update` could pull in a
//! netlink crate that disagrees with rtnetlink's own), no dependency nothing uses, and the netlink
//! crates we name directly at the versions rtnetlink itself builds on (one copy of each in the tree).

fn manifest_deps() -> Vec<(String, String)> {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut out = vec![];
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, spec) = line.split_once('=').expect("name = spec");
        let spec = spec.trim();
        let version = if spec.starts_with('"') {
            spec.trim_matches('"').to_string()
        } else {
            let v = spec.split("version").nth(1).expect("a version key");
            v.split('"').nth(1).unwrap().to_string()
        };
        out.push((name.trim().to_string(), version));
    }
    out
}

/// Versions of `name` in Cargo.lock.
fn locked(name: &str) -> Vec<String> {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    lock.split("[[package]]")
        .filter(|p| p.contains(&format!("name = \"{name}\"\n")))
        .filter_map(|p| {
            p.lines()
                .find_map(|l| l.strip_prefix("version = "))
                .map(|v| v.trim_matches('"').to_string())
        })
        .collect()
}

fn used_in_src(krate: &str) -> bool {
    // The crate's library name as code writes it (md-5 is `md5`).
    let ident = match krate {
        "md-5" => "md5".to_string(),
        k => k.replace('-', "_"),
    };
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read_to_string(&path)
                .map(|s| s.contains(&format!("{ident}::")))
                .unwrap_or(false)
            {
                return true;
            }
        }
    }
    false
}

#[test]
fn deps_no_wildcard_and_no_unused_dependencies() {
    let deps = manifest_deps();
    assert!(deps.iter().any(|(n, _)| n == "rtnetlink"), "{deps:?}");
    for (name, version) in &deps {
        assert_ne!(version, "*", "{name} has a wildcard version requirement");
        assert!(
            used_in_src(name),
            "{name} is a dependency nothing in src/ uses"
        );
    }
}

#[test]
fn deps_netlink_crates_are_the_ones_rtnetlink_uses() {
    for (name, version) in manifest_deps() {
        if !name.starts_with("netlink-") {
            continue;
        }
        let versions = locked(&name);
        assert_eq!(
            versions.len(),
            1,
            "{name}: more than one version in the tree: {versions:?}"
        );
        // A caret requirement like "0.9" must admit the locked version (0.9.x).
        let locked = &versions[0];
        assert!(
            locked == &version || locked.starts_with(&format!("{version}.")),
            "{name}: Cargo.toml asks for {version}, the tree has {locked}"
        );
    }
}

/// `World::new` refuses a tag another test of the same binary took, but only when both run; a
/// filtered run (`cargo test NAME`) never sees the clash. Read the sources instead.
#[test]
fn test_world_tags_are_unique_per_test_binary() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let mut tags: Vec<&str> = src
            .split("World::new(\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        seen += tags.len();
        tags.sort();
        let dup: Vec<_> = tags
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        assert!(
            dup.is_empty(),
            "{}: World tags used twice: {dup:?}",
            path.display()
        );
    }
    assert!(
        seen > 20,
        "found only {seen} World tags: has World::new changed?"
    );
}
