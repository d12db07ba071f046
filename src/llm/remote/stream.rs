//! One generation, from the request to the reader: deadlines to the first token, between
//! tokens and for the whole; the deltas as they stream (or one whole completion); and the
//! summary, with estimates where the server gives no usage figures.
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::chunk::parse_piece;
use super::request::{describe, open, request_body, OpenError};
use super::Shared;
use crate::llm::{ChatMessage, FinishReason, GenEvent, GenSummary, GenerateParams};

/// One generation: `Ok(None)` when the reader went away.
pub(super) async fn generate(
    shared: &Shared,
    messages: &[ChatMessage],
    params: &GenerateParams,
    events: &mpsc::Sender<GenEvent>,
) -> Result<Option<GenSummary>, String> {
    let options = &shared.options;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + options.total_timeout;
    let body = request_body(&shared.model, messages, params);
    let attempts = (|| open(shared, &body))
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(2))
                .with_max_times(options.retries)
                .with_jitter(),
        )
        .when(|e: &OpenError| e.retry)
        .notify(|e: &OpenError, wait: Duration| {
            tracing::info!("the model server: {}; again in {wait:?}", e.message);
        });
    let response = tokio::select! {
        r = tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + options.first_token_timeout), attempts) => match r {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(e.message),
            Err(_) => return Err(format!("no answer from the model server within {} s", options.first_token_timeout.as_secs())),
        },
        _ = events.closed() => return Ok(None),
    };
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut summary = GenSummary {
        prompt_tokens: 0,
        completion_tokens: 0,
        prompt_trimmed: false,
        finish_reason: FinishReason::Stop,
        ttft_ms: 0.0,
        total_ms: 0.0,
        prefill_tok_s: 0.0,
        decode_tok_s: 0.0,
        decode_passes: 0,
    };
    let mut text_len = 0usize;
    let mut deltas = 0usize;
    let mut usage = None;
    let mut finished = false;
    if !streamed {
        // A server that ignored `stream`: one whole completion.
        let body = tokio::select! {
            r = tokio::time::timeout_at(deadline, response.text()) => match r {
                Ok(Ok(body)) => body,
                Ok(Err(e)) => return Err(describe(&e)),
                Err(_) => return Err("the model server's answer took too long".into()),
            },
            _ = events.closed() => return Ok(None),
        };
        let piece = parse_piece(&body)?;
        summary.ttft_ms = crate::millis(started.elapsed());
        if piece.finish.is_none() && piece.text.is_empty() {
            return Err("the model server sent an empty completion".into());
        }
        text_len = piece.text.len();
        deltas = 1;
        usage = piece.usage;
        summary.finish_reason = piece.finish.unwrap_or(FinishReason::Stop);
        if events.send(GenEvent::Delta(piece.text)).await.is_err() {
            return Ok(None);
        }
        finished = true;
    } else {
        let mut stream = response.bytes_stream().eventsource();
        loop {
            let wait = if deltas == 0 {
                (tokio::time::Instant::now() + options.first_token_timeout).min(deadline)
            } else {
                (tokio::time::Instant::now() + options.idle_timeout).min(deadline)
            };
            let next = tokio::select! {
                next = tokio::time::timeout_at(wait, stream.next()) => next,
                _ = events.closed() => return Ok(None),
            };
            let event = match next {
                Err(_) if deltas == 0 => {
                    return Err(format!(
                        "no token from the model server within {} s",
                        options.first_token_timeout.as_secs()
                    ))
                }
                Err(_) => return Err("the model server stopped sending tokens".into()),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(format!("the model server's stream broke: {e}")),
                Ok(Some(Ok(event))) => event,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                finished = true;
                break;
            }
            let piece = parse_piece(data)?;
            if piece.usage.is_some() {
                usage = piece.usage;
            }
            if let Some(finish) = piece.finish {
                summary.finish_reason = finish;
                finished = true;
            }
            if !piece.text.is_empty() {
                if deltas == 0 {
                    summary.ttft_ms = crate::millis(started.elapsed());
                }
                deltas += 1;
                text_len += piece.text.len();
                if events.send(GenEvent::Delta(piece.text)).await.is_err() {
                    return Ok(None);
                }
            }
        }
    }
    if !finished {
        return Err("the model server's stream ended before the answer did".into());
    }
    summary.total_ms = crate::millis(started.elapsed());
    // Without usage figures, estimates (the server's tokenizer is not known here).
    let (prompt, completion) = usage.unwrap_or_else(|| {
        let chars: usize = messages.iter().map(|m| m.content.len()).sum();
        (
            estimate_tokens(chars),
            deltas.max(estimate_tokens(text_len)),
        )
    });
    summary.prompt_tokens = prompt;
    summary.completion_tokens = completion;
    let decode_s = (summary.total_ms - summary.ttft_ms) / 1000.0;
    if decode_s > 0.0 {
        summary.decode_tok_s = completion.saturating_sub(1) as f64 / decode_s;
    }
    if summary.ttft_ms > 0.0 {
        summary.prefill_tok_s = prompt as f64 / (summary.ttft_ms / 1000.0);
    }
    Ok(Some(summary))
}

/// Tokens of `bytes` of text, over-estimated for budgets (English runs about four bytes a token
/// in these models' vocabularies; three keeps a margin).
pub(super) fn estimate_tokens(bytes: usize) -> usize {
    bytes.div_ceil(3)
}
