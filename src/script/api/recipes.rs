//! What recipes are written with: their parameters held to their own header's schema, and
//! addresses numbered inside a subnet.

use super::*;

pub(super) fn register(engine: &mut Engine, _s: &Rc<Session>) {
    reg!(
        engine,
        "recipe_params",
        ["recipe: &str", "params: Map", "Map"],
        "Hold params to the embedded recipe's `//! param` schema: unknown names refused (with the nearest known one), missing required ones named, defaults filled in. What `pipework run` does before a recipe starts, for recipes called by import.",
        |name: &str, p: Map| {
            let Some(src) = crate::script::stdlib::get(name) else {
                return err(format!("no embedded recipe {name:?}"));
            };
            let given: Vec<(String, String)> = p
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let info = crate::script::stdlib::describe(name, src);
            let full = match crate::script::stdlib::check_params(&info, &given) {
                Ok(f) => f,
                Err(e) => return err(e),
            };
            let mut out = p.clone();
            for (k, v) in full {
                out.entry(k.into()).or_insert_with(|| v.into());
            }
            Ok(out)
        }
    );
    reg!(
        engine,
        "recipe_guests",
        ["guests", "prefix: &str", "count: i64", "Array"],
        "The guests a recipe plumbs: the `guests` parameter's comma-separated specs when it is given, else PREFIX1…PREFIXcount (named namespaces).",
        |guests: Dynamic, prefix: &str, count: i64| {
            if guests.is_unit() {
                return Ok::<_, Box<EvalAltResult>>((1..=count).map(|i| Dynamic::from(format!("{prefix}{i}"))).collect::<Array>());
            }
            Ok(guests
                .to_string()
                .split(',')
                .map(str::trim)
                .map(|g| Dynamic::from(g.to_string()))
                .collect())
        }
    );
    reg!(
        engine,
        "subnet_host",
        ["subnet: &str", "n: i64", "String"],
        "The n-th address of a subnet, with its prefix: subnet_host(\"198.18.40.0/24\", 3) is \"198.18.40.3/24\"; an n outside the subnet is an error.",
        |subnet: &str, n: i64| nth(subnet, n).rhai()
    );
}

fn nth(subnet: &str, n: i64) -> crate::error::Result<String> {
    use ipnetwork::IpNetwork;
    let net = parse::cidr(subnet)?;
    let bad = || {
        Error::invalid(
            "address",
            format!("{subnet} #{n}"),
            "is outside the subnet (count from 1; the last usable host depends on the prefix)",
        )
    };
    let n = u128::try_from(n).map_err(|_| bad())?;
    let (base, bits) = match net.network() {
        std::net::IpAddr::V4(a) => (u32::from(a) as u128, 32),
        std::net::IpAddr::V6(a) => (u128::from(a), 128),
    };
    let size = 1u128
        .checked_shl(bits - u32::from(net.prefix()))
        .unwrap_or(0);
    // IPv4 subnets up to /30 end in their broadcast address, which no host gets.
    let last = if bits == 32 && net.prefix() < 31 {
        size - 1
    } else {
        size
    };
    if n == 0 || (size != 0 && n >= last) {
        return Err(bad());
    }
    let addr: std::net::IpAddr = match net {
        IpNetwork::V4(_) => std::net::Ipv4Addr::from((base + n) as u32).into(),
        IpNetwork::V6(_) => std::net::Ipv6Addr::from(base + n).into(),
    };
    Ok(format!("{addr}/{}", net.prefix()))
}

#[cfg(test)]
mod tests {
    use super::nth;

    #[test]
    fn hosts_in_a_subnet() {
        assert_eq!(nth("198.18.40.0/24", 3).unwrap(), "198.18.40.3/24");
        assert_eq!(nth("198.18.40.77/24", 1).unwrap(), "198.18.40.1/24");
        assert_eq!(nth("198.18.40.0/30", 3).unwrap_err().kind(), "invalid");
        assert!(nth("198.18.40.0/24", 0).is_err() && nth("198.18.40.0/24", -1).is_err());
        assert_eq!(nth("fd00:1::/64", 10).unwrap(), "fd00:1::a/64");
    }
}
