//! A decode step: one query row, its keys split into runs so that both threads work, each
//! run's partial softmax merged at the end.
use super::micro::{run_job, AttnJob};
use super::{exp_row, key_index, run_items, AttnMicro, AttnShape, JB, QB};
use crate::ops::fast_exp;
use crate::Kernel;
use std::ops::Range;
use std::sync::Mutex;

/// Keys per decode work item: enough items for both threads at long contexts, few enough
/// that each streams a long run of keys and values.
fn decode_chunk(len: usize) -> usize {
    (len.div_ceil(8).div_ceil(JB) * JB).clamp(64, 512)
}

/// One query row (a decode step). With only `n_kv_head` (kv head) items the two threads
/// would split 3 heads 2 : 1, so the keys are split too: each item (kv head, run of keys)
/// returns its unnormalised output with its own max and sum, merged here (split-K softmax).
pub(super) fn attention_decode(
    kernel: Kernel,
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
