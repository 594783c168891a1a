//! The user's Go toolchain, run as a child process: its environment,
//! `go list` and `go build`. The user's own GOFLAGS, GOPROXY, vendor
//! directories and workspaces apply, as they would to `go build`.

use crate::error::{GoaciError, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Go {
    binary: String,
}

/// What `go env` says about the target.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub struct GoEnv {
    pub goos: String,
    pub goarch: String,
    #[serde(default)]
    pub goarm: String,
    #[serde(rename = "GOHOSTOS")]
    pub host_os: String,
    #[serde(rename = "GOHOSTARCH")]
    pub host_arch: String,
    #[serde(rename = "CGO_ENABLED")]
    pub cgo_enabled: String,
}

impl GoEnv {
    pub fn cross(&self) -> bool {
        self.goos != self.host_os || self.goarch != self.host_arch
    }
}

/// A module, as `go list` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Module {
    pub path: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub main: bool,
}

/// A package, as `go list -json` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Package {
    pub dir: PathBuf,
    pub import_path: String,
    pub name: String,
    #[serde(default)]
    pub standard: bool,
    #[serde(default)]
    pub cgo_files: Vec<String>,
    #[serde(default)]
    pub module: Option<Module>,
    #[serde(default)]
    pub error: Option<PackageError>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageError {
    pub err: String,
}

impl Package {
    /// The command's name, as `go build` names its binary.
    pub fn binary_name(&self) -> String {
        let last = self.import_path.rsplit('/').next().unwrap_or_default();
        // A major-version suffix (`/v2`) names no command.
        let is_major = last.len() > 1
            && last.starts_with('v')
            && last[1..].bytes().all(|b| b.is_ascii_digit());
        if is_major {
            let mut parts = self.import_path.rsplit('/');
            parts.next();
            return parts.next().unwrap_or(last).to_string();
        }
        last.to_string()
    }
}

impl Go {
    /// The toolchain at `binary` (a path, or a name on PATH); a missing
    /// one is said by the first command run.
    pub fn new(binary: &str) -> Go {
        Go {
            binary: binary.to_string(),
        }
    }

    fn command(&self, dir: &Path) -> Command {
        let mut c = Command::new(&self.binary);
        c.current_dir(dir).stdin(Stdio::null());
        c
    }

    fn run(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        let out = self
            .command(dir)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .map_err(|source| GoaciError::NoGo {
                binary: self.binary.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(GoaciError::Go {
                command: args.join(" "),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out)
    }

    pub fn env(&self, dir: &Path) -> Result<GoEnv> {
        let args = [
            "env",
            "-json",
            "GOOS",
            "GOARCH",
            "GOARM",
            "GOHOSTOS",
            "GOHOSTARCH",
            "CGO_ENABLED",
        ];
        let out = self.run(dir, &args, &[])?;
        serde_json::from_slice(&out.stdout).map_err(|e| GoaciError::Go {
            command: "env -json".into(),
            output: e.to_string(),
        })
    }

    /// The packages `patterns` name, as a build with or without cgo sees
    /// them: with `deps`, every package they import too; without, only
    /// found (their imports not loaded, which is quick).
    pub fn list(
        &self,
        dir: &Path,
        patterns: &[&str],
        deps: bool,
        cgo: bool,
    ) -> Result<Vec<Package>> {
        let mut args = vec!["list", "-json", "-e"];
        args.push(if deps { "-deps" } else { "-find" });
        args.extend(patterns);
        let out = self.run(dir, &args, &[("CGO_ENABLED", cgo_enabled(cgo))])?;
        serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter::<Package>()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| GoaciError::Go {
                command: args.join(" "),
                output: e.to_string(),
            })
    }

    /// Builds the commands `pattern` names into the directory `out`,
    /// each named as `go build` names it; static unless `cgo`.
    pub fn build(&self, dir: &Path, pattern: &str, out: &Path, cgo: bool) -> Result<()> {
        let out_arg = format!("{}/", out.display());
        let args = ["build", "-trimpath", "-o", &out_arg, pattern];
        match self.run(dir, &args, &[("CGO_ENABLED", cgo_enabled(cgo))]) {
            Ok(_) => Ok(()),
            Err(GoaciError::Go { output, .. }) => Err(GoaciError::Build(output)),
            Err(e) => Err(e),
        }
    }

    /// Makes `dir` a module that requires `path@version`, fetched as the
    /// user's GOPROXY and GOFLAGS say.
    pub fn require(&self, dir: &Path, path: &str, version: &str) -> Result<()> {
        self.run(dir, &["mod", "init", "goaci.invalid/build"], &[])?;
        self.run(dir, &["get", &format!("{path}@{version}")], &[])?;
        Ok(())
    }
}

fn cgo_enabled(cgo: bool) -> &'static str {
    if cgo { "1" } else { "0" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_names_as_go_build_gives_them() {
        let p = |path: &str| Package {
            import_path: path.into(),
            ..Default::default()
        };
        assert_eq!(p("example.com/hello/cmd/server").binary_name(), "server");
        assert_eq!(p("example.com/tool/v2").binary_name(), "tool");
        assert_eq!(p("hello").binary_name(), "hello");
    }
}
