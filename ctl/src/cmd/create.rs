//! `miniktl create`: imperative creation — kubectl create.
//!
//! `create -f` POSTs each manifest (failing if it exists, unlike apply);
//! the generators (`namespace`, `configmap`, `secret generic`,
//! `deployment`) build the same objects kubectl's generators build, so
//! `--dry-run=client -o yaml` prints a manifest to start from.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{DryRun, DryRunFlag, Files, Output};
use crate::generate::{create_object, print_result};
use crate::last_applied::with_last_applied;
use crate::objects::{prepare, with_origin};
use crate::printers::Format;

/// Create a resource from a file or from arguments.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Create {
    #[command(subcommand)]
    pub what: Option<Generator>,
    #[command(flatten)]
    pub files: Files,
    #[command(flatten)]
    pub common: CommonCreate,
}

/// Flags every `create` form takes, global so they may follow a
/// generator (`create namespace x --dry-run=client -o yaml`).
#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("dry_run", |a| a.global(true)), mut_arg("output", |a| a.global(true)))]
pub struct CommonCreate {
    #[command(flatten)]
    pub dry_run: DryRunFlag,
    #[command(flatten)]
    pub output: Output,
    /// Record the object in the last-applied annotation so `apply` can manage it later.
    #[arg(long = "save-config", global = true)]
    pub save_config: bool,
}

/// The object generators.
#[derive(clap::Subcommand, Debug)]
pub enum Generator {
    /// Create a namespace.
    #[command(alias = "ns")]
    Namespace { name: String },
    /// Create a configmap from literals, files or an env file.
    #[command(alias = "cm")]
    Configmap {
        name: String,
        #[command(flatten)]
        sources: Sources,
    },
    /// Create a secret.
    #[command(subcommand)]
    Secret(SecretKind),
    /// Create a deployment with the given image(s).
    #[command(alias = "deploy")]
    Deployment {
        name: String,
        /// Image(s) to run; one container per image.
        #[arg(long = "image", required = true)]
        image: Vec<String>,
        #[arg(short = 'r', long = "replicas", default_value_t = 1)]
        replicas: i64,
        /// The container port to expose.
        #[arg(long = "port")]
        port: Option<i64>,
        /// Command to run in the (single) container.
        #[arg(last = true)]
        command: Vec<String>,
    },
}

/// `create secret <kind>`.
#[derive(clap::Subcommand, Debug)]
pub enum SecretKind {
    /// A secret from literals, files or an env file.
    Generic {
        name: String,
        #[command(flatten)]
        sources: Sources,
        /// The secret's type (the server's default: Opaque).
        #[arg(long = "type")]
        type_: Option<String>,
    },
}

/// `--from-literal`, `--from-file`, `--from-env-file`.
#[derive(clap::Args, Debug, Clone)]
pub struct Sources {
    /// key=value (repeatable).
    #[arg(long = "from-literal")]
    pub from_literal: Vec<String>,
    /// [key=]path to a file or a directory (repeatable).
    #[arg(long = "from-file")]
    pub from_file: Vec<String>,
    /// A file of KEY=VALUE lines (repeatable).
    #[arg(long = "from-env-file")]
    pub from_env_file: Vec<String>,
}

impl Create {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dry = self.common.dry_run.parse()?;
        let format = self.common.output.format()?;
        let Some(what) = self.what else {
            if self.files.is_empty() {
                return Err(Error::Usage(
                    "must specify one of -f and -k, or a generator (namespace, configmap, secret generic, deployment)".into(),
                ));
            }
            return create_from_files(
                ctx,
                &self.files,
                dry,
                format.as_ref(),
                self.common.save_config,
            )
            .await;
        };
        let obj = match what {
            Generator::Namespace { name } => {
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"creationTimestamp": null, "name": name}, "spec": {}, "status": {}})
            }
            Generator::Configmap { name, sources } => {
                let data = sources.collect()?;
                let mut data_map = Map::new();
                for (k, v) in data {
                    data_map.insert(k, Value::String(String::from_utf8_lossy(&v).into_owned()));
                }
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"creationTimestamp": null, "name": name}, "data": data_map})
            }
            Generator::Secret(SecretKind::Generic {
                name,
                sources,
                type_,
            }) => {
                let data = sources.collect()?;
                let mut data_map = Map::new();
                for (k, v) in data {
                    data_map.insert(
                        k,
                        Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
                    );
                }
                let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": null, "name": name}, "data": data_map});
                if let Some(t) = type_ {
                    secret["type"] = json!(t);
                }
                secret
            }
            Generator::Deployment {
                name,
                image,
                replicas,
                port,
                command,
            } => deployment(&name, &image, replicas, port, &command)?,
        };
        create_object(
            ctx,
            obj,
            dry,
            format.as_ref(),
            self.common.save_config,
            "created",
        )
        .await
    }
}

/// kubectl's `create deployment` object.
pub fn deployment(
    name: &str,
    images: &[String],
    replicas: i64,
    port: Option<i64>,
    command: &[String],
) -> Result<Value> {
    if images.len() > 1 && !command.is_empty() {
        return Err(Error::Usage(
            "cannot specify multiple --image options and command".into(),
        ));
    }
    let containers: Vec<Value> = images
        .iter()
        .map(|image| {
            let mut c = json!({"name": container_name(image), "image": image, "resources": {}});
            if let Some(p) = port {
                c["ports"] = json!([{"containerPort": p}]);
            }
            if !command.is_empty() {
                c["command"] = json!(command);
            }
            c
        })
        .collect();
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"creationTimestamp": null, "labels": {"app": name}, "name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": name}},
                "spec": {"containers": containers}
            }
        },
        "status": {}
    }))
}

/// `minik/web:v1` → `web` (kubectl names a generated container after its image).
pub fn container_name(image: &str) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split('@').next().unwrap_or(base);
    let base = base.split(':').next().unwrap_or(base);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_matches('-').to_string()
}

impl Sources {
    /// The key → bytes map the flags describe, with kubectl's key rules.
    pub fn collect(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        if !self.from_env_file.is_empty()
            && (!self.from_file.is_empty() || !self.from_literal.is_empty())
        {
            return Err(Error::Usage(
                "from-env-file cannot be combined with from-file or from-literal".into(),
            ));
        }
        let mut out = BTreeMap::new();
        let mut insert = |k: String, v: Vec<u8>| -> Result<()> {
            validate_key(&k)?;
            if out.insert(k.clone(), v).is_some() {
                return Err(Error::Usage(format!(
                    "cannot add key {k}, another key by that name already exists"
                )));
            }
            Ok(())
        };
        for lit in &self.from_literal {
            let Some((k, v)) = lit.split_once('=') else {
                return Err(Error::Usage(format!(
                    "invalid literal source {lit}, expected key=value"
                )));
            };
            insert(k.to_string(), v.as_bytes().to_vec())?;
        }
        for f in &self.from_file {
            let (key, path) = match f.split_once('=') {
                Some((k, p)) => (Some(k.to_string()), p.to_string()),
                None => (None, f.clone()),
            };
            let p = Path::new(&path);
            if p.is_dir() {
                if key.is_some() {
                    return Err(Error::Usage(format!(
                        "cannot give a key name for a directory path: {path}"
                    )));
                }
                let mut entries: Vec<_> = std::fs::read_dir(p)?
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .collect();
                entries.sort();
                for e in entries.into_iter().filter(|e| e.is_file()) {
                    let name = e
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let bytes = std::fs::read(&e).map_err(|source| Error::File {
                        path: e.clone(),
                        source,
                    })?;
                    insert(name, bytes)?;
                }
            } else {
                let bytes = std::fs::read(p).map_err(|source| Error::File {
                    path: p.to_path_buf(),
                    source,
                })?;
                let name = key.unwrap_or_else(|| {
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                });
                insert(name, bytes)?;
            }
        }
        for f in &self.from_env_file {
            let text = std::fs::read_to_string(f).map_err(|source| Error::File {
                path: f.into(),
                source,
            })?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_start();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match line.split_once('=') {
                    Some((k, v)) => insert(k.to_string(), v.as_bytes().to_vec())?,
                    None => {
                        return Err(Error::Usage(format!(
                            "{f}: line {}: expected KEY=VALUE, found {line:?}",
                            n + 1
                        )))
                    }
                }
            }
        }
        Ok(out)
    }
}

/// ConfigMap and Secret keys: `[-._a-zA-Z0-9]+`.
fn validate_key(k: &str) -> Result<()> {
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::Usage(format!(
            "\"{k}\" is not a valid key name: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        )));
    }
    Ok(())
}

async fn create_from_files(
    ctx: &Ctx,
    files: &Files,
    dry: DryRun,
    format: Option<&Format>,
    save_config: bool,
) -> Result<()> {
    let docs = files.read(&ctx.io)?;
    let mut failures = 0;
    for doc in docs {
        let result = async {
            let (info, ns, mut obj) = prepare(ctx, &doc).await?;
            if save_config {
                obj = with_last_applied(&obj);
            }
            if dry == DryRun::Client {
                return Ok(obj);
            }
            ctx.create(info, &ns, &obj, dry == DryRun::Server)
                .await
                .map_err(|e| with_origin(e, &format!("error when creating \"{}\": ", doc.origin)))
        }
        .await;
        match result {
            Ok(obj) => print_result(ctx, &obj, dry, format, "created")?,
            Err(e) => {
                failures += 1;
                ctx.eprint(&format!("{}\n", e.render()));
            }
        }
    }
    if failures > 0 {
        return Err(Error::Reported(failures));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_deployment_matches_kubectl() {
        let d = deployment("web", &["minik/web:v1".into()], 1, Some(80), &[]).unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["name"],
            "web"
        );
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
        assert_eq!(container_name("busybox:1.35"), "busybox");
        assert_eq!(container_name("registry:5000/a/my_app@sha256:x"), "my-app");
    }

    #[test]
    fn sources_reject_duplicates_and_bad_keys() {
        let s = Sources {
            from_literal: vec!["a=1".into(), "a=2".into()],
            from_file: vec![],
            from_env_file: vec![],
        };
        assert!(s.collect().is_err());
        let s = Sources {
            from_literal: vec!["bad key=1".into()],
            from_file: vec![],
            from_env_file: vec![],
        };
        assert!(s.collect().is_err());
    }
}
