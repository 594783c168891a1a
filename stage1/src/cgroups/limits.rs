//! What an app's resource isolators ask of its cgroup, in the units the
//! cgroup files take.

use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::isolator::IsolatorValue;

/// The CFS period the CPU limit is a quota of, in microseconds.
pub const CPU_PERIOD_US: i64 = 100_000;

/// What the cgroup files of one app are set to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<i64>,
    pub cpu_quota_us: Option<i64>,
    pub cpu_shares: Option<i64>,
    /// Bytes per second, read and written, on each block device.
    pub block_bps: Option<i64>,
    /// Operations per second, read and written, on each block device.
    pub block_iops: Option<i64>,
}

impl Limits {
    pub fn of(app: &RuntimeApp) -> Limits {
        let mut limits = Limits::default();
        for value in app
            .app
            .iter()
            .flat_map(|a| &a.isolators)
            .filter_map(|i| i.value())
        {
            match value {
                IsolatorValue::Memory(r) => {
                    if let Some(l) = &r.limit {
                        limits.memory_bytes = Some(l.value());
                    }
                }
                IsolatorValue::Cpu(r) => {
                    if let Some(l) = &r.limit {
                        // The kernel's smallest quota is 1 ms.
                        let quota = l.milli_value().saturating_mul(CPU_PERIOD_US) / 1000;
                        limits.cpu_quota_us = Some(quota.max(1000));
                    }
                }
                IsolatorValue::CpuShares(n) => limits.cpu_shares = Some(*n),
                IsolatorValue::BlockBandwidth(r) => {
                    limits.block_bps = r.limit.as_ref().map(|l| l.value().max(1));
                }
                IsolatorValue::BlockIops(r) => {
                    limits.block_iops = r.limit.as_ref().map(|l| l.value().max(1));
                }
                _ => {}
            }
        }
        limits
    }

    /// The controllers these limits need, by their v2 names.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut needed = Vec::new();
        if self.memory_bytes.is_some() {
            needed.push("memory");
        }
        if self.cpu_quota_us.is_some() || self.cpu_shares.is_some() {
            needed.push("cpu");
        }
        if self.block_bps.is_some() || self.block_iops.is_some() {
            needed.push("io");
        }
        needed
    }
}

/// A v1 controller's name in v2.
pub fn v2_name(v1: &str) -> &str {
    match v1 {
        "blkio" => "io",
        other => other,
    }
}

/// cgroup v2's `cpu.weight` (1 to 10000, 100 by default) for v1's
/// `cpu.shares` (2 to 262144, 1024 by default), mapped linearly range to
/// range as runc and crun do.
pub fn cpu_weight(shares: i64) -> i64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// The block devices the host has (whole disks with a size), as
/// (major, minor): a block isolator's limit applies to each.
pub fn block_devices() -> Vec<(u64, u64)> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut found: Vec<(u64, u64)> = entries
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("size"))
                .is_ok_and(|s| s.trim().parse::<u64>().is_ok_and(|n| n > 0))
        })
        .filter_map(|e| {
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            let (major, minor) = dev.trim().split_once(':')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .collect();
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(isolators: serde_json::Value) -> RuntimeApp {
        let pod = serde_json::json!({
            "acVersion": "0.8.11",
            "acKind": "PodManifest",
            "apps": [{
                "name": "a",
                "image": {"id": format!("sha512-{}", "0".repeat(128))},
                "app": {"exec": ["/x"], "user": "0", "group": "0", "isolators": isolators}
            }]
        });
        let pod = appc::schema::PodManifest::from_value(&pod).expect("a valid pod");
        pod.apps.expect("apps").remove(0)
    }

    #[test]
    fn limits_come_from_the_isolators() {
        let a = app(serde_json::json!([
            {"name": "resource/memory", "value": {"limit": "64Mi"}},
            {"name": "resource/cpu", "value": {"limit": "500m"}},
            {"name": "os/linux/cpu-shares", "value": 512}
        ]));
        assert_eq!(
            Limits::of(&a),
            Limits {
                memory_bytes: Some(64 << 20),
                cpu_quota_us: Some(50_000),
                cpu_shares: Some(512),
                block_bps: None,
                block_iops: None,
            }
        );
        let tiny = app(serde_json::json!([
            {"name": "resource/cpu", "value": {"limit": "1m"}}
        ]));
        assert_eq!(Limits::of(&tiny).cpu_quota_us, Some(1000));
        assert_eq!(Limits::of(&app(serde_json::json!([]))), Limits::default());
    }

    #[test]
    fn block_limits_and_the_controllers_they_need() {
        let a = app(serde_json::json!([
            {"name": "resource/block-bandwidth", "value": {"default": true, "limit": "1M"}},
            {"name": "resource/block-iops", "value": {"default": true, "limit": 100}},
            {"name": "resource/memory", "value": {"limit": "1Gi"}}
        ]));
        let l = Limits::of(&a);
        assert_eq!((l.block_bps, l.block_iops), (Some(1_000_000), Some(100)));
        assert_eq!(l.controllers(), vec!["memory", "io"]);
        assert!(Limits::default().controllers().is_empty());
    }

    #[test]
    fn cpu_shares_map_onto_cpu_weight() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262_144), 10_000);
        assert_eq!(cpu_weight(1), 1);
        assert_eq!(cpu_weight(1 << 30), 10_000);
    }
}
