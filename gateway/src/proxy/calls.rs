//! The requests policies send, as policies ask for them: `send-request` (one, or a `wait`'s
//! together), `send-one-way-request` (in the background), each with its
//! `authentication-managed-identity` token first when it names one. `outcall` sends; `identity`
//! obtains tokens.
//!
//! Must not: run policy.

use std::sync::Arc;

use certgate_policy::{Answer, Cursor, Next, Outcall, SendFailure, SendResult};

use super::{identity, outcall};
use crate::snapshot::Snapshot;

/// Does the I/O a suspended pipeline asks for and gives what [`certgate_policy::Plan::resume`]
/// takes; any other `next` (the backend call, the end) comes back as `Err`.
pub(super) async fn perform(
    snap: &Arc<Snapshot>,
    next: Next,
) -> Result<(Cursor, Option<Answer>), Next> {
    Ok(match next {
        Next::Send { request, cursor } => {
            let sent = send(snap, &request, "send-request").await;
            (cursor, Some(Answer::Sent(sent)))
        }
        Next::Token { request, cursor } => {
            let token = identity::token(snap, &request).await;
            (cursor, Some(Answer::Token(token)))
        }
        Next::Count { request, cursor } => {
            let counted = match &snap.redis {
                Some(r) => r.count(&request).await,
                // Plans suspend to count only when the store is Redis's.
                None => Err("no shared counter store is configured".to_string()),
            };
            (cursor, Some(Answer::Counted(counted)))
        }
        Next::Cache { op, cursor } => {
            let answer = match &snap.redis {
                Some(r) => r.cache(&op).await,
                // Plans use the external cache only when Redis is configured.
                None => Err("no external cache is configured".to_string()),
            };
            (cursor, Some(Answer::Cached(answer)))
        }
        Next::Sleep { duration, cursor } => {
            tokio::time::sleep(duration).await;
            (cursor, None)
        }
        Next::SendAll {
            requests,
            any,
            cursor,
        } => {
            let results = send_all(snap, requests, any).await;
            (cursor, Some(Answer::SentAll(results)))
        }
        other => return Err(other),
    })
}

/// Sends `call`, with its managed-identity token first when it names one, and counts the
/// result under `policy`.
pub(super) async fn send(snap: &Snapshot, call: &Outcall, policy: &str) -> SendResult {
    let Some(t) = &call.identity else {
        return outcall::send(snap, call, policy).await;
    };
    match identity::token(snap, t).await {
        Ok(token) => {
            let mut c = call.clone();
            c.identity = None;
            c.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("Authorization"));
            c.headers
                .push(("Authorization".into(), format!("Bearer {token}")));
            outcall::send(snap, &c, policy).await
        }
        Err(why) => {
            let failure = SendFailure::Token(format!("No access token was obtained: {why}"));
            crate::metrics::METRICS
                .sent_requests
                .with_label_values(&[policy, failure.reason()])
                .inc();
            Err(failure)
        }
    }
}

/// Sends a `wait`'s requests together and gives their results in order. With `any`, the first
/// to answer ends the wait: the others are abandoned (their connections dropped) and give
/// `None`.
pub(super) async fn send_all(
    snap: &Arc<Snapshot>,
    requests: Vec<Outcall>,
    any: bool,
) -> Vec<Option<SendResult>> {
    let n = requests.len();
    let mut set = tokio::task::JoinSet::new();
    for (i, call) in requests.into_iter().enumerate() {
        let snap = snap.clone();
        set.spawn(async move { (i, send(&snap, &call, "send-request").await) });
    }
    let mut out: Vec<Option<SendResult>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(r);
            }
            if any {
                set.abort_all();
                break;
            }
        }
    }
    if !any {
        // A task that died without an answer (it cannot panic by design) is a failed request.
        for slot in &mut out {
            slot.get_or_insert_with(|| Err(SendFailure::Connect("the request was lost".into())));
        }
    }
    out
}

/// Sends the requests `send-one-way-request` queued, in the background: the client's request
/// does not wait for them.
pub(super) fn send_in_background(snap: &Arc<Snapshot>, calls: Vec<Outcall>) {
    for call in calls {
        let snap = snap.clone();
        tokio::spawn(async move {
            let _ = send(&snap, &call, "send-one-way-request").await;
        });
    }
}
