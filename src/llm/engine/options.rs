//! How an engine loads and runs a model: which weights, context and prefill chunk.
use candle_core::quantized::GgmlDType;

/// Which weights run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsMode {
    /// The file's own weights.
    AsShipped,
    /// Weights of types Q4_1 and Q5_x requantised to this type, cached beside the model (for
    /// comparisons: our kernels run Q4_1 as it is).
    Requantize(GgmlDType),
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub weights: WeightsMode,
    /// Upper bound on the context length (the KV cache grows up to it).
    pub max_context: usize,
    /// Prompt tokens run per forward call (bounds attention memory; cancellation is checked
    /// between chunks).
    pub prefill_chunk: usize,
}

impl Default for EngineOptions {
    /// The measured best on the reference machine (`bench llm`, 512-token prompt, 128 new
    /// tokens, 2 threads, medians):
    /// - Q4_1 as shipped: prefill 15 tok/s, decode 3 tok/s (candle's Q4_1 kernel is scalar);
    /// - Q8_0, all quantized: prefill 158, decode 52, peak RSS 325 MB;
    /// - Q4_0, all quantized: prefill 127, decode 54, 240 MB;
    /// - Q8_0 + f16 dense prefill: prefill 270, 507 MB;
    /// - Q8_0 + f32 dense prefill: prefill 360–430, decode 52–58, 703 MB;
    /// - Q8_0 on our int8 kernels (AVX-512 VNNI), no dense copy: prefill 776, decode 70,
    ///   297 MB;
    /// - with the engine's own forward pass (issue 9), 512 + 128, alternating runs: Q8_0
    ///   TTFT 404–438 ms, decode 106–111 tok/s, 279 MB; Q4_1 as shipped, kept in 4 bits
    ///   (nibble tiles): TTFT 435–453 ms, decode 128–135 tok/s, 230 MB (chosen: fewer bytes
    ///   per token, and exactly the shipped weights).
    fn default() -> Self {
        Self {
            weights: WeightsMode::AsShipped,
            max_context: 4096,
            prefill_chunk: 512,
        }
    }
}
