//! Group commit for codes. Every code needs its audit record durable
//! before it leaves, and under load that commit (an fsync, and on
//! PostgreSQL the vault's write lock) is the bottleneck, not the rules. So
//! code requests queue here, and one task at a time takes everything that
//! is waiting (up to `[limits] code_batch`) and answers it with one transaction
//! (`twofill_answer::answer_codes` → `Vault::issue_codes`): alone, a request
//! is a batch of one with the latency it had; under load, many records share
//! one commit. Every reply is sent only after that commit.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use twofill_answer::{CodeAsk, answer_codes};
use twofill_team_api::CodeReply;

use crate::http::ApiError;
use crate::pool::VaultPool;

type Reply = oneshot::Sender<Result<CodeReply, ApiError>>;

/// Where the API's code requests go; cloned into every handler.
#[derive(Clone)]
pub struct CodeBatcher {
    queue: mpsc::Sender<(CodeAsk, Reply)>,
}

impl CodeBatcher {
    /// Starts the batching task on the current tokio runtime. `capacity`
    /// bounds the requests waiting (the server's connection cap is a
    /// good value: each connection has at most one request in flight);
    /// `max_batch` bounds a batch's time (its last request waits for all
    /// before it) and memory.
    pub fn spawn(pool: Arc<VaultPool>, capacity: usize, max_batch: usize) -> CodeBatcher {
        let (queue, waiting) = mpsc::channel(capacity.max(1));
        tokio::spawn(run(pool, waiting, max_batch.max(1)));
        CodeBatcher { queue }
    }

    /// The code for `ask`, after its record is committed.
    pub async fn issue(&self, ask: CodeAsk) -> Result<CodeReply, ApiError> {
        let (reply, answer) = oneshot::channel();
        if self.queue.send((ask, reply)).await.is_err() {
            return Err(ApiError::internal());
        }
        // A dropped sender means the batch's job panicked (the pool logged it).
        answer.await.unwrap_or_else(|_| Err(ApiError::internal()))
    }
}

async fn run(
    pool: Arc<VaultPool>,
    mut waiting: mpsc::Receiver<(CodeAsk, Reply)>,
    max_batch: usize,
) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (asks, replies): (Vec<CodeAsk>, Vec<Reply>) = batch.into_iter().unzip();
        match pool.run(move |vault| answer_batch(vault, &asks)).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A client that went away no longer wants its code.
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The batch's answers, or one error for all when the database failed (so
/// the pool drops the handle, as it does for a single request).
fn answer_batch(
    vault: &mut twofill_vault::Vault,
    asks: &[CodeAsk],
) -> Result<Vec<Result<CodeReply, ApiError>>, ApiError> {
    let mut answers = Vec::with_capacity(asks.len());
    for answer in answer_codes(vault, asks) {
        let answer = answer.map_err(ApiError::from_body);
        match answer {
            Err(e) if e.is_storage_failure() => return Err(e),
            Err(e) if e.is_tampered() => {
                // The row is for the operator's log, not for the device.
                eprintln!("twofill-server: {}", e.body.message);
                answers.push(Err(ApiError::tampered()));
            }
            other => answers.push(other),
        }
    }
    Ok(answers)
}
