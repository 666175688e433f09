//! `GET /api/stream`: the cluster as Server-Sent Events. First a `reset`
//! event (every cached object, compact), then `delta` events, each a JSON
//! array of the deltas that arrived together: a burst (a Deployment scaled
//! to 1,000) is one message, not a thousand. The page applies them and
//! redraws once per animation frame.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use crate::{AppState, Model};

/// Deltas sent in one message at most.
const BATCH: usize = 4_096;

fn reset(model: &Model) -> Event {
    let snapshot = serde_json::Value::Array(model.snapshot());
    Event::default().event("reset").data(snapshot.to_string())
}

pub async fn sse(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the snapshot is taken: a change in between is sent
    // twice (harmless: a put is the whole object), never lost.
    let rx = state.model.deltas.subscribe();
    let first = reset(&state.model);
    let rest = futures::stream::unfold((rx, state.model.clone()), next);
    let stream = futures::stream::once(async move { Ok(first) }).chain(rest);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The next message: the deltas waiting now, or a snapshot after falling behind.
async fn next(
    (mut rx, model): (Receiver<Arc<str>>, Arc<Model>),
) -> Option<(Result<Event, Infallible>, (Receiver<Arc<str>>, Arc<Model>))> {
    let first = match rx.recv().await {
        Ok(d) => d,
        Err(RecvError::Lagged(_)) => {
            let event = reset(&model);
            return Some((Ok(event), (rx, model)));
        }
        Err(RecvError::Closed) => return None,
    };
    let mut batch = String::from("[");
    batch.push_str(&first);
    for _ in 1..BATCH {
        match rx.try_recv() {
            Ok(d) => {
                batch.push(',');
                batch.push_str(&d);
            }
            Err(TryRecvError::Lagged(_)) => {
                let event = reset(&model);
                return Some((Ok(event), (rx, model)));
            }
            Err(_) => break,
        }
    }
    batch.push(']');
    Some((Ok(Event::default().event("delta").data(batch)), (rx, model)))
}
