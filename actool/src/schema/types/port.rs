//! Ports an app listens on, and ports a pod exposes on the host.

use super::names::AcName;
use super::params::{Params, parse_bool, parse_u16};
use crate::schema::{Result, SchemaError, json};
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub name: AcName,
    pub protocol: String,
    pub port: u32,
    /// How many consecutive ports from `port`; 1 when read from JSON with 0.
    pub count: u32,
    pub socket_activated: bool,
}

impl Port {
    fn validate(&self) -> Result<()> {
        if !(1..=65535).contains(&self.port) {
            return Err(SchemaError::new("port must be in 1-65535 range"));
        }
        if u64::from(self.port) + u64::from(self.count) > 65536 {
            return Err(SchemaError::new(
                "end of port range must be in 1-65535 range",
            ));
        }
        Ok(())
    }

    /// `name,protocol=tcp,port=8080[,count=N][,socketActivated=BOOL]`.
    pub fn from_cli(s: &str) -> Result<Self> {
        let mut p = Port {
            name: AcName::empty(),
            protocol: String::new(),
            port: 0,
            count: 0,
            socket_activated: false,
        };
        for (k, v) in Params::parse("name", s)?.single()? {
            match k.as_str() {
                "name" => p.name = AcName::new(&v)?,
                "protocol" => p.protocol = v,
                "port" => p.port = parse_u16(&v)?.into(),
                "count" => p.count = parse_u16(&v)?.into(),
                "socketActivated" => p.socket_activated = parse_bool(&v)?,
                _ => {
                    return Err(SchemaError::new(format!(
                        "unknown port parameter {}",
                        json::quote(&k)
                    )));
                }
            }
        }
        p.validate()?;
        Ok(p)
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "port")?;
        let uint = |key: &str| -> Result<u32> {
            o.present(key)
                .map_or(Ok(0), |v| json::integer(v, &format!("port {key}")))
        };
        let mut p = Port {
            name: match o.present("name") {
                Some(n) => AcName::from_value(n, "port name")?,
                None => AcName::empty(),
            },
            protocol: o.string("protocol", "port protocol")?,
            port: uint("port")?,
            count: uint("count")?,
            socket_activated: o.bool("socketActivated", "port socketActivated")?,
        };
        p.validate()?;
        if p.count == 0 {
            p.count = 1;
        }
        Ok(p)
    }
}

/// A pod port forwarded from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposedPort {
    pub name: AcName,
    pub host_port: u32,
    #[serde(rename = "hostIP", skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_port: Option<Port>,
}

impl ExposedPort {
    pub fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "exposed port")?;
        let host_ip = match o.present("hostIP") {
            Some(ip) => {
                let s = json::string(ip, "hostIP")?;
                Some(
                    s.parse()
                        .map_err(|_| SchemaError::new(format!("invalid IP address: {s}")))?,
                )
            }
            None => None,
        };
        Ok(ExposedPort {
            name: match o.present("name") {
                Some(n) => AcName::from_value(n, "port name")?,
                None => AcName::empty(),
            },
            host_port: o
                .present("hostPort")
                .map_or(Ok(0), |v| json::integer(v, "hostPort"))?,
            host_ip,
            pod_port: o.present("podPort").map(Port::from_value).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = Port::from_cli("dns,protocol=udp,port=53,count=2").unwrap();
        assert_eq!((p.port, p.count, p.protocol.as_str()), (53, 2, "udp"));
        assert!(Port::from_cli("p,protocol=tcp,port=65535,count=2").is_err());
        assert!(Port::from_cli("p,port=80,foo=bar").is_err());
        let j = Port::from_value(&serde_json::json!({"name":"p","port":80})).unwrap();
        assert_eq!(j.count, 1);
    }
}
