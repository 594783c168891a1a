//! What stage0 passes on to a pod, checked before any pod directory
//! exists: the hostname, resolv.conf's search domains, and in the pod
//! manifest the apps' environments, exec, users and groups, and the
//! volumes' modes and owners. stage1 writes these into files and system
//! calls; a newline, a NUL or an out-of-range number there would be
//! injected or fail late.

use appc::schema::PodManifest;
use appc::schema::types::Volume;

#[derive(Debug, thiserror::Error)]
#[error("{what} {value:?}: {why}")]
pub struct BadInput {
    pub what: String,
    pub value: String,
    pub why: &'static str,
}

fn bad(what: impl Into<String>, value: impl Into<String>, why: &'static str) -> BadInput {
    BadInput {
        what: what.into(),
        value: value.into(),
        why,
    }
}

/// The kernel's limit on a hostname (HOST_NAME_MAX).
const HOSTNAME_MAX: usize = 64;

/// A DNS name (RFC 1123): dot-separated labels of letters, digits and
/// inner hyphens, each at most 63 long, at most `max` in all.
fn dns_name(what: &str, name: &str, max: usize) -> Result<(), BadInput> {
    if name.is_empty() || name.len() > max {
        return Err(bad(
            what,
            name,
            "must be 1 to the allowed length of characters",
        ));
    }
    for label in name.split('.') {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ok_chars {
            return Err(bad(
                what,
                name,
                "labels of 1 to 63 letters, digits and hyphens, separated by dots",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad(
                what,
                name,
                "a label may not begin or end with a hyphen",
            ));
        }
    }
    Ok(())
}

/// `--hostname`.
pub fn hostname(name: &str) -> Result<(), BadInput> {
    dns_name("hostname", name, HOSTNAME_MAX)
}

/// A `--dns-search` domain (a line of resolv.conf).
pub fn search_domain(domain: &str) -> Result<(), BadInput> {
    dns_name("search domain", domain.trim_end_matches('.'), 253)
}

/// A user or group given by number: 0 to 2^32-2 (2^32-1 is "no id").
fn id_number(what: &str, value: &str) -> Result<(), BadInput> {
    match value.parse::<i64>() {
        Ok(n) if (0..=u32::MAX as i64 - 1).contains(&n) => Ok(()),
        Ok(_) => Err(bad(what, value, "ids run from 0 to 4294967294")),
        // A name, looked up in the image.
        Err(_) if !value.is_empty() && !value.contains(['\0', '\n', ':']) => Ok(()),
        Err(_) => Err(bad(
            what,
            value,
            "neither a number nor a user or group name",
        )),
    }
}

fn volume(v: &Volume) -> Result<(), BadInput> {
    let what = format!("volume {}", v.name);
    if let Some(mode) = &v.mode {
        match u32::from_str_radix(mode, 8) {
            // Set-user-ID means nothing on a directory; the rest may.
            Ok(m) if m <= 0o7777 && m & 0o4000 == 0 => {}
            _ => {
                return Err(bad(
                    format!("{what} mode"),
                    mode.clone(),
                    "an octal mode up to 03777",
                ));
            }
        }
    }
    for (field, id) in [("uid", v.uid), ("gid", v.gid)] {
        if let Some(n) = id {
            id_number(&format!("{what} {field}"), &n.to_string())?;
        }
    }
    Ok(())
}

/// A volume's target: not where stage1 mounts the pod's own `/proc` and
/// `/sys`, which a volume would hide.
fn mount_target(app: &str, path: &str) -> Result<(), BadInput> {
    let normal: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if matches!(normal[..], ["proc"] | ["sys"]) {
        return Err(bad(
            format!("app {app} mount"),
            path,
            "the pod's own /proc and /sys take no volume",
        ));
    }
    Ok(())
}

/// Everything of the pod manifest that stage1 turns into files and calls.
pub fn pod(manifest: &PodManifest) -> Result<(), BadInput> {
    for v in manifest.volumes.iter().flatten() {
        volume(v)?;
    }
    for ra in manifest.apps.iter().flatten() {
        for m in &ra.mounts {
            mount_target(ra.name.as_str(), &m.path)?;
        }
        for mp in ra.app.iter().flat_map(|a| &a.mount_points) {
            mount_target(ra.name.as_str(), &mp.path)?;
        }
        let Some(app) = &ra.app else { continue };
        let name = &ra.name;
        match app.exec.as_deref() {
            Some([first, ..]) if !first.is_empty() => {}
            _ => {
                return Err(bad(
                    format!("app {name} exec"),
                    "",
                    "a program to run is required",
                ));
            }
        }
        for word in app.exec.iter().flatten() {
            if word.contains('\0') {
                return Err(bad(
                    format!("app {name} exec"),
                    word.clone(),
                    "contains a NUL",
                ));
            }
        }
        for e in app.environment.0.iter() {
            if e.name.is_empty() || e.name.contains(['=', '\0']) {
                return Err(bad(
                    format!("app {name} environment name"),
                    e.name.clone(),
                    "no '=' or NUL",
                ));
            }
            if e.value.contains('\0') {
                return Err(bad(
                    format!("app {name} environment {}", e.name),
                    e.value.clone(),
                    "contains a NUL",
                ));
            }
        }
        id_number(&format!("app {name} user"), &app.user)?;
        id_number(&format!("app {name} group"), &app.group)?;
        for g in &app.supplementary_gids {
            id_number(&format!("app {name} supplementary gid"), &g.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_volume_on_the_pods_proc_or_sys() {
        for taken in ["/proc", "/sys", "/sys/", "//proc/.", "sys"] {
            assert!(mount_target("a", taken).is_err(), "{taken}");
        }
        for free in ["/proc2", "/srv/proc", "/sys/fs/cgroup/x", "/data"] {
            mount_target("a", free).unwrap();
        }
    }

    #[test]
    fn hostnames() {
        for good in ["web", "web-1", "a.b.example", &"x".repeat(63)] {
            hostname(good).unwrap();
        }
        for evil in [
            "",
            "../../x",
            "a b",
            "a\nb",
            "-a",
            "a-",
            "a..b",
            &"x".repeat(64),
            &"x".repeat(300),
        ] {
            assert!(hostname(evil).is_err(), "{evil:?}");
        }
        assert!(hostname(&format!("{}.{}", "a".repeat(40), "b".repeat(30))).is_err());
    }

    #[test]
    fn search_domains() {
        search_domain("example.com").unwrap();
        search_domain("example.com.").unwrap();
        for evil in ["example.com\nnameserver 1.2.3.4", "a b", "", "ex ample"] {
            assert!(search_domain(evil).is_err(), "{evil:?}");
        }
    }

    #[test]
    fn ids() {
        for good in ["0", "4294967294", "www-data"] {
            id_number("user", good).unwrap();
        }
        for evil in ["4294967295", "-1", "-5", "", "a:b"] {
            assert!(id_number("user", evil).is_err(), "{evil:?}");
        }
    }

    fn volume_of(cli: &str) -> Volume {
        Volume::from_cli(cli).unwrap()
    }

    #[test]
    fn volumes() {
        volume(&volume_of("v,kind=empty,mode=0755,uid=1000,gid=1000")).unwrap();
        volume(&volume_of("v,kind=empty,mode=1777")).unwrap();
        for evil in [
            "mode=7777",
            "mode=17777",
            "mode=abc",
            "gid=-5",
            "uid=4294967295",
        ] {
            let v = volume_of(&format!("v,kind=empty,{evil}"));
            assert!(volume(&v).is_err(), "{evil}");
        }
    }
}
