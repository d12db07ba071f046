//! Causal grouped-query attention over the KV cache's tiled keys, on candle's thread pool in
//! one dispatch per layer: prompt rows in blocks, a decode step's keys split between the
//! threads (partial softmaxes merged).
//!
//! - `prompt`: several query rows, in blocks of rows per kv head;
//! - `decode`: one query row, its keys in runs per kv head;
//! - `micro`: the inner loops (scores and values) per instruction set.
use super::ops::fast_exp;
use std::sync::atomic::{AtomicUsize, Ordering};

mod decode;
mod micro;
mod prompt;

pub(crate) use micro::AttnMicro;
#[cfg(target_arch = "x86_64")]
pub(crate) use micro::Plain;

use decode::attention_decode;
use prompt::attention_prompt;

/// Shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct AttnShape {
    /// New query rows (positions `pos..pos + s`).
    pub s: usize,
    pub pos: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
}

/// Where key `d` of kv head `kvh` at position `p` lives in the key buffer: tiles of 16
/// positions × `head_dim` per kv head, position-major (`(p / 16, kvh, d, p % 16)`), so the
/// scores of 16 keys read one contiguous tile and the buffer grows without moving anything.
#[inline(always)]
pub fn key_index(p: usize, kvh: usize, d: usize, n_kv_head: usize, head_dim: usize) -> usize {
    ((p / 16 * n_kv_head + kvh) * head_dim + d) * 16 + p % 16
}

/// Query rows per attention work item.
const ROW_BLOCK: usize = 16;
/// Query vectors and keys per register block.
const QB: usize = 4;
const JB: usize = 16;

/// Causal grouped-query attention. `q` is `s × (n_head·hd)` row-major. Keys are in 16-key
/// tiles (see [`key_index`]; 16 keys' scores build with vertical multiply-adds) and hold at
/// least `pos + s` positions rounded up to 16;
/// values are position-major, `v[j·n_kv_head·hd + kvh·hd + d]`. Both hold `pos + s` positions.
/// Writes `s × (n_head·hd)` into `out`. Query head `h` reads kv head `h / (n_head / n_kv_head)`.
///
/// Work items are (kv head, block of query rows): all query heads of a group share every key
/// and value load. One dispatch on candle's pool; items are claimed dynamically.
pub fn attention(q: &[f32], k_t: &[f32], v: &[f32], sh: AttnShape, out: &mut [f32]) {
    attention_with(super::Kernel::selected(), q, k_t, v, sh, out)
}

/// [`attention`] with a given instruction set (one of [`super::Kernel::available`]; any
/// other falls back to the portable code).
pub fn attention_with(
    kernel: super::Kernel,
    q: &[f32],
    k_t: &[f32],
    v: &[f32],
    sh: AttnShape,
    out: &mut [f32],
) {
    let kernel = if super::Kernel::available().contains(&kernel) {
        kernel
    } else {
        super::Kernel::Portable
    };
    if sh.s == 1 {
        attention_decode(kernel, q, k_t, v, sh, out)
    } else {
        attention_prompt(kernel, q, k_t, v, sh, out)
    }
}

/// Runs `f(item, scratch)` for items `0..n` in one dispatch on candle's pool (inline when
/// there is a single item or no worker); each item goes to whichever thread is free.
fn run_items(n: usize, f: impl Fn(usize, &mut Vec<f32>) + Sync) {
    let next = AtomicUsize::new(0);
    let work = |_tid: usize| {
        let mut scratch = Vec::new();
        loop {
            let item = next.fetch_add(1, Ordering::Relaxed);
            if item >= n {
                break;
            }
            f(item, &mut scratch);
        }
    };
    let pool = candle_core::utils::barrier_pool();
    if pool.n_workers() == 0 || n < 2 {
        work(0);
    } else {
        pool.execute(work);
    }
}

/// Replaces `row[..len]` by `exp(x - max)` and the rest by 0; returns the max and the sum.
#[inline(always)]
fn exp_row(row: &mut [f32], len: usize) -> (f32, f32) {
    // In 16 independent lanes so that max, exp and sum vectorise.
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = row[..len].chunks_exact(16);
    for c in &mut chunks {
        for l in 0..16 {
            lanes[l] = lanes[l].max(c[l]);
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(lanes.iter())
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    row[len..].iter_mut().for_each(|x| *x = f32::NEG_INFINITY);
    let mut sums = [0f32; 16];
    for c in row.chunks_exact_mut(16) {
        for l in 0..16 {
            // Masked entries: exp(-inf) clamps to ~1e-38; zero them exactly.
            let e = fast_exp(c[l] - max);
            let e = if c[l] == f32::NEG_INFINITY { 0.0 } else { e };
            c[l] = e;
            sums[l] += e;
        }
    }
    (max, sums.iter().sum())
}

#[cfg(test)]
mod tests;
