//! `miniktl config`: read and change the kubeconfig in use —
//! `view`, `current-context`, `get-contexts`, `use-context`,
//! `set-context --current --namespace=NS` (the subset the tutorials use).

use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::kubeconfig::{read_document, write_document};
use crate::printers::{tabwriter::TabWriter, yaml};
use crate::value::array_at;

/// Modify kubeconfig files.
#[derive(clap::Subcommand, Debug)]
pub enum Config {
    /// Display the kubeconfig.
    View {
        /// Only the current context's entries.
        #[arg(long = "minify")]
        minify: bool,
    },
    /// Display the current context.
    CurrentContext,
    /// List the contexts.
    GetContexts,
    /// Set the current context.
    UseContext { name: String },
    /// Change a context's namespace (`--current` for the current one).
    SetContext {
        name: Option<String>,
        #[arg(long = "current")]
        current: bool,
        #[arg(long = "namespace")]
        namespace: Option<String>,
    },
}

fn named<'a>(v: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    v.get(list)?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

impl Config {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (path, mut kc) = read_document(ctx.kubeconfig_path())?;
        let current = kc
            .get("current-context")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match self {
            Config::View { minify } => {
                if minify {
                    let c = named(&kc, "contexts", &current)
                        .cloned()
                        .unwrap_or(Value::Null);
                    let cluster = c
                        .pointer("/context/cluster")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let user = c
                        .pointer("/context/user")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let keep = |list: &str, name: &str| -> Value {
                        Value::Array(named(&kc, list, name).cloned().into_iter().collect())
                    };
                    let mut m = kc.clone();
                    m["contexts"] = Value::Array(vec![c.clone()]);
                    m["clusters"] = keep("clusters", cluster);
                    m["users"] = keep("users", user);
                    ctx.print(&yaml::to_yaml(&m));
                } else {
                    ctx.print(&yaml::to_yaml(&kc));
                }
            }
            Config::CurrentContext => {
                if current.is_empty() {
                    return Err(Error::Usage("current-context is not set".into()));
                }
                ctx.print(&format!("{current}\n"));
            }
            Config::GetContexts => {
                let mut tw = TabWriter::for_tables();
                tw.write_str("CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n");
                for c in array_at(&kc, "/contexts") {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    let s = |f: &str| {
                        c.pointer(&format!("/context/{f}"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    tw.write_str(&format!(
                        "{}\t{name}\t{}\t{}\t{}\n",
                        if name == current { "*" } else { "" },
                        s("cluster"),
                        s("user"),
                        s("namespace")
                    ));
                }
                ctx.print(&tw.flush());
            }
            Config::UseContext { name } => {
                if named(&kc, "contexts", &name).is_none() {
                    return Err(Error::Usage(format!(
                        "no context exists with the name: \"{name}\""
                    )));
                }
                kc["current-context"] = Value::String(name.clone());
                write_document(&path, &kc)?;
                ctx.print(&format!("Switched to context \"{name}\".\n"));
            }
            Config::SetContext {
                name,
                current: use_current,
                namespace,
            } => {
                let target = match (name, use_current) {
                    (Some(n), _) => n,
                    (None, true) => current.clone(),
                    (None, false) => {
                        return Err(Error::Usage(
                            "you must specify a context name or --current".into(),
                        ))
                    }
                };
                let contexts = kc
                    .get_mut("contexts")
                    .and_then(Value::as_array_mut)
                    .ok_or_else(|| Error::Kubeconfig("the kubeconfig has no contexts".into()))?;
                let c = contexts
                    .iter_mut()
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(target.as_str()))
                    .ok_or_else(|| {
                        Error::Usage(format!("no context exists with the name: \"{target}\""))
                    })?;
                if let Some(ns) = namespace {
                    c["context"]["namespace"] = Value::String(ns);
                }
                write_document(&path, &kc)?;
                ctx.print(&format!("Context \"{target}\" modified.\n"));
            }
        }
        Ok(())
    }
}
