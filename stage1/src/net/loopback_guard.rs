//! The host's loopback, kept from pods whose ports are forwarded. The CNI
//! portmap plugin turns on `route_localnet` on the pod's host-side
//! interface (so that the host's own 127.0.0.1 reaches forwarded ports),
//! which also lets the host take packets *to* 127.0.0.0/8 arriving on
//! that interface: a pod crafting such frames would reach every service
//! the host keeps on loopback. As Kubernetes does for the same problem,
//! such packets are dropped unless they were DNATed (the forwarded ports
//! themselves): one rule per host-side interface, made with the pod's
//! network and removed with it.

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

fn rule(iface: &str) -> [&str; 13] {
    [
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
        "-w",
    ]
}

fn iptables(op: &str, iface: &str) -> Result<bool, String> {
    let out = Command::new("iptables")
        .arg(op)
        .args(rule(iface))
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
    Err(format!(
        "iptables {op} INPUT (loopback guard of {iface}): {}",
        err.trim()
    ))
}

/// Drops packets to the host's loopback arriving on `iface`, unless
/// DNATed.
pub fn add(iface: &str) -> Result<(), String> {
    iptables("-I", iface).map(drop)
}

/// Removes the guard of `iface` (every copy; none is fine).
pub fn remove(iface: &str) -> Result<(), String> {
    while iptables("-D", iface)? {}
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
}
