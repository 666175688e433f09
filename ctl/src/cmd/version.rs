//! `miniktl version`: the client's version and the API server's
//! (`GET /version`) — kubectl version.

use serde_json::json;

use crate::context::Ctx;
use crate::error::Result;
use crate::flags::Output;
use crate::printers::{json as json_printer, yaml};

/// Print the client and server version information.
#[derive(clap::Args, Debug)]
pub struct Version {
    /// Only the client version (no cluster needed).
    #[arg(long = "client")]
    pub client: bool,
    #[command(flatten)]
    pub output: Output,
}

/// What miniktl reports as its own version.
pub fn client_version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

impl Version {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let client = json!({"gitVersion": client_version(), "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)});
        let server = if self.client {
            None
        } else {
            let c = ctx.client().await?;
            match c.apiserver_version().await {
                Ok(v) => Some(serde_json::to_value(v).unwrap_or_default()),
                Err(e) => return Err(ctx.kube_err(e).await),
            }
        };
        match self.output.as_deref() {
            Some("json") => {
                let mut v = json!({"clientVersion": client});
                if let Some(s) = server {
                    v["serverVersion"] = s;
                }
                ctx.print(&json_printer::to_json(&v));
            }
            Some("yaml") => {
                let mut v = json!({"clientVersion": client});
                if let Some(s) = server {
                    v["serverVersion"] = s;
                }
                ctx.print(&yaml::to_yaml(&v));
            }
            _ => {
                ctx.print(&format!("Client Version: {} (miniktl)\n", client_version()));
                if let Some(s) = server {
                    ctx.print(&format!(
                        "Server Version: {}\n",
                        s["gitVersion"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        Ok(())
    }
}
