//! Which networks a pod joins, and their CNI configurations: rkt's
//! built-in `default` and `default-restricted`, and the user's in
//! `<local config>/net.d/*.conf` and `*.conflist`, chosen by `--net` as rkt
//! chooses them.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The CNI version of the built-in networks and of `.conf` files that say
/// none.
pub const CNI_VERSION: &str = "0.4.0";

/// The network that reaches the host and nothing else.
pub const DEFAULT_RESTRICTED: &str = "default-restricted";

/// One network to join: its configuration as a CNI list (one plugin or a
/// chain), and the `CNI_ARGS` given with its name (`--net=NAME:ARGS`).
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub args: String,
    pub list: Value,
}

/// What `--net` asks for.
#[derive(Debug, PartialEq)]
pub enum Selection {
    /// The host's network namespace.
    Host,
    /// A namespace of the pod's own with these networks (none: only `lo`).
    Own(Vec<Network>),
}

fn default_network() -> Value {
    json!({"cniVersion": CNI_VERSION, "name": "default", "plugins": [
        {"type": "ptp", "ipMasq": true, "ipam": {"type": "host-local",
            "subnet": "172.16.28.0/24", "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": true}}
    ]})
}

fn default_restricted_network() -> Value {
    json!({"cniVersion": CNI_VERSION, "name": DEFAULT_RESTRICTED, "plugins": [
        {"type": "ptp", "ipMasq": false, "ipam": {"type": "host-local",
            "subnet": "172.31.0.0/16"}},
        {"type": "portmap", "capabilities": {"portMappings": true}}
    ]})
}

/// Where CNI plugins are looked for: `extra` (from `paths.d`), rkt's
/// directory, Debian's, the usual one, and the user's `net.d` (as rkt).
pub fn plugin_path(local_config: &Path, extra: Option<&Path>) -> Vec<PathBuf> {
    let mut path: Vec<PathBuf> = extra.into_iter().map(Path::to_path_buf).collect();
    path.extend(
        ["/usr/lib/rkt/plugins/net", "/usr/lib/cni", "/opt/cni/bin"]
            .iter()
            .map(PathBuf::from),
    );
    path.push(local_config.join("net.d"));
    path
}

/// The plugin executable `kind` in the first directory of `path` that
/// has it.
pub fn find_plugin(kind: &str, path: &[PathBuf]) -> Result<PathBuf, String> {
    // A type is a file name in the plugin directories, never a path out
    // of them (CVE-2021-20206); checked here too for what gc reads back.
    if !plugin_name(kind) {
        return Err(format!("plugin type {kind:?} is not a plugin name"));
    }
    path.iter()
        .map(|d| d.join(kind))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let dirs: Vec<String> = path.iter().map(|d| d.display().to_string()).collect();
            format!(
                "no CNI plugin {kind:?} in {} (Debian's are in containernetworking-plugins)",
                dirs.join(":")
            )
        })
}

/// Whether a CNI `type` names a plugin: a file name, not a path.
fn plugin_name(kind: &str) -> bool {
    !kind.is_empty() && !kind.contains('/') && !kind.starts_with('.') && !kind.contains('\0')
}

/// Checks that every plugin `nets` use is in `path`.
pub fn check_plugins(nets: &[Network], path: &[PathBuf]) -> Result<(), String> {
    for net in nets {
        for p in net.list["plugins"].as_array().into_iter().flatten() {
            find_plugin(p["type"].as_str().unwrap_or_default(), path)
                .map_err(|e| format!("network {}: {e}", net.name))?;
        }
    }
    Ok(())
}

/// A network the pod joined, as its record in the pod directory says
/// (see [`crate::PodDir::networks`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub name: String,
    pub ifname: String,
    /// Its addresses, without their prefix length.
    pub ips: Vec<String>,
    /// The first of its addresses' gateways: for the bridge and ptp
    /// networks, the host's side, where the pod reaches the host.
    pub gateway: Option<String>,
}

/// The records of the networks a pod joined, in the order joined.
pub fn records(pod_dir: &crate::PodDir) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pod_dir.networks())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

pub fn read_record(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The networks a pod joined, with their addresses, in the order joined.
pub fn joined(pod_dir: &crate::PodDir) -> Vec<Joined> {
    records(pod_dir)
        .iter()
        .filter_map(|f| read_record(f).ok())
        .map(|r| Joined {
            name: r["name"].as_str().unwrap_or_default().to_string(),
            ifname: r["ifname"].as_str().unwrap_or_default().to_string(),
            ips: r["result"]["ips"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|ip| ip["address"].as_str())
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect(),
            gateway: r["result"]["ips"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|ip| ip["gateway"].as_str())
                .map(str::to_string),
        })
        .collect()
}

/// Records what the pod's networks gave it (see [`crate::PodDir::net_info`]).
pub fn write_info(pod_dir: &crate::PodDir) -> Result<(), String> {
    let info: Vec<Value> = joined(pod_dir)
        .into_iter()
        .map(|j| json!({"netName": j.name, "ifName": j.ifname, "ips": j.ips, "gateway": j.gateway}))
        .collect();
    let path = pod_dir.net_info();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, Value::Array(info).to_string())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The networks the pod joined, while it is in them or since it left.
pub fn info(pod_dir: &crate::PodDir) -> Vec<Joined> {
    let Ok(text) = std::fs::read_to_string(pod_dir.net_info()) else {
        return joined(pod_dir);
    };
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    let text_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
    items
        .iter()
        .map(|i| Joined {
            name: text_of(&i["netName"]),
            ifname: text_of(&i["ifName"]),
            ips: i["ips"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|ip| ip.as_str().map(str::to_string))
                .collect(),
            gateway: i["gateway"].as_str().map(str::to_string),
        })
        .collect()
}

/// A network name as CNI and rkt allow it.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The user's networks in `net_d`, by name, in the files' sorted order.
/// A file that is not a network configuration is an error naming it.
pub fn user_networks(net_d: &Path) -> Result<Vec<(String, Value)>, String> {
    let mut files: Vec<_> = match std::fs::read_dir(net_d) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", net_d.display())),
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "conf" || x == "conflist" || x == "json")
            })
            .collect(),
    };
    files.sort();
    let mut nets: Vec<(String, Value)> = Vec::new();
    for file in files {
        let bad = |why: String| format!("network configuration {}: {why}", file.display());
        let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
        let mut conf: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        go_keys(&mut conf);
        let list = as_list(&conf).map_err(bad)?;
        let name = list["name"].as_str().unwrap_or_default().to_string();
        if nets.iter().any(|(n, _)| *n == name) {
            return Err(bad(format!("a network named {name} is defined twice")));
        }
        nets.push((name, list));
    }
    Ok(nets)
}

/// The keys of a network configuration that rkt and the plugins read, as
/// Go's JSON decoder matches them: in any case (`"Name"`, `"TYPE"`), the
/// last of several spellings winning. Renamed here to their spelling, so
/// that configurations rkt's users have keep working.
fn go_keys(conf: &mut Value) {
    const KEYS: [&str; 9] = [
        "cniVersion",
        "name",
        "type",
        "plugins",
        "ipam",
        "ipMasq",
        "dns",
        "capabilities",
        "runtimeConfig",
    ];
    let Some(obj) = conf.as_object_mut() else {
        return;
    };
    for key in KEYS {
        let spellings: Vec<String> = obj
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(key))
            .cloned()
            .collect();
        if spellings.len() == 1 && spellings[0] == key {
            continue;
        }
        // The document's last spelling wins, as Go assigns each in turn.
        let mut value = None;
        for k in spellings {
            value = obj.remove(&k);
        }
        if let Some(v) = value {
            obj.insert(key.to_string(), v);
        }
    }
    for nested in ["plugins", "ipam"] {
        match obj.get_mut(nested) {
            Some(Value::Array(items)) => items.iter_mut().for_each(go_keys),
            Some(v @ Value::Object(_)) => go_keys(v),
            _ => {}
        }
    }
}

/// A `.conf` (one plugin) or `.conflist` as a list, checked.
fn as_list(conf: &Value) -> Result<Value, String> {
    let name = conf["name"]
        .as_str()
        .filter(|n| valid_name(n))
        .ok_or("no valid \"name\"")?;
    let version = conf["cniVersion"].as_str().unwrap_or(CNI_VERSION);
    let plugins = match conf.get("plugins") {
        Some(Value::Array(p)) if !p.is_empty() => p.clone(),
        Some(_) => return Err("\"plugins\" must be a non-empty list".into()),
        None => {
            let mut single = conf.clone();
            let obj = single.as_object_mut().ok_or("not a JSON object")?;
            obj.remove("name");
            obj.remove("cniVersion");
            vec![single]
        }
    };
    for p in &plugins {
        if !p["type"].as_str().is_some_and(plugin_name) {
            return Err(format!("plugin type {:?} is not a plugin name", p["type"]));
        }
    }
    Ok(json!({"cniVersion": version, "name": name, "plugins": plugins}))
}

/// The networks `--net` asks for (each flag's value, comma-separated
/// names with optional `:CNI_ARGS`), as rkt chooses them: nothing means
/// `default`; a list without `default` also gets `default-restricted`,
/// so the pod can still reach the host; `all` is every network
/// configured; `none` is a namespace with only loopback.
pub fn select(flags: &[String], net_d: &Path) -> Result<Selection, String> {
    let mut asked: Vec<(String, String)> = Vec::new();
    for item in flags
        .iter()
        .flat_map(|f| f.split(','))
        .filter(|s| !s.is_empty())
    {
        let (name, args) = item.split_once(':').unwrap_or((item, ""));
        if asked.iter().any(|(n, _)| n == name) {
            return Err(format!("--net: network {name} is given twice"));
        }
        asked.push((name.to_string(), args.to_string()));
    }
    let alone = |word: &str| asked.iter().any(|(n, _)| n == word) && asked.len() > 1;
    for word in ["host", "none"] {
        if alone(word) {
            return Err(format!(
                "--net={word} cannot be combined with other networks"
            ));
        }
    }
    match asked.first().map(|(n, _)| n.as_str()) {
        Some("host") => return Ok(Selection::Host),
        Some("none") => return Ok(Selection::Own(Vec::new())),
        None => asked.push(("default".into(), String::new())),
        _ => {}
    }
    let mut known = user_networks(net_d)?;
    for (name, conf) in [
        ("default", default_network()),
        (DEFAULT_RESTRICTED, default_restricted_network()),
    ] {
        // A user's network of the same name replaces the built-in one.
        if !known.iter().any(|(n, _)| n == name) {
            known.push((name.to_string(), conf));
        }
    }
    if let Some(i) = asked.iter().position(|(n, _)| n == "all") {
        asked.remove(i);
        for (name, _) in &known {
            if name != DEFAULT_RESTRICTED && !asked.iter().any(|(n, _)| n == name) {
                asked.push((name.clone(), String::new()));
            }
        }
    }
    if !asked
        .iter()
        .any(|(n, _)| n == "default" || n == DEFAULT_RESTRICTED)
    {
        asked.push((DEFAULT_RESTRICTED.into(), String::new()));
    }
    let mut nets = Vec::new();
    for (name, args) in asked {
        let Some((_, list)) = known.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!(
                "unknown network {name:?} (known: {}; user networks go in {})",
                names.join(", "),
                net_d.display()
            ));
        };
        nets.push(Network {
            name,
            args,
            list: list.clone(),
        });
    }
    Ok(Selection::Own(nets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Selection) -> Vec<&str> {
        match s {
            Selection::Host => vec!["host"],
            Selection::Own(n) => n.iter().map(|n| n.name.as_str()).collect(),
        }
    }

    fn flags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rkts_choice_of_networks() {
        let none = Path::new("/nonexistent/net.d");
        let pick = |v: &[&str]| select(&flags(v), none).unwrap();
        assert_eq!(names(&pick(&[])), ["default"]);
        assert_eq!(names(&pick(&[""])), ["default"]);
        assert_eq!(names(&pick(&["default"])), ["default"]);
        assert_eq!(names(&pick(&["host"])), ["host"]);
        assert_eq!(pick(&["none"]), Selection::Own(Vec::new()));
        assert_eq!(
            names(&pick(&["default-restricted"])),
            ["default-restricted"]
        );
        assert_eq!(names(&pick(&["all"])), ["default"]);
        for bad in [
            &["host,default"][..],
            &["none", "default"],
            &["nope"],
            &["default,default"],
        ] {
            assert!(select(&flags(bad), none).is_err(), "{bad:?}");
        }
        let Selection::Own(nets) = pick(&["default:IP=172.16.28.9"]) else {
            panic!()
        };
        assert_eq!(nets[0].args, "IP=172.16.28.9");
        assert_eq!(nets[0].list["plugins"][0]["type"], "ptp");
    }

    #[test]
    fn plugin_types_are_names_not_paths() {
        let path = [PathBuf::from("/usr/lib/cni")];
        for bad in ["", "/bin/sh", "../../bin/sh", "..", ".hidden", "a/b"] {
            let e = find_plugin(bad, &path).unwrap_err();
            assert!(e.contains("is not a plugin name"), "{bad}: {e}");
        }
    }

    #[test]
    fn user_networks_from_net_d() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(
            d.join("10-br.conf"),
            r#"{"name": "br", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.99.0.0/24"}}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("20-chain.conflist"),
            r#"{"cniVersion": "1.0.0", "name": "chain", "plugins": [{"type": "ptp"}, {"type": "tuning"}]}"#,
        )
        .unwrap();
        let pick = |v: &[&str]| select(&flags(v), d).unwrap();
        // A list without default gets default-restricted.
        let Selection::Own(nets) = pick(&["br", "chain"]) else {
            panic!()
        };
        assert_eq!(
            nets.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["br", "chain", "default-restricted"]
        );
        assert_eq!(nets[0].list["cniVersion"], CNI_VERSION);
        assert_eq!(nets[0].list["plugins"][0]["type"], "bridge");
        assert_eq!(nets[1].list["plugins"][1]["type"], "tuning");
        assert_eq!(names(&pick(&["all"])), ["br", "chain", "default"]);
        // Keys in any case, as Go reads them (the last spelling wins).
        std::fs::write(
            d.join("25-go.conf"),
            r#"{"Name": "go", "TYPE": "macvlan", "Type": "bridge", "IPAM": {"Type": "host-local"}}"#,
        )
        .unwrap();
        let Selection::Own(nets) = pick(&["go"]) else {
            panic!()
        };
        let plugin = &nets[0].list["plugins"][0];
        assert_eq!(plugin["type"], "bridge");
        assert_eq!(plugin["ipam"]["type"], "host-local");
        assert!(plugin.get("TYPE").is_none() && plugin.get("Name").is_none());
        std::fs::remove_file(d.join("25-go.conf")).unwrap();
        std::fs::write(d.join("30-bad.conf"), "{not json").unwrap();
        let e = select(&flags(&["br"]), d).unwrap_err();
        assert!(e.contains("30-bad.conf"), "{e}");
        std::fs::write(d.join("30-bad.conf"), r#"{"name": "x", "type": "../sh"}"#).unwrap();
        assert!(select(&flags(&["br"]), d).is_err());
    }
}
