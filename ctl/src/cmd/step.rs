//! Step mode, for the classroom: `miniktl controllers pause|step [N]|resume`
//! and `miniktl step` (what waits, with each reconcile's plan; then one
//! step and what it did). minik's own commands, no kubectl equivalent:
//! they read and write the ConfigMap `kube-system/minik-step-mode`
//! (`minik_client::step_mode`), which the controller-manager's gate
//! follows, so `kubectl get cm -n kube-system minik-step-mode -o yaml`
//! shows the same state.

use std::time::Duration;

use minik_client::step_mode::{self, Last, StepState};

use crate::context::Ctx;
use crate::error::{Error, Result};

/// How long a step command waits to see its reconciles finish.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Hold the controller-manager's reconciles for stepping, or let them run.
#[derive(clap::Subcommand, Debug)]
pub enum Controllers {
    /// Hold every reconcile until it is stepped (step mode on).
    Pause,
    /// Let the next N waiting reconciles run, oldest first (default 1).
    Step {
        #[arg(default_value_t = 1)]
        n: u64,
    },
    /// Back to normal speed: every held reconcile runs (step mode off).
    Resume,
}

impl Controllers {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let client = ctx.client().await?;
        match self {
            Controllers::Pause => {
                if let Err(e) = step_mode::set_mode(&client, true).await {
                    return Err(ctx.kube_err(e).await);
                }
                ctx.print(
                    "controllers paused: each reconcile now waits for a step \
                     (miniktl step, or miniktl controllers step N)\n",
                );
            }
            Controllers::Resume => {
                if let Err(e) = step_mode::set_mode(&client, false).await {
                    return Err(ctx.kube_err(e).await);
                }
                ctx.print("controllers resumed: reconciles run at normal speed\n");
            }
            Controllers::Step { n } => {
                if n == 0 {
                    return Err(Error::Usage(
                        "the number of steps must be at least 1".into(),
                    ));
                }
                step(ctx, &client, n).await?;
            }
        }
        Ok(())
    }
}

/// Show what waits in step mode and run the oldest reconcile.
#[derive(clap::Args, Debug)]
pub struct Step {
    /// Only list what waits; do not step.
    #[arg(long = "list")]
    list: bool,
    /// Step once (the default).
    #[arg(long = "once", conflicts_with = "list")]
    once: bool,
}

impl Step {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let client = ctx.client().await?;
        let state = read(ctx, &client).await?;
        ctx.print(&queue(&state));
        if self.list || state.waiting_count == 0 {
            return Ok(());
        }
        ctx.print("\n");
        step(ctx, &client, 1).await
    }
}

/// The state, or a usage error when step mode is off.
async fn read(ctx: &Ctx, client: &kube::Client) -> Result<StepState> {
    let state = match step_mode::read(client).await {
        Ok(found) => found.map(|(state, _)| state).unwrap_or_default(),
        Err(e) => return Err(ctx.kube_err(e).await),
    };
    if !state.stepping {
        return Err(Error::Usage(
            "the controllers are not paused: start step mode with `miniktl controllers pause` \
             (or `miniktl cluster up --step`)"
                .into(),
        ));
    }
    Ok(state)
}

/// Grants `n` steps and prints each as it finishes.
async fn step(ctx: &Ctx, client: &kube::Client, n: u64) -> Result<()> {
    let before = read(ctx, client).await?;
    let target = match step_mode::grant(client, n).await {
        Ok(Some(target)) => target,
        Ok(None) => return Err(Error::Usage("the controllers are not paused".into())),
        Err(e) => return Err(ctx.kube_err(e).await),
    };
    // Steps already granted but not yet taken come first.
    let mut seen = before.taken;
    while seen < target {
        let reached = step_mode::wait_taken(client, seen + 1, STEP_TIMEOUT).await;
        let state = match reached {
            Ok(Some(state)) => state,
            Ok(None) => {
                ctx.print(&format!(
                    "{} of {} steps not taken yet: nothing is waiting; they go to the next \
                     reconciles to arrive\n",
                    target - seen,
                    target - before.taken
                ));
                return Ok(());
            }
            Err(e) => return Err(ctx.kube_err(e).await),
        };
        if let Some(last) = &state.last {
            ctx.print(&ran(last));
        }
        seen = state.taken;
    }
    Ok(())
}

/// The waiting list as text, oldest (next) first.
fn queue(state: &StepState) -> String {
    let mut out = format!(
        "Step mode: on (steps granted {}, taken {})\n",
        state.granted, state.taken
    );
    if state.waiting_count == 0 {
        out.push_str("Nothing waiting.\n");
        return out;
    }
    out.push_str(&format!("Waiting ({}), next first:\n", state.waiting_count));
    for (i, w) in state.waiting.iter().enumerate() {
        out.push_str(&format!(
            "{:>3}. {}  {} {}  (since {})\n",
            i + 1,
            w.controller,
            w.kind,
            w.object,
            w.since
        ));
        if let Some(why) = &w.why {
            out.push_str(&format!("     why:  {why}\n"));
        }
        out.push_str(&format!("     plan: {}\n", w.plan));
    }
    let unlisted = state
        .waiting_count
        .saturating_sub(state.waiting.len() as u64);
    if unlisted > 0 {
        out.push_str(&format!("     … and {unlisted} more\n"));
    }
    out
}

/// One finished step as text.
fn ran(last: &Last) -> String {
    format!(
        "Step {}: {} reconciled {} {}: {}\n  plan was: {}\n",
        last.step, last.controller, last.kind, last.object, last.outcome, last.plan
    )
}
