//! # minik-ctl: `miniktl`, kubectl's habits plus one command to a cluster
//!
//! Models `kubectl` (and the cluster lifecycle of kind/k3d). A student who
//! learned kubectl from a tutorial finds the same commands, flags and
//! output here; `miniktl cluster up` starts a whole minik cluster.
//!
//! A tour:
//! - [`Cli`] and [`Command`]: the clap definitions. Every subcommand is one
//!   file in [`cmd`] with the same shape — a `clap::Args` struct and
//!   `async fn run(self, &Ctx) -> Result<()>` — dispatched through one enum
//!   (the mini-redis layout). No subcommand imports another: what two of
//!   them share lives in one of the modules below.
//!
//! The shared layer, from the outside in:
//! - [`io`]: stdout, stderr, stdin and the terminal (`Io`, `Out`, raw mode).
//! - [`kubeconfig`]: which kubeconfig is used, the client it describes, and
//!   the file as a document for `miniktl config`.
//! - [`context`]: [`Ctx`], what every command runs with — streams, the lazily
//!   built `kube::Client`, the namespace.
//! - [`api`]: CRUD requests as methods on `Ctx` (`Api<DynamicObject>`, raw
//!   requests for server-side Tables and subresources).
//! - [`watch`]: watches as methods on `Ctx`, and waiting for an object to go.
//! - [`url`]: resource paths, query strings, the Table Accept header.
//! - [`flags`]: `-f/-R`, `-l`, `-A`, `-o`, `--dry-run` declared once and
//!   flattened into each command; duration-valued flags.
//! - [`resources`]: `po`, `deploy,svc`, `pod/web`, `all` → served resources
//!   (from `minik_api::catalogue`, the same table the API server serves).
//! - [`manifest`]: `-f` files, directories and stdin; YAML errors with file,
//!   document and line:column.
//! - [`objects`]: a manifest's object resolved to its kind and namespace,
//!   ready to send (`apply`, `create`, `delete`, `describe`, `get -f`).
//! - [`last_applied`]: the last-applied-configuration annotation.
//! - [`patch`]: client-side apply's three-way strategic merge patch.
//! - [`generate`]: creating and printing a generated object (`create`
//!   generators, `run`, `expose`, `autoscale`).
//! - [`pod_pick`]: the pod and container behind `POD` or `deploy/web`
//!   (`logs`, `exec`, `port-forward`).
//! - [`log_stream`]: waiting for a container and printing its log (`logs`, `run -i`).
//! - [`metadata_edit`]: `KEY=VALUE`/`KEY-` edits of labels and annotations
//!   (`label`, `annotate`).
//! - [`conditions`]: an object's `status.conditions` (`Ready`, `Progressing`).
//! - [`value`]: reading fields of untyped JSON (`str_at`, `array_at`).
//! - [`printers`]: tables laid out like kubectl (Go's tabwriter), YAML and
//!   JSON as kubectl prints them, JSONPath.
//! - [`describe`]: kubectl-style `describe` sections per kind, one shared
//!   header, plus Events.
//! - [`cluster`]: `cluster up|down|status`: processes, images, networking.
//! - [`error`]: one error type; kubectl's `Error from server (Reason): ...`.
//!
//! Left out: kustomize (`-k`: `kubectl apply -k` is the way), kubectl's
//! plugins, and manifests from URLs (this machine has no network).

pub mod api;
pub mod cluster;
pub mod cmd;
pub mod conditions;
pub mod context;
pub mod describe;
pub mod error;
pub mod flags;
pub mod generate;
pub mod io;
pub mod kubeconfig;
pub mod last_applied;
pub mod log_stream;
pub mod manifest;
pub mod metadata_edit;
pub mod objects;
pub mod patch;
pub mod pod_pick;
pub mod printers;
pub mod resources;
pub mod session;
pub mod url;
pub mod value;
pub mod watch;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use context::Ctx;
pub use error::{Error, Result};
pub use io::{Io, Out};

/// miniktl controls a minik (or any Kubernetes) cluster, like kubectl.
#[derive(Parser, Debug)]
#[command(name = "miniktl", version, about, disable_help_subcommand = true)]
pub struct Cli {
    /// Path to the kubeconfig file (else KUBECONFIG, $MINIK_HOME/kubeconfig, ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The namespace for this request.
    #[arg(short = 'n', long = "namespace", global = true)]
    pub namespace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Every miniktl subcommand.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply a configuration to resources by file name or stdin.
    Apply(cmd::apply::Apply),
    /// Create a resource from a file or from arguments.
    Create(cmd::create::Create),
    /// Display one or many resources.
    Get(cmd::get::Get),
    /// Diff the live version against what apply would make of the files.
    Diff(cmd::diff::Diff),
    /// Show details of a resource or group of resources.
    Describe(cmd::describe::Describe),
    /// Delete resources by file names, stdin, resources and names, or by label selector.
    Delete(cmd::delete::Delete),
    /// Print the logs for a container in a pod.
    Logs(cmd::logs::Logs),
    /// Execute a command in a container.
    Exec(cmd::exec::Exec),
    /// Attach to a running container.
    Attach(cmd::attach::Attach),
    /// Copy files and directories to and from containers.
    Cp(cmd::cp::Cp),
    /// Create a debugging session in a pod (an ephemeral container).
    Debug(cmd::debug::Debug),
    /// Run a particular image on the cluster (creates a pod).
    Run(cmd::run::Run),
    /// Set a new size for a deployment, replica set or stateful set.
    Scale(cmd::scale::Scale),
    /// Manage the rollout of a deployment.
    #[command(subcommand)]
    Rollout(cmd::rollout::Rollout),
    /// Set specific features on objects (image, env).
    #[command(subcommand)]
    Set(cmd::set::Set),
    /// Take a deployment, replica set, pod or service and expose it as a new Service.
    Expose(cmd::expose::Expose),
    /// Auto-scale a deployment (creates a HorizontalPodAutoscaler).
    Autoscale(cmd::autoscale::Autoscale),
    /// Forward one or more local ports to a pod or service.
    PortForward(cmd::port_forward::PortForward),
    /// Explain why a pod, deployment or service is the way it is.
    Why(cmd::why::Why),
    /// Display resource (CPU/memory) usage.
    #[command(subcommand)]
    Top(cmd::top::Top),
    /// Mark a node as unschedulable.
    Cordon(cmd::drain::Cordon),
    /// Mark a node as schedulable.
    Uncordon(cmd::drain::Uncordon),
    /// Drain a node in preparation for maintenance (cordon, then evict its pods).
    Drain(cmd::drain::Drain),
    /// Update the taints on one or more nodes.
    Taint(cmd::taint::Taint),
    /// Inspect authorization (whoami, can-i).
    #[command(subcommand)]
    Auth(cmd::auth::Auth),
    /// Update the labels on a resource.
    Label(cmd::label::Label),
    /// Update the annotations on a resource.
    Annotate(cmd::annotate::Annotate),
    /// Edit a resource in $EDITOR.
    Edit(cmd::edit::Edit),
    /// Update fields of a resource with a patch.
    Patch(cmd::patch::PatchCmd),
    /// Wait for a condition on one or many resources.
    Wait(cmd::wait::Wait),
    /// Get documentation for a resource.
    Explain(cmd::explain::Explain),
    /// Print the supported API resources on the server.
    ApiResources(cmd::api_resources::ApiResources),
    /// Display cluster information.
    ClusterInfo(cmd::cluster_info::ClusterInfo),
    /// Print the client and server version information.
    Version(cmd::version::Version),
    /// Show or switch kubeconfig contexts.
    #[command(subcommand)]
    Config(cmd::config::Config),
    /// Step mode: hold the controllers' reconciles (pause), step them, resume.
    #[command(subcommand)]
    Controllers(cmd::step::Controllers),
    /// Show the reconciles waiting in step mode with their plans, and run the next one.
    Step(cmd::step::Step),
    /// Start, stop and inspect a local minik cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
}

impl Command {
    /// Runs the subcommand.
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            Command::Apply(c) => c.run(ctx).await,
            Command::Create(c) => c.run(ctx).await,
            Command::Get(c) => c.run(ctx).await,
            Command::Diff(c) => c.run(ctx).await,
            Command::Describe(c) => c.run(ctx).await,
            Command::Delete(c) => c.run(ctx).await,
            Command::Logs(c) => c.run(ctx).await,
            Command::Exec(c) => c.run(ctx).await,
            Command::Attach(c) => c.run(ctx).await,
            Command::Cp(c) => c.run(ctx).await,
            Command::Debug(c) => c.run(ctx).await,
            Command::Run(c) => c.run(ctx).await,
            Command::Scale(c) => c.run(ctx).await,
            Command::Rollout(c) => c.run(ctx).await,
            Command::Set(c) => c.run(ctx).await,
            Command::Expose(c) => c.run(ctx).await,
            Command::Autoscale(c) => c.run(ctx).await,
            Command::PortForward(c) => c.run(ctx).await,
            Command::Top(c) => c.run(ctx).await,
            Command::Why(c) => c.run(ctx).await,
            Command::Cordon(c) => c.run(ctx).await,
            Command::Uncordon(c) => c.run(ctx).await,
            Command::Drain(c) => c.run(ctx).await,
            Command::Taint(c) => c.run(ctx).await,
            Command::Auth(c) => c.run(ctx).await,
            Command::Label(c) => c.run(ctx).await,
            Command::Annotate(c) => c.run(ctx).await,
            Command::Edit(c) => c.run(ctx).await,
            Command::Patch(c) => c.run(ctx).await,
            Command::Wait(c) => c.run(ctx).await,
            Command::Explain(c) => c.run(ctx).await,
            Command::ApiResources(c) => c.run(ctx).await,
            Command::ClusterInfo(c) => c.run(ctx).await,
            Command::Version(c) => c.run(ctx).await,
            Command::Config(c) => c.run(ctx).await,
            Command::Controllers(c) => c.run(ctx).await,
            Command::Step(c) => c.run(ctx).await,
            Command::Cluster(c) => c.run(ctx).await,
        }
    }
}

/// Parses `args` (including the program name) and runs the command with
/// the given streams; returns the process exit code. `main` and the tests
/// both come through here.
pub async fn execute<I, T>(args: I, io: Io) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            let mut io = io;
            let target = if e.use_stderr() {
                &mut io.err
            } else {
                &mut io.out
            };
            let _ = std::io::Write::write_all(target, text.as_bytes());
            return match e.exit_code() {
                0 => 0,
                _ => 1,
            };
        }
    };
    let ctx = Ctx::new(io, cli.kubeconfig, cli.namespace);
    // Custom kinds resolve like built-in ones in commands that name kinds.
    if !matches!(
        cli.command,
        Command::Cluster(_) | Command::Config(_) | Command::Version(_)
    ) {
        resources::load_custom(&ctx).await;
    }
    match cli.command.run(&ctx).await {
        Ok(()) => 0,
        Err(e) => {
            let text = e.render();
            if !text.is_empty() {
                ctx.eprint(&format!("{text}\n"));
            }
            e.exit_code()
        }
    }
}
