//! The inner loops of attention per instruction set: a job is compiled once per set
//! ([`run_job`]), and [`AttnMicro`] gives its scores and values loops (plain Rust here, AVX-512
//! in `avx512.rs`, AVX2 in `avx2.rs`).
use super::{JB, QB};
use crate::ops::load_block;
use crate::Kernel;

/// One unit of attention work, compiled once per instruction set by [`run_job`].
pub(super) trait AttnJob {
    fn run<M: AttnMicro>(&mut self);
}

/// Runs `job` with the inner loops of `kernel` (one of [`Kernel::available`]).
pub(super) fn run_job<J: AttnJob>(kernel: Kernel, job: &mut J) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass only kernels from `Kernel::available`; the AVX-512 one is
        // offered only when the CPU reports avx512f (with bw and vnni).
        Kernel::Avx512Vnni | Kernel::Amx => unsafe { run_avx512(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: offered only when the CPU reports avx2 and fma.
        Kernel::Avx2 => unsafe { run_avx2(job) },
        _ => job.run::<Plain>(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
fn run_avx512<J: AttnJob>(job: &mut J) {
    job.run::<crate::avx512::Attn>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<J: AttnJob>(job: &mut J) {
    job.run::<crate::avx2::Attn>()
}

/// The two inner loops of attention, per instruction set.
pub(crate) trait AttnMicro {
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
pub(crate) struct Plain;

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
