//! Teardown: `down(owner)` is the rooms that made things, each removing its own, in an order that
//! keeps every step valid.

use super::*;

impl Session {
    /// Remove everything marked as created for `owner`: host-side links (veth ends, bridges), then
    /// the named namespaces we created for it. A stage that fails does not stop the others: every
    /// failure is in `Removed::errors` (the caller decides what that means for its exit).
    pub fn down(&self, owner: &str) -> Result<Removed> {
        marker::validate_owner(owner)?;
        let mut removed = Removed::default();
        // First what a killed run of this owner left half-made (unmarked, so invisible below).
        self.finish_killed(Some(owner), &mut removed);
        // Each room removes what it made, in the order that keeps every step valid: DHCP clients
        // first (they would fight the teardown), host-side links and Linux bridges, OVS ports and
        // bridges, then links we made in other people's namespaces, then our namespaces.
        dhcp::teardown_owned(owner, &mut removed);
        // Interfaces handed over go home before anything deletes the namespaces they are in.
        crate::driver::direct::teardown_owned(self, owner, &mut removed);
        let host = crate::driver::teardown_host_links(self, owner, &mut removed);
        removed.failed(host);
        let ovs = crate::driver::ovs::teardown_owned(self, owner, &mut removed);
        removed.failed(ovs);
        let regs = crate::lock::exclusive(crate::lock::Topic::Bridges).map(|_lock| {
            // Registrations left now name bridges that no longer exist.
            for b in crate::driver::shared::used_by(owner) {
                crate::driver::shared::unregister(&b, owner);
            }
        });
        removed.failed(regs);
        let netns = self.down_netns(owner, &mut removed);
        removed.failed(netns);
        // Nothing of the owner's comes back when its containers restart under `watch`.
        let had = crate::watch::records::drop_owner(owner);
        if !had.is_empty() {
            removed.notes.push(format!(
                "dropped the watch records of {} container(s)",
                had.len()
            ));
        }
        Ok(removed)
    }

    /// Every owner something of pipework's is marked for: host links, links in named namespaces,
    /// OVS rows, namespace records, DHCP clients, bridge registrations, joined interfaces, journals.
    pub fn owners(&self) -> Result<Vec<String>> {
        let mut all = std::collections::BTreeSet::new();
        let mut from_alias = |links: Vec<LinkState>| {
            for l in links {
                if let Some(o) = l.owner() {
                    all.insert(o.to_string());
                }
            }
        };
        from_alias(self.nl.ns(&self.host)?.links()?);
        for name in guest::netns_names() {
            if let Ok(Some(g)) = Guest::open_netns(&name) {
                if let Ok(gns) = self.nl.ns(&g) {
                    from_alias(gns.links().unwrap_or_default());
                }
            }
        }
        all.extend(crate::driver::ovs::vsctl::owners());
        all.extend(guest::owned_netns().into_iter().map(|r| r.owner));
        all.extend(
            crate::driver::direct::records(None)
                .into_iter()
                .map(|h| h.owner),
        );
        let state = std::path::Path::new(guest::STATE_DIR);
        for d in ["dhcp", "journal"] {
            for e in std::fs::read_dir(state.join(d))
                .into_iter()
                .flatten()
                .flatten()
            {
                all.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
        for b in std::fs::read_dir(state.join("bridges"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for e in std::fs::read_dir(b.path()).into_iter().flatten().flatten() {
                all.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
        for e in std::fs::read_dir(state.join("joined"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if let Some(o) = marker::field(&text, "owner") {
                all.insert(o.to_string());
            }
        }
        Ok(all
            .into_iter()
            .filter(|o| !o.starts_with('.') && marker::validate_owner(o).is_ok())
            .collect())
    }

    fn down_netns(&self, owner: &str, removed: &mut Removed) -> Result<()> {
        // Our namespaces, each checked against the identity it had when we created it: a name
        // now taken by someone else's namespace is left alone, a record of a namespace deleted
        // outside pipework is dropped — and neither is reported as removed.
        let mut ours = vec![];
        // Not while another process is half-way through making one of them (see create_netns).
        let netns_lock = crate::lock::exclusive(crate::lock::Topic::Netns)?;
        guest::drop_unfinished_records(Some(owner));
        for rec in guest::owned_netns()
            .into_iter()
            .filter(|r| r.owner == owner)
        {
            match rec.state()? {
                guest::RecordState::Ours(g) => ours.push((rec, g)),
                guest::RecordState::Unmounted => {
                    removed.notes.push(format!(
                        "netns {}: removed the placeholder a killed pipework left unmounted",
                        rec.name
                    ));
                    let _ = Guest::delete_netns(&rec.name);
                }
                guest::RecordState::Gone => {
                    removed.notes.push(format!(
                        "netns {} no longer exists (deleted outside pipework, or its creation was killed); dropped its record",
                        rec.name
                    ));
                    rec.drop_record();
                }
                guest::RecordState::NotOurs => {
                    removed.notes.push(format!(
                        "netns {} is not the namespace pipework created for {owner} ({}); left it alone and dropped the record",
                        rec.name,
                        if rec.id.is_some() {
                            "same name, another namespace"
                        } else {
                            "the record, from an older pipework, cannot prove which namespace it was"
                        }
                    ));
                    rec.drop_record();
                }
            }
        }
        // Links we made inside namespaces we do not own (vlan, dummy in someone else's netns).
        for name in guest::netns_names() {
            if ours.iter().any(|(r, _)| r.name == name) {
                continue;
            }
            let Ok(Some(g)) = Guest::open_netns(&name) else {
                continue;
            };
            let Ok(gns) = self.nl.ns(&g) else { continue };
            for l in gns.links().unwrap_or_default() {
                if l.owner() == Some(owner) && gns.del_link(l.index, &l.name).is_ok() {
                    removed.links.push(format!("{}:{}", g, l.name));
                }
            }
        }
        drop(netns_lock);
        for (rec, g) in ours {
            match self.delete_netns(&g) {
                Ok(()) => removed.netns.push(rec.name),
                Err(e) => removed.errors.push(e.to_string()),
            }
        }
        Ok(())
    }

    /// `pipework down --stale`: what killed pipework processes left half-made, for every owner —
    /// unmarked links they never finished, namespace records whose namespace never came to be (or
    /// is gone) and placeholders never mounted. Complete, marked objects stay: they belong to
    /// owners who have not said `down` yet.
    pub fn down_stale(&self) -> Result<Removed> {
        let mut removed = Removed::default();
        self.finish_killed(None, &mut removed);
        crate::driver::direct::release_dead(self, &mut removed);
        {
            let _lock = crate::lock::exclusive(crate::lock::Topic::Bridges)?;
            let host = self.nl.ns(&self.host)?.links()?;
            let ovs_up = crate::driver::ovs::vsctl::running();
            let gone = crate::driver::shared::forget_gone(|name| {
                let dev = host.iter().find(|l| l.name == name).map(|l| l.index);
                // An OVS bridge may have no kernel device (its vswitchd down): OVSDB decides.
                dev.or_else(|| (ovs_up && crate::driver::ovs::vsctl::is_bridge(name)).then_some(0))
            });
            for b in gone {
                removed.notes.push(format!(
                    "bridge {b} no longer exists (deleted outside pipework); dropped its users"
                ));
            }
        }
        let _lock = crate::lock::exclusive(crate::lock::Topic::Netns)?;
        guest::drop_unfinished_records(None);
        for rec in guest::owned_netns() {
            match rec.state()? {
                guest::RecordState::Unmounted => {
                    let _ = Guest::delete_netns(&rec.name);
                    removed.netns.push(rec.name);
                }
                guest::RecordState::Gone => {
                    removed.notes.push(format!(
                        "netns {} (owner {}) no longer exists; dropped its record",
                        rec.name, rec.owner
                    ));
                    rec.drop_record();
                }
                guest::RecordState::Ours(_) | guest::RecordState::NotOurs => {}
            }
        }
        Ok(removed)
    }
}
