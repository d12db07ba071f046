//! The model writing a draft. Every caller reads the stream through [`Generation`], so a
//! stream that ends early, or with an error, is handled one way: an error, never half an
//! answer.
use super::result::AnswerRequest;
use super::retriever::{Prepared, Retriever};
use super::AnswerError;
use crate::llm::{GenEvent, GenStream, GenSummary, GenerateParams, LanguageModel, LlmError};

/// What the model wrote.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub text: String,
    /// From the request to the first delta.
    pub ttft_ms: f64,
    /// The model's usage and timings, once it has finished.
    pub summary: Option<GenSummary>,
}

/// Where a question goes after retrieval: declined (the model is not called), or to the
/// model.
pub enum Begun {
    Declined(Prepared),
    Generating(Generation),
}

/// Retrieval, evidence and the decision, then (when the corpus can answer) the queued
/// generation of the draft.
pub fn begin(
    retriever: &Retriever,
    model: &dyn LanguageModel,
    request: &AnswerRequest,
) -> Result<Begun, AnswerError> {
    let prepared = retriever.prepare(request)?;
    if prepared.decline.is_some() {
        return Ok(Begun::Declined(prepared));
    }
    let generation = Generation::start(
        model,
        retriever.generate_params(),
        request.clone(),
        prepared,
    )?;
    Ok(Begun::Generating(generation))
}

/// A queued generation of an answer's draft.
pub struct Generation {
    request: AnswerRequest,
    prepared: Prepared,
    stream: GenStream,
    draft: Draft,
    finished: bool,
}

impl Generation {
    /// Queues the generation (refused with `LlmError::Busy` when the model's queue is full).
    pub fn start(
        model: &dyn LanguageModel,
        params: GenerateParams,
        request: AnswerRequest,
        prepared: Prepared,
    ) -> Result<Generation, AnswerError> {
        Self::try_start(model, params, request, prepared).map_err(|refused| refused.0)
    }

    /// As [`Self::start`], giving the prepared evidence back when the model refuses.
    pub fn try_start(
        model: &dyn LanguageModel,
        params: GenerateParams,
        request: AnswerRequest,
        prepared: Prepared,
    ) -> Result<Generation, Box<(AnswerError, Prepared)>> {
        let stream = match model.generate(prepared.messages.clone(), params) {
            Ok(stream) => stream,
            Err(e) => return Err(Box::new((e.into(), prepared))),
        };
        Ok(Generation {
            request,
            prepared,
            stream,
            draft: Draft::default(),
            finished: false,
        })
    }

    pub fn request(&self) -> &AnswerRequest {
        &self.request
    }

    /// The evidence, the query and the decision the draft is written from.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The draft so far.
    pub fn draft(&self) -> &Draft {
        &self.draft
    }

    /// True once the model said it was done.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next piece of the draft, from async code; `Ok(None)` once the model is done.
    pub async fn next_delta(&mut self) -> Result<Option<String>, AnswerError> {
        if self.finished {
            return Ok(None);
        }
        let event = self.stream.recv().await;
        self.take(event)
    }

    /// As [`Self::next_delta`], from sync code (never on an async runtime thread).
    pub fn blocking_next_delta(&mut self) -> Result<Option<String>, AnswerError> {
        if self.finished {
            return Ok(None);
        }
        let event = self.stream.blocking_recv();
        self.take(event)
    }

    /// Reads the rest of the stream from async code.
    pub async fn complete(&mut self) -> Result<(), AnswerError> {
        while self.next_delta().await?.is_some() {}
        Ok(())
    }

    /// Reads the rest of the stream from sync code.
    pub fn blocking_complete(&mut self) -> Result<(), AnswerError> {
        while self.blocking_next_delta()?.is_some() {}
        Ok(())
    }

    /// The one policy for every event, and for the stream's end.
    fn take(&mut self, event: Option<GenEvent>) -> Result<Option<String>, AnswerError> {
        match event {
            Some(GenEvent::Delta(d)) => {
                if self.draft.text.is_empty() {
                    self.draft.ttft_ms = self.prepared.elapsed_ms();
                }
                self.draft.text.push_str(&d);
                Ok(Some(d))
            }
            Some(GenEvent::Done(summary)) => {
                self.draft.summary = Some(summary);
                self.finished = true;
                Ok(None)
            }
            Some(GenEvent::Error(e)) => Err(AnswerError::Model(LlmError::Inference(e))),
            None => Err(AnswerError::Unfinished),
        }
    }

    /// The request, what it was prepared into and the draft so far, finished or not (to
    /// degrade when the model failed).
    pub fn abandon(self) -> (AnswerRequest, Prepared, Draft) {
        (self.request, self.prepared, self.draft)
    }

    /// The request, what it was prepared into and the whole draft; `Unfinished` unless the
    /// model said it was done.
    pub fn into_parts(self) -> Result<(AnswerRequest, Prepared, Draft), AnswerError> {
        if !self.finished {
            return Err(AnswerError::Unfinished);
        }
        Ok((self.request, self.prepared, self.draft))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{FinishReason, GenStream};

    fn prepared() -> Prepared {
        Prepared {
            question: "Who?".into(),
            read_question: "Who?".into(),
            query: "Who?".into(),
            evidence: Vec::new(),
            decline: None,
            uncertain: None,
            messages: Vec::new(),
            read: 0,
            coverage: 1.0,
            sentence_coverage: 1.0,
            similarity: None,
            retrieval_ms: 0.0,
            started: std::time::Instant::now(),
        }
    }

    fn summary() -> GenSummary {
        GenSummary {
            prompt_tokens: 3,
            completion_tokens: 2,
            prompt_trimmed: false,
            finish_reason: FinishReason::Stop,
            ttft_ms: 1.0,
            total_ms: 2.0,
            prefill_tok_s: 1.0,
            decode_tok_s: 1.0,
        }
    }

    /// A generation over a stream that sends `events` and then closes.
    fn generation(events: Vec<GenEvent>) -> Generation {
        let (tx, rx) = tokio::sync::mpsc::channel(events.len().max(1));
        for e in events {
            tx.try_send(e).unwrap();
        }
        Generation {
            request: AnswerRequest::new("Who?"),
            prepared: prepared(),
            stream: GenStream::new(rx),
            draft: Draft::default(),
            finished: false,
        }
    }

    #[test]
    fn a_finished_stream_gives_the_whole_draft() {
        let mut g = generation(vec![
            GenEvent::Delta("General ".into()),
            GenEvent::Delta("Syrsky.".into()),
            GenEvent::Done(summary()),
        ]);
        assert_eq!(
            g.blocking_next_delta().unwrap().as_deref(),
            Some("General ")
        );
        g.blocking_complete().unwrap();
        assert!(g.is_finished());
        // Once done it stays done.
        assert_eq!(g.blocking_next_delta().unwrap(), None);
        let (_, _, draft) = g.into_parts().unwrap();
        assert_eq!(draft.text, "General Syrsky.");
        assert_eq!(draft.summary.map(|s| s.completion_tokens), Some(2));
    }

    #[test]
    fn a_stream_that_ends_early_or_fails_is_an_error() {
        let mut cut = generation(vec![GenEvent::Delta("General ".into())]);
        assert!(cut.blocking_next_delta().unwrap().is_some());
        assert!(matches!(
            cut.blocking_next_delta(),
            Err(AnswerError::Unfinished)
        ));
        assert!(matches!(cut.into_parts(), Err(AnswerError::Unfinished)));

        let mut failed = generation(vec![GenEvent::Error("out of memory".into())]);
        let err = failed.blocking_complete().unwrap_err();
        assert!(err.to_string().contains("out of memory"), "{err}");

        // The async reader follows the same policy.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut empty = generation(Vec::new());
        let result = runtime.block_on(empty.complete());
        assert!(matches!(result, Err(AnswerError::Unfinished)));
    }
}
