//! Pod networking with CNI, done by the supervisor in the host's
//! namespaces: a network namespace is made and pinned (see [`netns`]),
//! its `lo` up, then each network `--net` chose (see `pod::net`) is
//! joined by running its plugins (see [`plugin`]), and left again (CNI
//! DEL, last joined first) when the pod ends, or by the gc entrypoint
//! after a crash. What each join gave is recorded in the pod directory
//! before and after the plugins run, so leaving needs nothing else.

mod host_rules;
pub mod netns;
pub mod plugin;
mod ready;

pub use ready::{Joined, Ready, ready_pipe};

use pod::PodDir;
use pod::net::{Network, read_record, records};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A port of an app forwarded from the host (`rkt run --port`), as the
/// CNI `portMappings` capability takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PortMapping {
    pub host_port: u32,
    pub container_port: u32,
    pub protocol: String,
    pub host_ip: Option<String>,
}

impl PortMapping {
    fn to_json(&self) -> Value {
        let mut v = json!({"hostPort": self.host_port, "containerPort": self.container_port,
            "protocol": self.protocol});
        if let Some(ip) = &self.host_ip {
            v["hostIP"] = json!(ip);
        }
        v
    }
}

/// A host port held for a pod's whole life, so that no other pod (whose
/// forwarding would be shadowed) nor host program takes it meanwhile.
pub enum Reserved {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

impl Reserved {
    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Reserved::Tcp(s) => s.as_raw_fd(),
            Reserved::Udp(s) => s.as_raw_fd(),
        }
    }
}

/// Reserves each mapping's host port, or says which one is taken.
pub fn reserve(ports: &[PortMapping]) -> Result<Vec<Reserved>, String> {
    ports
        .iter()
        .map(|p| {
            let ip = p.host_ip.as_deref().unwrap_or("0.0.0.0");
            let ip: std::net::IpAddr = ip.parse().map_err(|_| format!("host IP {ip:?}"))?;
            let at = std::net::SocketAddr::new(ip, p.host_port as u16);
            let taken = |e: std::io::Error| {
                format!("host port {}/{} is not free: {e}", p.host_port, p.protocol)
            };
            Ok(match p.protocol.as_str() {
                "udp" => Reserved::Udp(std::net::UdpSocket::bind(at).map_err(taken)?),
                _ => Reserved::Tcp(std::net::TcpListener::bind(at).map_err(taken)?),
            })
        })
        .collect()
}

/// Held while plugins run: concurrent pods' plugins would race to make
/// the host-wide iptables chains some of them share (portmap's).
fn host_lock() -> Result<std::fs::File, String> {
    let path = Path::new("/run/rkt-net.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.lock().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(f)
}

/// Where plugins are looked for: `CNI_PATH` as stage0 gives it, else
/// as `pod::net::plugin_path` has it.
pub fn plugin_path(local_config: &Path) -> Vec<PathBuf> {
    match std::env::var_os("CNI_PATH").filter(|p| !p.is_empty()) {
        Some(p) => std::env::split_paths(&p).collect(),
        None => pod::net::plugin_path(local_config, None),
    }
}

/// What the supervisor needs to join and leave networks.
pub struct Joiner<'a> {
    pub pod_dir: &'a PodDir,
    pub uuid: &'a str,
    pub path: Vec<PathBuf>,
}

impl Joiner<'_> {
    fn call<'c>(
        &'c self,
        command: &'c str,
        netns: &'c Path,
        ifname: &'c str,
        args: &'c str,
    ) -> plugin::Call<'c> {
        plugin::Call {
            command,
            container_id: self.uuid,
            netns,
            ifname,
            args,
            path: &self.path,
            timeout: plugin::timeout(),
        }
    }

    /// Makes the pod's network namespace (recorded in the pod directory
    /// before anything else, so that leaving finds it).
    pub fn make_namespace(&self) -> Result<(), String> {
        let pin = netns::pin_path(self.uuid);
        netns::create(&pin)?;
        std::fs::write(self.pod_dir.netns(), pin.display().to_string()).map_err(|e| {
            let _ = netns::remove(&pin);
            format!("{}: {e}", self.pod_dir.netns().display())
        })
    }

    /// Joins `nets` in order (the first as `eth0`) in the namespace
    /// [`Self::make_namespace`] made; `ports` go to the first network
    /// whose plugins take port mappings. On failure, everything done,
    /// the namespace included, is undone.
    pub fn join(&self, nets: &[Network], ports: &[PortMapping]) -> Result<(), String> {
        let joined = self
            .join_all(&netns::pin_path(self.uuid), nets, ports)
            .and_then(|()| pod::net::write_info(self.pod_dir));
        if let Err(e) = joined {
            if let Err(undo) = self.leave() {
                eprintln!("stage1: undoing the pod's networking: {undo}");
            }
            return Err(e);
        }
        Ok(())
    }

    fn join_all(&self, pin: &Path, nets: &[Network], ports: &[PortMapping]) -> Result<(), String> {
        let _lock = host_lock()?;
        let dir = self.pod_dir.networks();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut ports_left = ports;
        for (i, net) in nets.iter().enumerate() {
            let ifname = format!("eth{i}");
            let takes_ports = plugins(&net.list).any(|p| p["capabilities"]["portMappings"] == true);
            let mine = if takes_ports {
                std::mem::take(&mut ports_left)
            } else {
                &[][..]
            };
            let list = with_runtime_config(&net.list, mine);
            let file = dir.join(format!("{i:02}-{}.json", net.name));
            let mut record = json!({"name": net.name, "ifname": ifname, "args": net.args,
                "list": list, "result": null});
            write_record(&file, &record)?;
            let mut prev = Value::Null;
            for plugin in plugins(&list) {
                let conf = plugin_config(&list, plugin, &prev);
                prev = plugin::run(&self.call("ADD", pin, &ifname, &net.args), &conf)
                    .map_err(|e| format!("network {}: {e}", net.name))?;
            }
            // Recorded before they are made, so that leaving finds them.
            let ifaces = host_rules::host_interfaces(&prev);
            let rules = host_rules::for_network(&net.name, !mine.is_empty(), &ifaces);
            record[host_rules::RECORD_KEY] = json!(rules);
            record["result"] = prev;
            write_record(&file, &record)?;
            rules
                .iter()
                .try_for_each(|r| host_rules::add(r))
                .map_err(|e| format!("network {}: {e}", net.name))?;
        }
        Ok(())
    }

    /// Leaves every network recorded (last joined first) and then removes
    /// the pinned namespace. Safe to repeat: what is gone is not an error,
    /// a record goes only once its network was left, and the namespace
    /// only once every network was.
    pub fn leave(&self) -> Result<(), String> {
        let pin = self.pin();
        // Plugins take an empty CNI_NETNS as "the namespace is gone".
        let netns = if pin.exists() {
            pin.clone()
        } else {
            PathBuf::new()
        };
        let mut first_error = None;
        let _lock = host_lock()?;
        for file in records(self.pod_dir).into_iter().rev() {
            let left = read_record(&file).and_then(|r| self.leave_one(&netns, &r));
            match left {
                Ok(()) => {
                    let _ = std::fs::remove_file(&file);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            // The namespace stays for the next try: plugins find what
            // they set up on the host (masquerading, say) through it.
            return Err(e);
        }
        self.remove_namespace(&pin)?;
        Ok(())
    }

    /// The pinned namespace, as recorded (or where it would be).
    fn pin(&self) -> PathBuf {
        std::fs::read_to_string(self.pod_dir.netns())
            .map(|p| PathBuf::from(p.trim()))
            .unwrap_or_else(|_| netns::pin_path(self.uuid))
    }

    /// Removes the pinned namespace `pin` and its records.
    fn remove_namespace(&self, pin: &Path) -> Result<(), String> {
        netns::remove(pin)?;
        let _ = std::fs::remove_dir(self.pod_dir.networks());
        let _ = std::fs::remove_file(self.pod_dir.netns());
        Ok(())
    }

    /// Leaves what can be left, then lets go of the rest: the pinned
    /// namespace and the records go even where a plugin's DEL keeps
    /// failing (`rkt rm --force`, or gc past its grace period). Returns
    /// what could not be released, for the caller to name.
    pub fn release(&self) -> Result<(), String> {
        let Err(left) = self.leave() else {
            return Ok(());
        };
        let _lock = host_lock()?;
        // What each network's host rules are: those the plugin failing
        // its DEL did not hold still go.
        for file in records(self.pod_dir) {
            if let Ok(record) = read_record(&file) {
                for rule in host_rules::recorded(&record) {
                    let _ = host_rules::remove(&rule);
                }
            }
            let _ = std::fs::remove_file(&file);
        }
        let pin = self.pin();
        self.remove_namespace(&pin)?;
        Err(format!(
            "{left}; the namespace was removed all the same, and what that plugin made on the host may remain"
        ))
    }

    fn leave_one(&self, netns: &Path, record: &Value) -> Result<(), String> {
        let name = record["name"].as_str().unwrap_or_default();
        let ifname = record["ifname"].as_str().unwrap_or("eth0");
        let args = record["args"].as_str().unwrap_or_default();
        let list = &record["list"];
        for rule in host_rules::recorded(record) {
            host_rules::remove(&rule).map_err(|e| format!("leaving network {name}: {e}"))?;
        }
        let all: Vec<&Value> = plugins(list).collect();
        for plugin in all.into_iter().rev() {
            let conf = plugin_config(list, plugin, &record["result"]);
            plugin::run(&self.call("DEL", netns, ifname, args), &conf)
                .map_err(|e| format!("leaving network {name}: {e}"))?;
        }
        Ok(())
    }
}

fn plugins(list: &Value) -> impl Iterator<Item = &Value> {
    list["plugins"].as_array().into_iter().flatten()
}

/// The list with the port mappings given to the plugins that take them;
/// such a plugin is left out when there are none (nothing for it to do).
fn with_runtime_config(list: &Value, ports: &[PortMapping]) -> Value {
    let mut list = list.clone();
    if let Some(plugins) = list["plugins"].as_array_mut() {
        plugins.retain(|p| p["capabilities"]["portMappings"] != true || !ports.is_empty());
        for p in plugins.iter_mut() {
            if p["capabilities"]["portMappings"] == true {
                let maps: Vec<Value> = ports.iter().map(PortMapping::to_json).collect();
                p["runtimeConfig"] = json!({"portMappings": maps});
            }
        }
    }
    list
}

/// One plugin's configuration in a list: the list's name and version,
/// and the previous plugin's result.
fn plugin_config(list: &Value, plugin: &Value, prev: &Value) -> Value {
    let mut conf = plugin.clone();
    conf["cniVersion"] = list["cniVersion"].clone();
    conf["name"] = list["name"].clone();
    if !prev.is_null() {
        conf["prevResult"] = prev.clone();
    }
    conf
}

fn write_record(file: &Path, record: &Value) -> Result<(), String> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, record.to_string())
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// The name servers, search domains and options the networks gave, as
/// the pod's resolv.conf (none when no network gave a name server).
pub fn resolv_conf(pod_dir: &PodDir) -> Option<String> {
    let mut dns = pod::dns::Dns::default();
    for file in records(pod_dir) {
        let Ok(r) = read_record(&file) else { continue };
        let d = &r["result"]["dns"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        dns.servers.extend(strings(&d["nameservers"]));
        dns.search.extend(strings(&d["search"]));
        dns.options.extend(strings(&d["options"]));
        if dns.domain.is_none() {
            dns.domain = d["domain"].as_str().map(str::to_string);
        }
    }
    if dns.servers.is_empty() || dns.check().is_err() {
        return None;
    }
    match dns.resolv_conf() {
        pod::dns::FileSource::Own(text) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_mappings_go_only_to_plugins_that_take_them() {
        let list = json!({"cniVersion": "0.4.0", "name": "n", "plugins": [
            {"type": "ptp"}, {"type": "portmap", "capabilities": {"portMappings": true}}]});
        let none = with_runtime_config(&list, &[]);
        assert_eq!(none["plugins"].as_array().unwrap().len(), 1);
        let port = PortMapping {
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: Some("127.0.0.1".into()),
        };
        let some = with_runtime_config(&list, &[port]);
        assert_eq!(
            some["plugins"][1]["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}]})
        );
        let conf = plugin_config(&some, &some["plugins"][1], &json!({"ips": []}));
        assert_eq!(conf["name"], "n");
        assert_eq!(conf["cniVersion"], "0.4.0");
        assert_eq!(conf["prevResult"], json!({"ips": []}));
    }

    #[test]
    fn dns_from_the_records() {
        let tmp = tempfile::tempdir().unwrap();
        let d = PodDir::new(tmp.path());
        std::fs::create_dir_all(d.networks()).unwrap();
        let r = json!({"name": "default", "ifname": "eth0", "args": "", "list": {},
            "result": {"ips": [{"version": "4", "address": "172.16.28.5/24", "gateway": "172.16.28.1"}],
                       "dns": {"nameservers": ["192.0.2.53"], "search": ["example.test"]}}});
        write_record(&d.networks().join("00-default.json"), &r).unwrap();
        assert_eq!(
            pod::net::joined(&d),
            [pod::net::Joined {
                name: "default".into(),
                ifname: "eth0".into(),
                ips: vec!["172.16.28.5".into()],
                gateway: Some("172.16.28.1".into()),
            }]
        );
        let resolv = resolv_conf(&d).unwrap();
        assert!(resolv.contains("nameserver 192.0.2.53\n"), "{resolv}");
        assert!(resolv.contains("search example.test\n"), "{resolv}");
    }
}
