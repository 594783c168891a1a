//! The app flags of `rkt run` and `rkt prepare`, as rkt parses them:
//! `IMAGE [--exec=CMD] [--name=NAME] ... [-- ARGS...] [--- IMAGE ...]`.

use super::{Explain, PrepareError, Result, refuse};
use appc::schema::types::isolator::{
    CAPABILITIES_REMOVE, CAPABILITIES_RETAIN, CPU_SHARES, OOM_SCORE_ADJ, RESOURCE_CPU,
    RESOURCE_MEMORY, SECCOMP_REMOVE, SECCOMP_RETAIN,
};
use std::path::PathBuf;

/// One app as given on the command line.
#[derive(Default)]
pub struct AppArgs {
    pub image: String,
    pub exec: Option<String>,
    pub name: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_dir: Option<String>,
    pub environment: Vec<(String, String)>,
    pub signature: Option<PathBuf>,
    /// (volume, target) from --mount.
    pub mounts: Vec<Mount>,
    pub readonly_rootfs: bool,
    pub supplementary_gids: Option<Vec<i64>>,
    /// Isolators from flags (--caps-retain, --memory, ...), each replacing
    /// the image's isolators of its kind.
    pub isolators: Vec<(&'static str, String, serde_json::Value)>,
    pub args: Option<Vec<String>>,
}

pub fn env_pair(s: &str) -> Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .explain(|| format!("{s:?} is not NAME=VALUE"))?;
    appc::schema::types::environment::validate_env_name(k)?;
    Ok((k.to_string(), v.to_string()))
}

/// `--seccomp=mode=retain|remove[,errno=ENAME],SYSCALL|@GROUP,...`, an
/// isolator that replaces the image's seccomp isolators.
fn seccomp_flag(value: &str) -> Result<(&'static str, String, serde_json::Value)> {
    let (mut kind, mut errno, mut set) = (None, None, Vec::new());
    for item in value.split(',') {
        match item.split_once('=') {
            Some(("mode", "retain")) => kind = Some(SECCOMP_RETAIN),
            Some(("mode", "remove")) => kind = Some(SECCOMP_REMOVE),
            Some(("errno", e)) => errno = Some(e),
            Some(_) => refuse!("--seccomp={value}: unknown option {item:?}"),
            None => set.push(item),
        }
    }
    let kind =
        kind.explain(|| format!("--seccomp={value}: mode=retain or mode=remove is required"))?;
    let mut v = serde_json::json!({ "set": set });
    if let Some(e) = errno {
        v["errno"] = serde_json::json!(e);
    }
    Ok((kind, value.to_string(), v))
}

/// The apps of `rkt run`/`prepare`: each image starts an app and the app
/// flags after it are its own, until the next image; `--` gives the rest
/// (up to `---`) as its arguments; `---` also separates apps (rkt's forms).
pub fn parse_apps(words: &[String]) -> Result<Vec<AppArgs>> {
    let mut apps = Vec::new();
    let mut pod_mounts = Vec::new();
    let segments: Vec<&[String]> = words.split(|w| w == "---").collect();
    for (i, segment) in segments.iter().enumerate() {
        // A trailing --- ends the list.
        if segment.is_empty() && i + 1 == segments.len() && i > 0 {
            break;
        }
        let (mounts, segment) = leading_mounts(segment)?;
        pod_mounts.extend(mounts);
        let Some((image, rest)) = segment.split_first() else {
            refuse!("an image is required before and after ---")
        };
        let mut app = AppArgs {
            image: image.clone(),
            ..Default::default()
        };
        let mut it = rest.iter();
        while let Some(w) = it.next() {
            if w == "--" {
                app.args = Some(it.by_ref().cloned().collect());
                break;
            }
            if w == "--readonly-rootfs" {
                app.readonly_rootfs = true;
                continue;
            }
            if !w.starts_with("--") {
                // The next image.
                apps.push(std::mem::replace(
                    &mut app,
                    AppArgs {
                        image: w.clone(),
                        ..Default::default()
                    },
                ));
                continue;
            }
            let (flag, value) = match w.split_once('=') {
                Some((f, v)) => (f, v.to_string()),
                None => (
                    w.as_str(),
                    it.next().explain(|| format!("{w} needs a value"))?.clone(),
                ),
            };
            match flag {
                "--exec" => app.exec = Some(value),
                "--name" => app.name = Some(value),
                "--user" => app.user = Some(value),
                "--group" => app.group = Some(value),
                "--working-dir" => app.working_dir = Some(value),
                "--environment" => app.environment.push(env_pair(&value)?),
                "--signature" => app.signature = Some(PathBuf::from(value)),
                "--readonly-rootfs" => {
                    app.readonly_rootfs = value
                        .parse()
                        .explain(|| format!("--readonly-rootfs={value}: true or false"))?
                }
                // rkt's older spellings too.
                "--caps-retain" | "--caps-remove" | "--cap-retain" | "--cap-remove" => {
                    let kind = if flag.ends_with("-retain") {
                        CAPABILITIES_RETAIN
                    } else {
                        CAPABILITIES_REMOVE
                    };
                    let set: Vec<&str> = value.split(',').collect();
                    app.isolators
                        .push((kind, value.clone(), serde_json::json!({ "set": set })));
                }
                "--memory" | "--cpu" => {
                    let kind = if flag == "--memory" {
                        RESOURCE_MEMORY
                    } else {
                        RESOURCE_CPU
                    };
                    app.isolators.push((
                        kind,
                        value.clone(),
                        serde_json::json!({ "limit": value }),
                    ));
                }
                "--seccomp" => app.isolators.push(seccomp_flag(&value)?),
                "--cpu-shares" | "--oom-score-adj" => {
                    let kind = if flag == "--cpu-shares" {
                        CPU_SHARES
                    } else {
                        OOM_SCORE_ADJ
                    };
                    let n: i64 = value
                        .parse()
                        .explain(|| format!("{flag}={value}: not a number"))?;
                    app.isolators.push((kind, value, serde_json::json!(n)));
                }
                "--supplementary-gids" => {
                    let gids = value
                        .split(',')
                        .map(|g| g.trim().parse::<i64>())
                        .collect::<Result<_, _>>();
                    app.supplementary_gids = Some(gids.explain(|| {
                        format!("--supplementary-gids={value}: numbers separated by commas")
                    })?);
                }
                "--mount" => app.mounts.push(mount(&value)?),
                other => refuse!("unknown app flag {other} for {}", app.image),
            }
        }
        apps.push(app);
    }
    // As in rkt, a --mount before an app's image is the pod's: every
    // app gets it.
    for app in &mut apps {
        app.mounts.extend(pod_mounts.iter().cloned());
    }
    Ok(apps)
}

/// A `--mount`: (volume, target).
type Mount = (String, String);

/// `--mount volume=NAME,target=/PATH`.
fn mount(value: &str) -> Result<Mount> {
    let mut volume = None;
    let mut target = None;
    for kv in value.split(',') {
        match kv.split_once('=') {
            Some(("volume", v)) => volume = Some(v.to_string()),
            Some(("target", t)) => target = Some(t.to_string()),
            _ => refuse!("--mount {value:?}: expected volume=NAME,target=PATH"),
        }
    }
    match (volume, target) {
        (Some(v), Some(t)) if t.starts_with('/') => Ok((v, t)),
        _ => refuse!("--mount {value:?}: expected volume=NAME,target=/ABSOLUTE/PATH"),
    }
}

/// The `--mount` flags at the start of `segment` (before its image), and
/// what follows them.
fn leading_mounts(segment: &[String]) -> Result<(Vec<Mount>, &[String])> {
    let mut mounts = Vec::new();
    let mut rest = segment;
    loop {
        match rest {
            [flag, value, tail @ ..] if flag == "--mount" => {
                mounts.push(mount(value)?);
                rest = tail;
            }
            [flag, tail @ ..] if flag.starts_with("--mount=") => {
                mounts.push(mount(&flag["--mount=".len()..])?);
                rest = tail;
            }
            _ => return Ok((mounts, rest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn images(s: &str) -> Vec<String> {
        parse_apps(&words(s))
            .unwrap()
            .into_iter()
            .map(|a| a.image)
            .collect()
    }

    #[test]
    fn images_start_apps_with_or_without_separators() {
        assert_eq!(images("a.aci b.aci"), ["a.aci", "b.aci"]);
        assert_eq!(images("a.aci --- b.aci ---"), ["a.aci", "b.aci"]);
        assert_eq!(
            images("a.aci --name=x b.aci --exec /bin/sh c"),
            ["a.aci", "b.aci", "c"]
        );
        let apps = parse_apps(&words("a --exec=/bin/sh -- -c x y --- b --name=n")).unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].args.as_deref(), Some(&words("-c x y")[..]));
        assert_eq!(apps[0].exec.as_deref(), Some("/bin/sh"));
        assert_eq!(apps[1].name.as_deref(), Some("n"));
        let apps = parse_apps(&words("a --user 5 --readonly-rootfs b")).unwrap();
        assert_eq!(
            (apps[0].user.as_deref(), apps[0].readonly_rootfs),
            (Some("5"), true)
        );
        assert!(apps[1].user.is_none());
    }

    #[test]
    fn bad_app_flags_are_named() {
        for (given, said) in [
            ("a --bogus=1", "unknown app flag --bogus for a"),
            ("a b --bogus=1", "unknown app flag --bogus for b"),
            ("a --exec", "--exec needs a value"),
            ("--- b", "an image is required"),
            ("a --- --- b", "an image is required"),
        ] {
            let e = parse_apps(&words(given)).err().unwrap().to_string();
            assert!(e.contains(said), "{given}: {e}");
        }
    }

    #[test]
    fn isolator_flags_and_their_older_spellings() {
        let apps = parse_apps(&words(
            "a --caps-retain=CAP_NET_ADMIN,CAP_CHOWN --cap-remove CAP_KILL --memory=64M \
             --cpu=500m --cpu-shares=512 --oom-score-adj=-100 \
             --seccomp=mode=remove,errno=ENOSYS,mount,@rkt/default-blacklist",
        ))
        .unwrap();
        let kinds: Vec<&str> = apps[0].isolators.iter().map(|i| i.0).collect();
        assert_eq!(
            kinds,
            [
                CAPABILITIES_RETAIN,
                CAPABILITIES_REMOVE,
                RESOURCE_MEMORY,
                RESOURCE_CPU,
                CPU_SHARES,
                OOM_SCORE_ADJ,
                SECCOMP_REMOVE
            ]
        );
        assert_eq!(
            apps[0].isolators[0].2,
            serde_json::json!({"set": ["CAP_NET_ADMIN", "CAP_CHOWN"]})
        );
        assert_eq!(apps[0].isolators[5].2, serde_json::json!(-100));
        assert_eq!(
            apps[0].isolators[6].2,
            serde_json::json!({"set": ["mount", "@rkt/default-blacklist"], "errno": "ENOSYS"})
        );
    }

    #[test]
    fn mounts_environment_and_ids() {
        let apps = parse_apps(&words(
            "a --mount volume=data,target=/data --environment=A=b=c \
             --supplementary-gids=5,6 --readonly-rootfs=false --signature s.asc",
        ))
        .unwrap();
        let a = &apps[0];
        assert_eq!(a.mounts, [("data".to_string(), "/data".to_string())]);
        assert_eq!(a.environment, [("A".to_string(), "b=c".to_string())]);
        assert_eq!(a.supplementary_gids, Some(vec![5, 6]));
        assert!(!a.readonly_rootfs);
        assert_eq!(a.signature.as_deref(), Some(std::path::Path::new("s.asc")));
    }

    #[test]
    fn a_mount_before_an_image_is_every_apps() {
        let apps = parse_apps(&words(
            "--mount volume=logs,target=/logs a --mount=volume=own,target=/own \
             --- --mount=volume=tmp,target=/tmp b",
        ))
        .unwrap();
        let pair = |v: &str, t: &str| (v.to_string(), t.to_string());
        assert_eq!(apps[0].image, "a");
        assert_eq!(
            apps[0].mounts,
            [
                pair("own", "/own"),
                pair("logs", "/logs"),
                pair("tmp", "/tmp")
            ]
        );
        assert_eq!(apps[1].image, "b");
        assert_eq!(apps[1].mounts, [pair("logs", "/logs"), pair("tmp", "/tmp")]);
        assert!(parse_apps(&words("--mount volume=x a")).is_err());
    }

    #[test]
    fn bad_values_are_named() {
        for (given, said) in [
            ("a --mount volume=d,target=rel", "/ABSOLUTE/PATH"),
            ("a --mount vol=d", "volume=NAME,target=PATH"),
            ("a --environment=NOEQUALS", "NAME=VALUE"),
            ("a --cpu-shares=lots", "not a number"),
            ("a --supplementary-gids=1,x", "numbers separated by commas"),
            ("a --seccomp=mount", "mode=retain or mode=remove"),
            ("a --seccomp=mode=retain,level=3", "unknown option"),
            ("a --readonly-rootfs=maybe", "true or false"),
        ] {
            let e = parse_apps(&words(given)).err().unwrap().to_string();
            assert!(e.contains(said), "{given}: {e}");
        }
    }
}
