//! Teardown: `down(owner)` is the rooms that made things, each removing its own, in an order that
//! keeps every step valid.

use super::*;

impl Session {
    /// Remove everything marked as created for `owner`: host-side links (veth ends, bridges), then
    /// the named namespaces we created for it.
    pub fn down(&self, owner: &str) -> Result<Removed> {
        marker::validate_owner(owner)?;
        let mut removed = Removed::default();
        // Each room removes what it made, in the order that keeps every step valid: DHCP clients
        // first (they would fight the teardown), host-side links and Linux bridges, OVS ports and
        // bridges, then links we made in other people's namespaces, then our namespaces.
        dhcp::teardown_owned(owner, &mut removed);
        crate::driver::teardown_host_links(self, owner, &mut removed)?;
        crate::driver::ovs::teardown_owned(owner, &mut removed)?;
        // Our namespaces, each checked against the identity it had when we created it: a name
        // now taken by someone else's namespace is left alone, a record of a namespace deleted
        // outside pipework is dropped — and neither is reported as removed.
        let mut ours = vec![];
        for rec in guest::owned_netns()
            .into_iter()
            .filter(|r| r.owner == owner)
        {
            match rec.state()? {
                guest::RecordState::Ours(g) => ours.push((rec, g)),
                guest::RecordState::Gone => {
                    removed.notes.push(format!(
                        "netns {} was already deleted outside pipework; dropped its record",
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
                if l.alias.as_deref().and_then(marker::owner_of) == Some(owner)
                    && gns.del_link(l.index, &l.name).is_ok()
                {
                    removed.links.push(format!("{}:{}", g, l.name));
                }
            }
        }
        for (rec, g) in ours {
            self.delete_netns(&g)?;
            removed.netns.push(rec.name);
        }
        Ok(removed)
    }
}
