//! Causal grouped-query attention over the KV cache's tiled keys, on candle's thread pool in
//! one dispatch per layer: prompt rows in blocks, a decode step's keys split between the
//! threads (partial softmaxes merged).
use super::ops::{fast_exp, load_block};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
        return attention_decode(kernel, q, k_t, v, sh, out);
    }
    let blocks = sh.s.div_ceil(ROW_BLOCK);
    let groups = sh.n_head / sh.n_kv_head.max(1);
    let hd = sh.head_dim;
    // Results item-major: item (kvh, blk) owns `groups × rows × hd` contiguous values.
    let mut parts = vec![0f32; sh.s * sh.n_head * hd];
    let items: Vec<Mutex<&mut [f32]>> = parts
        .chunks_mut(groups * sh.s * hd)
        .flat_map(|kv| kv.chunks_mut(groups * ROW_BLOCK * hd))
        .map(Mutex::new)
        .collect();
    run_items(items.len(), |claimed, scratch| {
        // Latest (longest) row blocks first, for balance.
        let (kvh, blk) = (claimed % sh.n_kv_head, blocks - 1 - claimed / sh.n_kv_head);
        if let Some(Ok(mut dst)) = items.get(kvh * blocks + blk).map(|m| m.lock()) {
            let mut job = RowBlock {
                q,
                k_t,
                v,
                sh,
                kvh,
                blk,
                dst: &mut dst,
                scratch,
            };
            run_job(kernel, &mut job);
        }
    });
    drop(items);
    // Item-major → row-major.
    let q_dim = sh.n_head * hd;
    for kvh in 0..sh.n_kv_head {
        for blk in 0..blocks {
            let r0 = blk * ROW_BLOCK;
            let rows = (sh.s - r0).min(ROW_BLOCK);
            let base = kvh * groups * sh.s * hd + blk * groups * ROW_BLOCK * hd;
            for g in 0..groups {
                let h = kvh * groups + g;
                for ri in 0..rows {
                    let src = base + (g * rows + ri) * hd;
                    let i = r0 + ri;
                    out[i * q_dim + h * hd..i * q_dim + (h + 1) * hd]
                        .copy_from_slice(&parts[src..src + hd]);
                }
            }
        }
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

/// Keys per decode work item: enough items for both threads at long contexts, few enough
/// that each streams a long run of keys and values.
fn decode_chunk(len: usize) -> usize {
    (len.div_ceil(8).div_ceil(JB) * JB).clamp(64, 512)
}

/// One query row (a decode step). With only `n_kv_head` (kv head) items the two threads
/// would split 3 heads 2 : 1, so the keys are split too: each item (kv head, run of keys)
/// returns its unnormalised output with its own max and sum, merged here (split-K softmax).
fn attention_decode(
    kernel: super::Kernel,
    q: &[f32],
    k_t: &[f32],
    v: &[f32],
    sh: AttnShape,
    out: &mut [f32],
) {
    let hd = sh.head_dim;
    let groups = sh.n_head / sh.n_kv_head.max(1);
    let len = sh.pos + 1;
    let chunk = decode_chunk(len);
    let chunks = len.div_ceil(chunk);
    // Per item and query head: `hd` output values, then the max and the sum of the scores.
    let per_head = hd + 2;
    let mut parts = vec![0f32; sh.n_kv_head * chunks * groups * per_head];
    let items: Vec<Mutex<&mut [f32]>> = parts
        .chunks_mut(groups * per_head)
        .map(Mutex::new)
        .collect();
    run_items(items.len(), |claimed, scratch| {
        if let Some(Ok(mut dst)) = items.get(claimed).map(|m| m.lock()) {
            let c = claimed % chunks;
            let mut job = KeyRun {
                q,
                k_t,
                v,
                sh,
                kvh: claimed / chunks,
                keys: c * chunk..((c + 1) * chunk).min(len),
                dst: &mut dst,
                scratch,
            };
            run_job(kernel, &mut job);
        }
    });
    drop(items);
    for kvh in 0..sh.n_kv_head {
        let item = |c: usize| &parts[(kvh * chunks + c) * groups * per_head..][..groups * per_head];
        for g in 0..groups {
            let h = kvh * groups + g;
            let stats = |c: usize| {
                let p = &item(c)[g * per_head + hd..];
                (p[0], p[1])
            };
            let max = (0..chunks)
                .map(|c| stats(c).0)
                .fold(f32::NEG_INFINITY, f32::max);
            let o = &mut out[h * hd..(h + 1) * hd];
            o.iter_mut().for_each(|x| *x = 0.0);
            let mut total = 0f32;
            for c in 0..chunks {
                let (m, sum) = stats(c);
                let w = fast_exp(m - max);
                total += sum * w;
                for (x, &y) in o.iter_mut().zip(&item(c)[g * per_head..g * per_head + hd]) {
                    *x += w * y;
                }
            }
            let inv = 1.0 / total;
            o.iter_mut().for_each(|x| *x *= inv);
        }
    }
}

/// Decode attention: the query heads of kv head `kvh` over the run of keys `keys` (starting
/// on a key tile). `dst` is `groups × (hd + 2)`: unnormalised output, max, sum.
struct KeyRun<'a> {
    q: &'a [f32],
    k_t: &'a [f32],
    v: &'a [f32],
    sh: AttnShape,
    kvh: usize,
    keys: Range<usize>,
    dst: &'a mut [f32],
    scratch: &'a mut Vec<f32>,
}

impl AttnJob for KeyRun<'_> {
    #[inline(always)]
    fn run<M: AttnMicro>(&mut self) {
        let sh = self.sh;
        let hd = sh.head_dim;
        let groups = sh.n_head / sh.n_kv_head.max(1);
        let kv_dim = sh.n_kv_head * hd;
        let (j0, n) = (self.keys.start, self.keys.len());
        let lpad = n.div_ceil(JB) * JB;
        let scale = 1.0 / (hd as f32).sqrt();
        self.scratch.clear();
        self.scratch.resize(groups * (2 * hd + lpad), 0.0);
        let (qv, rest) = self.scratch.split_at_mut(groups * hd);
        let (scores, o) = rest.split_at_mut(groups * lpad);
        let heads = &self.q[self.kvh * groups * hd..(self.kvh + 1) * groups * hd];
        for (d, &x) in qv.iter_mut().zip(heads) {
            *d = x * scale;
        }
        let mut q0 = 0;
        while q0 < groups {
            let qn = (groups - q0).min(QB);
            let mut j = j0;
            while j < self.keys.end {
                let tile = key_index(j, self.kvh, 0, sh.n_kv_head, hd);
                M::scores(
                    qv,
                    q0,
                    qn,
                    hd,
                    &self.k_t[tile..tile + hd * JB],
                    j - j0,
                    scores,
                    lpad,
                );
                j += JB;
            }
            q0 += QB;
        }
        for (g, row) in scores.chunks_exact_mut(lpad).enumerate() {
            let (max, sum) = exp_row(row, n);
            self.dst[g * (hd + 2) + hd] = max;
            self.dst[g * (hd + 2) + hd + 1] = sum;
        }
        let vh = &self.v[j0 * kv_dim + self.kvh * hd..];
        let mut q0 = 0;
        while q0 < groups {
            let qn = (groups - q0).min(QB);
            M::values(scores, q0, qn, lpad, n, vh, kv_dim, hd, o);
            q0 += QB;
        }
        for (g, src) in o.chunks_exact(hd).enumerate() {
            self.dst[g * (hd + 2)..g * (hd + 2) + hd].copy_from_slice(src);
        }
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

/// One unit of attention work, compiled once per instruction set by [`run_job`].
trait AttnJob {
    fn run<M: AttnMicro>(&mut self);
}

/// Runs `job` with the inner loops of `kernel` (one of [`super::Kernel::available`]).
fn run_job<J: AttnJob>(kernel: super::Kernel, job: &mut J) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass only kernels from `Kernel::available`; the AVX-512 one is
        // offered only when the CPU reports avx512f (with bw and vnni).
        super::Kernel::Avx512Vnni | super::Kernel::Amx => unsafe { run_avx512(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: offered only when the CPU reports avx2 and fma.
        super::Kernel::Avx2 => unsafe { run_avx2(job) },
        _ => job.run::<Plain>(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
fn run_avx512<J: AttnJob>(job: &mut J) {
    job.run::<super::avx512::Attn>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<J: AttnJob>(job: &mut J) {
    job.run::<Plain>()
}

/// Prompt attention: query heads of kv head `kvh` × the query rows of block `blk`.
struct RowBlock<'a> {
    q: &'a [f32],
    k_t: &'a [f32],
    v: &'a [f32],
    sh: AttnShape,
    kvh: usize,
    blk: usize,
    dst: &'a mut [f32],
    scratch: &'a mut Vec<f32>,
}

impl AttnJob for RowBlock<'_> {
    #[inline(always)]
    fn run<M: AttnMicro>(&mut self) {
        attention_item_body::<M>(
            self.q,
            self.k_t,
            self.v,
            self.sh,
            self.kvh,
            self.blk,
            self.dst,
            self.scratch,
        )
    }
}

/// The two inner loops of attention, per instruction set.
pub(super) trait AttnMicro {
    /// `scores[(q0 + i)·lpad + j0 + l] = Σ_d qv[(q0 + i)·hd + d] · kt[d·16 + l]` for
    /// `i < qn ≤ QB`, `l < 16`: `kt` is the key tile of positions `j0..j0 + 16` (keys past the
    /// causal length are masked later).
    #[allow(clippy::too_many_arguments)]
    fn scores(
        qv: &[f32],
        q0: usize,
        qn: usize,
        hd: usize,
        kt: &[f32],
        j0: usize,
        scores: &mut [f32],
        lpad: usize,
    );
    /// `dst[(q0 + i)·hd + d] = Σ_{j < lmax} scores[(q0 + i)·lpad + j] · v[j·stride + d]`
    /// (`v` starts at the head's first value).
    #[allow(clippy::too_many_arguments)]
    fn values(
        scores: &[f32],
        q0: usize,
        qn: usize,
        lpad: usize,
        lmax: usize,
        v: &[f32],
        stride: usize,
        hd: usize,
        dst: &mut [f32],
    );
}

/// Plain Rust (vectorised by the compiler as it can).
pub(super) struct Plain;

impl AttnMicro for Plain {
    #[inline(always)]
    fn scores(
        qv: &[f32],
        q0: usize,
        qn: usize,
        hd: usize,
        kt: &[f32],
        j0: usize,
        scores: &mut [f32],
        lpad: usize,
    ) {
        let mut acc = [[0f32; JB]; QB];
        for d in 0..hd {
            let krow = load_block(&kt[d * JB..], JB);
            for (a, qi) in acc.iter_mut().zip(q0..q0 + qn) {
                let qd = qv[qi * hd + d];
                for l in 0..JB {
                    a[l] += qd * krow[l];
                }
            }
        }
        for (a, qi) in acc.iter().zip(q0..q0 + qn) {
            scores[qi * lpad + j0..qi * lpad + j0 + JB].copy_from_slice(a);
        }
    }

    #[inline(always)]
    fn values(
        scores: &[f32],
        q0: usize,
        qn: usize,
        lpad: usize,
        lmax: usize,
        v: &[f32],
        stride: usize,
        hd: usize,
        dst: &mut [f32],
    ) {
        let mut d0 = 0;
        while d0 < hd {
            let dn = (hd - d0).min(JB);
            let mut acc = [[0f32; JB]; QB];
            for j in 0..lmax {
                let vrow = load_block(&v[j * stride + d0..], dn);
                for (a, qi) in acc.iter_mut().zip(q0..q0 + qn) {
                    let p = scores[qi * lpad + j];
                    for l in 0..JB {
                        a[l] += p * vrow[l];
                    }
                }
            }
            for (a, qi) in acc.iter().zip(q0..q0 + qn) {
                dst[qi * hd + d0..qi * hd + d0 + dn].copy_from_slice(&a[..dn]);
            }
            d0 += JB;
        }
    }
}

/// One work item: query heads of kv head `kvh` × rows of block `blk`. `dst` is
/// `groups × rows × hd`. Plain Rust in fixed-size register blocks, compiled once per
/// instruction set by the wrappers above.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attention_item_body<M: AttnMicro>(
    q: &[f32],
    k_t: &[f32],
    v: &[f32],
    sh: AttnShape,
    kvh: usize,
    blk: usize,
    dst: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let hd = sh.head_dim;
    let groups = sh.n_head / sh.n_kv_head.max(1);
    let q_dim = sh.n_head * hd;
    let kv_dim = sh.n_kv_head * hd;
    let r0 = blk * ROW_BLOCK;
    let rows = (sh.s - r0).min(ROW_BLOCK);
    let nq = groups * rows;
    // Keys any row of the block sees; row ri sees `pos + r0 + ri + 1`.
    let lmax = sh.pos + r0 + rows;
    let lpad = lmax.div_ceil(JB) * JB;
    let scale = 1.0 / (hd as f32).sqrt();
    // Query vectors (pre-scaled) qv[qi·hd + d], qi = g·rows + ri; then scores[qi·lpad + j].
    scratch.clear();
    scratch.resize(nq * hd + nq * lpad + nq, 0.0);
    let (qv, rest) = scratch.split_at_mut(nq * hd);
    let (scores, inv_sums) = rest.split_at_mut(nq * lpad);
    for g in 0..groups {
        let h = kvh * groups + g;
        for ri in 0..rows {
            let i = r0 + ri;
            let src = &q[i * q_dim + h * hd..i * q_dim + (h + 1) * hd];
            for (d, &x) in qv[(g * rows + ri) * hd..][..hd].iter_mut().zip(src) {
                *d = x * scale;
            }
        }
    }
    // Scores: QB query vectors × JB keys per register block.
    let mut q0 = 0;
    while q0 < nq {
        let qn = (nq - q0).min(QB);
        let mut j0 = 0;
        while j0 < lmax {
            let tile = key_index(j0, kvh, 0, sh.n_kv_head, hd);
            M::scores(qv, q0, qn, hd, &k_t[tile..tile + hd * JB], j0, scores, lpad);
            j0 += JB;
        }
        q0 += QB;
    }
    // Softmax per query vector over its own causal length; masked entries become 0.
    for qi in 0..nq {
        let len = sh.pos + r0 + qi % rows + 1;
        let row = &mut scores[qi * lpad..(qi + 1) * lpad];
        let (_, sum) = exp_row(row, len);
        if let Some(slot) = inv_sums.get_mut(qi) {
            *slot = 1.0 / sum;
        }
    }
    // Outputs: QB query vectors per register block, over all keys; then normalised.
    let vh = &v[kvh * hd..];
    let mut q0 = 0;
    while q0 < nq {
        let qn = (nq - q0).min(QB);
        M::values(scores, q0, qn, lpad, lmax, vh, kv_dim, hd, dst);
        q0 += QB;
    }
    for (o, &inv) in dst.chunks_exact_mut(hd).zip(inv_sums.iter()) {
        o.iter_mut().for_each(|x| *x *= inv);
    }
}

#[cfg(test)]
mod tests;
