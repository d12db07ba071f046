//! Prompt rows: work items of (kv head, block of query rows), whose query heads share every
//! key and value load; results gathered item-major, then copied back row-major.
use super::micro::{run_job, AttnJob};
use super::{exp_row, key_index, run_items, AttnMicro, AttnShape, JB, QB, ROW_BLOCK};
use crate::Kernel;
use std::sync::Mutex;

/// Several query rows: items (kv head, block of [`ROW_BLOCK`] rows), latest blocks first.
pub(super) fn attention_prompt(
    kernel: Kernel,
    q: &[f32],
    k_t: &[f32],
    v: &[f32],
    sh: AttnShape,
    out: &mut [f32],
) {
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

/// One work item: query heads of kv head `kvh` × rows of block `blk`. `dst` is
/// `groups × rows × hd`. Plain Rust in fixed-size register blocks, compiled once per
/// instruction set by [`run_job`].
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
