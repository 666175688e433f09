//! `miniktl auth whoami` and `miniktl auth can-i` — kubectl auth: ask the
//! API server who you are (a SelfSubjectReview) and whether you may do
//! something (a SelfSubjectAccessReview), printed as kubectl prints them.
//! `can-i` exits 1 when the answer is no, as kubectl does.

use serde_json::{json, Value};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::resources;

/// Inspect authorization.
#[derive(clap::Subcommand, Debug)]
pub enum Auth {
    /// Print who the API server says you are.
    Whoami,
    /// Check whether an action is allowed: `VERB TYPE[/NAME]` or `VERB /PATH`.
    CanI {
        verb: String,
        /// TYPE, TYPE/NAME, or a non-resource URL (`/healthz`).
        target: String,
        /// The subresource (`--subresource=log`).
        #[arg(long)]
        subresource: Option<String>,
        /// In every namespace.
        #[arg(short = 'A', long = "all-namespaces")]
        all_namespaces: bool,
        /// Print no answer, only the exit code.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
}

impl Auth {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            Auth::Whoami => whoami(ctx).await,
            Auth::CanI {
                verb,
                target,
                subresource,
                all_namespaces,
                quiet,
            } => can_i(ctx, &verb, &target, subresource, all_namespaces, quiet).await,
        }
    }
}

async fn whoami(ctx: &Ctx) -> Result<()> {
    let review = ctx
        .raw_post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await?;
    let user = &review["status"]["userInfo"];
    let mut rows = vec![(
        "Username".to_string(),
        user["username"].as_str().unwrap_or_default().to_string(),
    )];
    if let Some(uid) = user["uid"].as_str().filter(|u| !u.is_empty()) {
        rows.push(("UID".into(), uid.into()));
    }
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !groups.is_empty() {
        rows.push(("Groups".into(), format!("[{}]", groups.join(" "))));
    }
    for (key, values) in user["extra"].as_object().into_iter().flatten() {
        let values: Vec<&str> = values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        rows.push((format!("Extra: {key}"), format!("[{}]", values.join(" "))));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(9) + 3;
    let mut out = format!("{:width$}VALUE\n", "ATTRIBUTE");
    for (k, v) in rows {
        out.push_str(&format!("{k:width$}{v}\n"));
    }
    ctx.print(&out);
    Ok(())
}

async fn can_i(
    ctx: &Ctx,
    verb: &str,
    target: &str,
    subresource: Option<String>,
    all_namespaces: bool,
    quiet: bool,
) -> Result<()> {
    let spec = if target.starts_with('/') {
        json!({"nonResourceAttributes": {"path": target, "verb": verb}})
    } else {
        let (kind, name) = match target.split_once('/') {
            Some((k, n)) => (k, Some(n)),
            None => (target, None),
        };
        let info = resources::resolve(kind)?;
        let mut attrs = json!({"verb": verb, "group": info.group, "resource": info.plural});
        if info.namespaced && !all_namespaces {
            attrs["namespace"] = json!(ctx.namespace().await?);
        }
        if let Some(n) = name {
            attrs["name"] = json!(n);
        }
        if let Some(s) = subresource {
            attrs["subresource"] = json!(s);
        }
        json!({"resourceAttributes": attrs})
    };
    let review = ctx
        .raw_post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}),
        )
        .await?;
    let allowed = review["status"]["allowed"] == json!(true);
    if !quiet {
        let reason = review["status"]["reason"].as_str().unwrap_or_default();
        match (allowed, reason.is_empty()) {
            (true, _) => ctx.print("yes\n"),
            (false, true) => ctx.print("no\n"),
            (false, false) => ctx.print(&format!("no - {reason}\n")),
        }
    }
    if allowed {
        Ok(())
    } else {
        Err(Error::No)
    }
}
