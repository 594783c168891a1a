//! Filter rules on the host that a pod's network needs beyond what its
//! plugins make, each on a host-side interface of the pod, made with the
//! network and removed with it (the rules are recorded with the network,
//! so that gc removes exactly them after a crash):
//!
//! - The host's loopback, kept from pods whose ports are forwarded. The
//!   CNI portmap plugin turns on `route_localnet` on the pod's host-side
//!   interface (so that the host's own 127.0.0.1 reaches forwarded
//!   ports), which also lets the host take packets *to* 127.0.0.0/8
//!   arriving on that interface: a pod crafting such frames would reach
//!   every service on the host's loopback. As Kubernetes does, such
//!   packets are dropped unless they were DNATed.
//! - `default-restricted`: the pod reaches the host and nothing else.
//!   Without a route the pod's own stack sends nothing further, but
//!   crafted frames to the gateway would be forwarded (to pods on other
//!   networks, say): nothing is forwarded from or to its interface.

use serde_json::Value;
use std::process::{Command, Stdio};

/// The host-side interfaces of a CNI result (those outside the pod's
/// namespace: no `sandbox`).
pub fn host_interfaces(result: &Value) -> Vec<String> {
    result["interfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i.get("sandbox").is_none_or(|s| s.as_str() == Some("")))
        .filter_map(|i| i["name"].as_str().map(str::to_string))
        .collect()
}

/// The rules (iptables arguments after the operation, chain first) for
/// a network's host-side interfaces: the loopback guard where ports are
/// forwarded, isolation for `default-restricted`.
pub fn for_network(name: &str, ports_forwarded: bool, ifaces: &[String]) -> Vec<Vec<String>> {
    let mut rules = Vec::new();
    for iface in ifaces {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        if ports_forwarded {
            rules.push(args(&[
                "INPUT",
                "-i",
                iface,
                "-d",
                "127.0.0.0/8",
                "-m",
                "conntrack",
                "!",
                "--ctstate",
                "RELATED,ESTABLISHED,DNAT",
                "-j",
                "DROP",
            ]));
        }
        if name == pod::net::DEFAULT_RESTRICTED {
            rules.push(args(&["FORWARD", "-i", iface, "-j", "DROP"]));
            rules.push(args(&["FORWARD", "-o", iface, "-j", "DROP"]));
        }
    }
    rules
}

/// Where a network's record keeps its host rules.
pub const RECORD_KEY: &str = "hostRules";

/// The host rules a network's record keeps.
pub fn recorded(record: &Value) -> Vec<Vec<String>> {
    let rules: Vec<Vec<String>> =
        serde_json::from_value(record[RECORD_KEY].clone()).unwrap_or_default();
    rules.into_iter().filter(|r| !r.is_empty()).collect()
}

fn iptables(op: &str, rule: &[String]) -> Result<bool, String> {
    let out = Command::new("iptables")
        .arg("-w")
        .arg(op)
        .args(rule)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("iptables: {e}"))?;
    if out.status.success() {
        return Ok(true);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    // -D of a rule that is not there.
    if op == "-D" && err.contains("does a matching rule exist") {
        return Ok(false);
    }
    Err(format!("iptables {op} {}: {}", rule.join(" "), err.trim()))
}

/// Makes `rule`, first in its chain.
pub fn add(rule: &[String]) -> Result<(), String> {
    iptables("-I", rule).map(drop)
}

/// Removes `rule` (every copy; none is fine).
pub fn remove(rule: &[String]) -> Result<(), String> {
    while iptables("-D", rule)? {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_side_of_a_result() {
        let result = serde_json::json!({"interfaces": [
            {"name": "veth1f2e3d4c", "mac": "aa:bb:cc:dd:ee:ff"},
            {"name": "eth0", "mac": "11:22:33:44:55:66", "sandbox": "/run/netns/rkt-x"}]});
        assert_eq!(host_interfaces(&result), ["veth1f2e3d4c"]);
        assert!(host_interfaces(&Value::Null).is_empty());
    }

    #[test]
    fn rules_by_network() {
        let veth = ["veth0".to_string()];
        assert!(for_network("default", false, &veth).is_empty());
        let guarded = for_network("default", true, &veth);
        assert_eq!(guarded.len(), 1);
        assert_eq!(guarded[0][..3], ["INPUT", "-i", "veth0"]);
        let restricted = for_network("default-restricted", false, &veth);
        assert_eq!(restricted.len(), 2);
        assert!(restricted.iter().all(|r| r[0] == "FORWARD"));
    }
}
