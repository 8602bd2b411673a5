package models

/*
#cgo CFLAGS: -O3
#include <immintrin.h>
#include <string.h>

// A float32 GEMM for the convolutions, C (+)= A·B with B in "panels": B's
// columns in groups of NR = 32, each group stored k-major ([k][32]), which is
// what im2col writes directly (conv_kernels.go), so B is never packed a
// second time. A (the weights, the small operand) is packed once per call in
// groups of MR = 8 rows ([k][8]). The micro-kernel keeps an 8×32 tile of C in
// 16 AVX-512 registers; on this project's machines (AVX-512 with full-width
// FMA units) it runs about twice as fast as OpenBLAS 0.3.21, which detects
// them as Haswell and uses its AVX2 kernels. CPUs without AVX-512 get a
// portable version of the same loop.
//
// C's columns are output pixels q; column q of panel p = q/32 lands at
// c + (q/hw)·img + q%hw on row i·ldc: with hw = N the plain row-major C [M, N],
// with hw = Ho·Wo, img = M·hw and ldc = hw the NCHW output of a convolution
// (a panel never straddles two images then: hw is a multiple of 32).

#define MR 8
#define NR 32

// use_avx512: -1 until detected; tests set 0 to check the portable kernels.
static int use_avx512 = -1;
static int avx512(void) {
	if (use_avx512 < 0) use_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2") ? 1 : 0;
	return use_avx512;
}
static void set_avx512(int on) { use_avx512 = on && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2") ? 1 : 0; }

// k_pack_a packs op(A) [M, K] (row-major with lda; transposed if ta) into
// ap [ceil(M/8)][K][8], zero rows past M.
static void k_pack_a(const float* a, long lda, int ta, long M, long K, float* ap) {
	for (long i0 = 0; i0 < M; i0 += MR) {
		float* d = ap + i0 * K;
		long m = M - i0 < MR ? M - i0 : MR;
		for (long k = 0; k < K; k++) {
			for (long i = 0; i < m; i++) d[k * MR + i] = ta ? a[k * lda + i0 + i] : a[(i0 + i) * lda + k];
			for (long i = m; i < MR; i++) d[k * MR + i] = 0;
		}
	}
}

__attribute__((target("avx512f"))) static void kern_avx512(long K, const float* ap, const float* bp,
		float* c, long ldc, long mv, long nv, int acc) {
	__m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
	c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = _mm512_setzero_ps();
	c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = _mm512_setzero_ps();
	for (long k = 0; k < K; k++) {
		__m512 b0 = _mm512_loadu_ps(bp + k * NR), b1 = _mm512_loadu_ps(bp + k * NR + 16), t;
		const float* a = ap + k * MR;
		t = _mm512_set1_ps(a[0]); c00 = _mm512_fmadd_ps(t, b0, c00); c01 = _mm512_fmadd_ps(t, b1, c01);
		t = _mm512_set1_ps(a[1]); c10 = _mm512_fmadd_ps(t, b0, c10); c11 = _mm512_fmadd_ps(t, b1, c11);
		t = _mm512_set1_ps(a[2]); c20 = _mm512_fmadd_ps(t, b0, c20); c21 = _mm512_fmadd_ps(t, b1, c21);
		t = _mm512_set1_ps(a[3]); c30 = _mm512_fmadd_ps(t, b0, c30); c31 = _mm512_fmadd_ps(t, b1, c31);
		t = _mm512_set1_ps(a[4]); c40 = _mm512_fmadd_ps(t, b0, c40); c41 = _mm512_fmadd_ps(t, b1, c41);
		t = _mm512_set1_ps(a[5]); c50 = _mm512_fmadd_ps(t, b0, c50); c51 = _mm512_fmadd_ps(t, b1, c51);
		t = _mm512_set1_ps(a[6]); c60 = _mm512_fmadd_ps(t, b0, c60); c61 = _mm512_fmadd_ps(t, b1, c61);
		t = _mm512_set1_ps(a[7]); c70 = _mm512_fmadd_ps(t, b0, c70); c71 = _mm512_fmadd_ps(t, b1, c71);
	}
	__mmask16 m0 = nv >= 16 ? 0xffff : (__mmask16)((1u << nv) - 1);
	__mmask16 m1 = nv >= 32 ? 0xffff : nv <= 16 ? 0 : (__mmask16)((1u << (nv - 16)) - 1);
	__m512 r[16] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71};
	for (long i = 0; i < mv; i++) {
		float* o = c + i * ldc;
		__m512 x0 = r[2 * i], x1 = r[2 * i + 1];
		if (acc) {
			x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, o));
			x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, o + 16));
		}
		_mm512_mask_storeu_ps(o, m0, x0);
		_mm512_mask_storeu_ps(o + 16, m1, x1);
	}
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) static void kern_generic(long K, const float* ap,
		const float* bp, float* c, long ldc, long mv, long nv, int acc) {
	float t[MR][NR];
	memset(t, 0, sizeof t);
	for (long k = 0; k < K; k++)
		for (long i = 0; i < MR; i++)
			for (long j = 0; j < NR; j++) t[i][j] += ap[k * MR + i] * bp[k * NR + j];
	for (long i = 0; i < mv; i++)
		for (long j = 0; j < nv; j++) c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}

// k_gemm_panels: C (+ if acc) = A·B for the panels [p0, p1) of B
// ([P][K][32]), A packed by k_pack_a; C placed as described above. K is cut
// in blocks so that a block of A stays in L2 and a block of a panel in L1.
static void k_gemm_panels(long M, long N, long K, const float* ap, const float* bp, long p0, long p1,
		float* c, long ldc, long hw, long img, int acc) {
	int v512 = avx512();
	long kcmax = 65536 / (M < 64 ? 64 : M);
	if (kcmax < 128) kcmax = 128;
	long nk = (K + kcmax - 1) / kcmax, kc = (K + nk - 1) / nk;
	for (long k0 = 0; k0 < K; k0 += kc) {
		long kb = K - k0 < kc ? K - k0 : kc;
		for (long p = p0; p < p1; p++) {
			long q0 = p * NR, nv = N - q0 < NR ? N - q0 : NR;
			float* cp = c + (q0 / hw) * img + q0 % hw;
			const float* b = bp + (p * K + k0) * NR;
			for (long i0 = 0; i0 < M; i0 += MR) {
				long mv = M - i0 < MR ? M - i0 : MR;
				const float* a = ap + i0 * K + k0 * MR;
				if (v512) kern_avx512(kb, a, b, cp + i0 * ldc, ldc, mv, nv, acc || k0 > 0);
				else kern_generic(kb, a, b, cp + i0 * ldc, ldc, mv, nv, acc || k0 > 0);
			}
		}
	}
}

// Implicit im2col: the B panels of a convolution's forward GEMM are built
// from the image right before use, a block of rows at a time into a buffer
// that stays in cache, instead of writing the whole im2col matrix (75 MB for
// a 3×3 conv on 32×64×32×32) to memory and reading it back.
typedef struct {
	const float* x;
	long N, C, H, W, kh, kw, s, pad, Ho, Wo;
} cgeom;

// panel_setup finds, for the (up to) 32 output pixels of panel p, the offset
// in x of their window's corner and bit masks of the window rows (ki) and
// columns (kj) that fall inside the image.
static long panel_setup(const cgeom* g, long p, int* base, unsigned* vki, unsigned* vkj) {
	long P = g->Ho * g->Wo, NQ = g->N * P, q0 = p * NR, nv = NQ - q0 < NR ? NQ - q0 : NR;
	for (long j = 0; j < NR; j++) {
		base[j] = 0; vki[j] = 0; vkj[j] = 0;
		if (j >= nv) continue;
		long q = q0 + j, n = q / P, r = q % P, ih0 = (r / g->Wo) * g->s - g->pad, iw0 = (r % g->Wo) * g->s - g->pad;
		base[j] = (int)(n * g->C * g->H * g->W + ih0 * g->W + iw0);
		for (long ki = 0; ki < g->kh; ki++) if (ih0 + ki >= 0 && ih0 + ki < g->H) vki[j] |= 1u << ki;
		for (long kj = 0; kj < g->kw; kj++) if (iw0 + kj >= 0 && iw0 + kj < g->W) vkj[j] |= 1u << kj;
	}
	return nv;
}

// build_rows writes rows [k0, k1) of panel (base, vki, vkj) into dst [k1-k0][32].
__attribute__((target("avx512f,bmi2"))) static void build_rows_avx512(const cgeom* g, const int* base,
		const unsigned* vki, const unsigned* vkj, long k0, long k1, float* dst) {
	__m512i b0 = _mm512_loadu_si512(base), b1 = _mm512_loadu_si512(base + 16);
	__m512i ri0 = _mm512_loadu_si512(vki), ri1 = _mm512_loadu_si512(vki + 16);
	__m512i rj0 = _mm512_loadu_si512(vkj), rj1 = _mm512_loadu_si512(vkj + 16);
	__m512i one = _mm512_set1_epi32(1);
	int contiguous = 1, stride2 = 1; // windows 1 or 2 apart: one output row of a stride-1 or -2 conv
	for (long j = 1; j < NR; j++) {
		contiguous &= base[j] == base[0] + j;
		stride2 &= base[j] == base[0] + 2 * j;
	}
	__m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	long kk = g->kh * g->kw, c = k0 / kk, ki = k0 % kk / g->kw, kj = k0 % g->kw;
	for (long k = k0; k < k1; k++) {
		long off = c * g->H * g->W + ki * g->W + kj;
		__m128i si = _mm_cvtsi32_si128((int)ki), sj = _mm_cvtsi32_si128((int)kj);
		__mmask16 m0 = _mm512_test_epi32_mask(_mm512_and_si512(_mm512_srl_epi32(ri0, si), _mm512_srl_epi32(rj0, sj)), one);
		__mmask16 m1 = _mm512_test_epi32_mask(_mm512_and_si512(_mm512_srl_epi32(ri1, si), _mm512_srl_epi32(rj1, sj)), one);
		float* d = dst + (k - k0) * NR;
		if (contiguous) { // masked loads never touch the lanes off the image
			_mm512_storeu_ps(d, _mm512_maskz_loadu_ps(m0, g->x + base[0] + off));
			_mm512_storeu_ps(d + 16, _mm512_maskz_loadu_ps(m1, g->x + base[0] + off + 16));
		} else if (stride2) { // the even elements of 64 consecutive ones
			const float* xs = g->x + base[0] + off;
			unsigned e0 = _pdep_u32(m0, 0x55555555u), e1 = _pdep_u32(m1, 0x55555555u);
			__m512 v0 = _mm512_maskz_loadu_ps((__mmask16)e0, xs), v1 = _mm512_maskz_loadu_ps((__mmask16)(e0 >> 16), xs + 16);
			__m512 v2 = _mm512_maskz_loadu_ps((__mmask16)e1, xs + 32), v3 = _mm512_maskz_loadu_ps((__mmask16)(e1 >> 16), xs + 48);
			_mm512_storeu_ps(d, _mm512_permutex2var_ps(v0, even, v1));
			_mm512_storeu_ps(d + 16, _mm512_permutex2var_ps(v2, even, v3));
		} else {
			__m512i o = _mm512_set1_epi32((int)off);
			_mm512_storeu_ps(d, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, _mm512_add_epi32(b0, o), g->x, 4));
			_mm512_storeu_ps(d + 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, _mm512_add_epi32(b1, o), g->x, 4));
		}
		if (++kj == g->kw) { kj = 0; if (++ki == g->kh) { ki = 0; c++; } }
	}
}

static void build_rows_generic(const cgeom* g, const int* base, const unsigned* vki, const unsigned* vkj,
		long k0, long k1, float* dst) {
	long kk = g->kh * g->kw, c = k0 / kk, ki = k0 % kk / g->kw, kj = k0 % g->kw;
	for (long k = k0; k < k1; k++) {
		long off = c * g->H * g->W + ki * g->W + kj;
		float* d = dst + (k - k0) * NR;
		for (long j = 0; j < NR; j++) d[j] = (vki[j] >> ki) & (vkj[j] >> kj) & 1 ? g->x[base[j] + off] : 0.0f;
		if (++kj == g->kw) { kj = 0; if (++ki == g->kh) { ki = 0; c++; } }
	}
}

// k_conv_panels: C = A·im2col(x) for the panels [p0, p1) (32 output pixels
// each), the panels built by build_rows into buf (kcmax·32 floats, see
// k_kc); C placed as in k_gemm_panels.
static long k_kc(long M, long K) {
	long kcmax = 65536 / (M < 64 ? 64 : M);
	if (kcmax < 128) kcmax = 128;
	long nk = (K + kcmax - 1) / kcmax;
	return (K + nk - 1) / nk;
}

static void k_conv_panels(long M, const float* ap, const float* x, long N, long C, long H, long W, long kh, long kw,
		long s, long pad, long Ho, long Wo, long p0, long p1, float* c, long ldc, long hw, long img, float* buf,
		int* setup) {
	int v512 = avx512();
	cgeom g = {x, N, C, H, W, kh, kw, s, pad, Ho, Wo};
	long K = C * kh * kw, kc = k_kc(M, K);
	// Per panel: 32 bases, 32 row masks, 32 column masks, and nv.
	for (long p = p0; p < p1; p++) {
		int* st = setup + (p - p0) * (3 * NR + 1);
		st[3 * NR] = (int)panel_setup(&g, p, st, (unsigned*)st + NR, (unsigned*)st + 2 * NR);
	}
	// K blocks outermost: a block of A stays in L2 across the panels.
	for (long k0 = 0; k0 < K; k0 += kc) {
		long kb = K - k0 < kc ? K - k0 : kc;
		for (long p = p0; p < p1; p++) {
			const int* st = setup + (p - p0) * (3 * NR + 1);
			long nv = st[3 * NR], q0 = p * NR;
			float* cp = c + (q0 / hw) * img + q0 % hw;
			if (v512) build_rows_avx512(&g, st, (const unsigned*)st + NR, (const unsigned*)st + 2 * NR, k0, k0 + kb, buf);
			else build_rows_generic(&g, st, (const unsigned*)st + NR, (const unsigned*)st + 2 * NR, k0, k0 + kb, buf);
			for (long i0 = 0; i0 < M; i0 += MR) {
				long mv = M - i0 < MR ? M - i0 : MR;
				const float* a = ap + i0 * K + k0 * MR;
				if (v512) kern_avx512(kb, a, buf, cp + i0 * ldc, ldc, mv, nv, k0 > 0);
				else kern_generic(kb, a, buf, cp + i0 * ldc, ldc, mv, nv, k0 > 0);
			}
		}
	}
}

// Weight gradient dw [O, K] = dyᵀ [O, NQ] · im2colᵀ, K = C·kh·kw, NQ = N·Ho·Wo
// output pixels: the same GEMM with the roles turned: A = dyᵀ packed, B =
// im2colᵀ [NQ, K] in panels of 32 consecutive k, built by gathering from the
// image a block of pixels at a time (a row of B is one pixel's window).

// pixel_setup fills base, vki, vkj (see panel_setup) of pixels [q0, q1).
static void pixel_setup(const cgeom* g, long q0, long q1, int* base, unsigned* vki, unsigned* vkj) {
	long P = g->Ho * g->Wo;
	for (long q = q0; q < q1; q++) {
		long n = q / P, r = q % P, ih0 = (r / g->Wo) * g->s - g->pad, iw0 = (r % g->Wo) * g->s - g->pad;
		unsigned a = 0, b = 0;
		for (long ki = 0; ki < g->kh; ki++) if (ih0 + ki >= 0 && ih0 + ki < g->H) a |= 1u << ki;
		for (long kj = 0; kj < g->kw; kj++) if (iw0 + kj >= 0 && iw0 + kj < g->W) b |= 1u << kj;
		base[q - q0] = (int)(n * g->C * g->H * g->W + ih0 * g->W + iw0);
		vki[q - q0] = a; vkj[q - q0] = b;
	}
}

// build_trows writes the rows of pixels [0, nq) (setups given) for columns
// k = kp·32 + l into dst [nq][32]; columns past K are zero.
__attribute__((target("avx512f"))) static void build_trows_avx512(const cgeom* g, long K, long kp,
		const int* base, const unsigned* vki, const unsigned* vkj, long nq, float* dst) {
	int off[NR], ki[NR], kj[NR];
	unsigned kvalid = 0;
	long kk = g->kh * g->kw;
	for (long l = 0; l < NR; l++) {
		long k = kp * NR + l;
		if (k >= K) { off[l] = 0; ki[l] = 31; kj[l] = 31; continue; }
		kvalid |= 1u << l;
		long c = k / kk, i = k % kk / g->kw, j = k % g->kw;
		off[l] = (int)(c * g->H * g->W + i * g->W + j); ki[l] = (int)i; kj[l] = (int)j;
	}
	__m512i o0 = _mm512_loadu_si512(off), o1 = _mm512_loadu_si512(off + 16);
	__m512i i0 = _mm512_loadu_si512(ki), i1 = _mm512_loadu_si512(ki + 16);
	__m512i j0 = _mm512_loadu_si512(kj), j1 = _mm512_loadu_si512(kj + 16);
	__m512i one = _mm512_set1_epi32(1);
	for (long q = 0; q < nq; q++) {
		__m512i a = _mm512_set1_epi32((int)vki[q]), b = _mm512_set1_epi32((int)vkj[q]), bs = _mm512_set1_epi32(base[q]);
		__mmask16 m0 = _mm512_test_epi32_mask(_mm512_and_si512(_mm512_srlv_epi32(a, i0), _mm512_srlv_epi32(b, j0)), one) & (__mmask16)kvalid;
		__mmask16 m1 = _mm512_test_epi32_mask(_mm512_and_si512(_mm512_srlv_epi32(a, i1), _mm512_srlv_epi32(b, j1)), one) & (__mmask16)(kvalid >> 16);
		float* d = dst + q * NR;
		_mm512_storeu_ps(d, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, _mm512_add_epi32(bs, o0), g->x, 4));
		_mm512_storeu_ps(d + 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, _mm512_add_epi32(bs, o1), g->x, 4));
	}
}

static void build_trows_generic(const cgeom* g, long K, long kp, const int* base, const unsigned* vki,
		const unsigned* vkj, long nq, float* dst) {
	long kk = g->kh * g->kw;
	for (long q = 0; q < nq; q++)
		for (long l = 0; l < NR; l++) {
			long k = kp * NR + l;
			float v = 0;
			if (k < K) {
				long c = k / kk, i = k % kk / g->kw, j = k % g->kw;
				if ((vki[q] >> i) & (vkj[q] >> j) & 1) v = g->x[base[q] + c * g->H * g->W + i * g->W + j];
			}
			dst[q * NR + l] = v;
		}
}

// k_conv_dw: dw (row-major [M = O, K]) = A·im2colᵀ for the column panels
// [p0, p1) of dw, A = dyᵀ packed by k_pack_a [O, NQ]; pixels in blocks of kc
// (k_kc(M, NQ)); buf holds kc·32 floats, setup 3·kc ints.
static void k_conv_dw(long M, const float* ap, const float* x, long N, long C, long H, long W, long kh, long kw,
		long s, long pad, long Ho, long Wo, long p0, long p1, float* dw, float* buf, int* setup) {
	int v512 = avx512();
	cgeom g = {x, N, C, H, W, kh, kw, s, pad, Ho, Wo};
	long K = C * kh * kw, NQ = N * Ho * Wo, kc = k_kc(M, NQ);
	int* base = setup;
	unsigned *vki = (unsigned*)setup + kc, *vkj = (unsigned*)setup + 2 * kc;
	for (long q0 = 0; q0 < NQ; q0 += kc) {
		long qb = NQ - q0 < kc ? NQ - q0 : kc;
		pixel_setup(&g, q0, q0 + qb, base, vki, vkj);
		for (long p = p0; p < p1; p++) {
			long nv = K - p * NR < NR ? K - p * NR : NR;
			if (v512) build_trows_avx512(&g, K, p, base, vki, vkj, qb, buf);
			else build_trows_generic(&g, K, p, base, vki, vkj, qb, buf);
			for (long i0 = 0; i0 < M; i0 += MR) {
				long mv = M - i0 < MR ? M - i0 : MR;
				const float* a = ap + i0 * NQ + q0 * MR;
				if (v512) kern_avx512(qb, a, buf, dw + i0 * K + p * NR, K, mv, nv, q0 > 0);
				else kern_generic(qb, a, buf, dw + i0 * K + p * NR, K, mv, nv, q0 > 0);
			}
		}
	}
}

// k_pack_b writes panels [lo, hi) of op(b) [K, N] in the panel form
// [ceil(N/32)][K][32] (columns past N zeroed); b is row-major with row
// stride ldb, op(b) = bᵀ with tb. The transposed case goes in 8×8 tiles:
// eight rows of b read in order, eight 32-float panel rows written.
static void k_pack_b(const float* b, long ldb, int tb, long K, long N, float* bp, long lo, long hi) {
	for (long p = lo; p < hi; p++) {
		float* d = bp + p * K * NR;
		long q0 = p * NR, nv = N - q0 < NR ? N - q0 : NR;
		if (nv < NR) memset(d, 0, K * NR * sizeof(float));
		if (!tb) {
			for (long l = 0; l < K; l++) memcpy(d + l * NR, b + l * ldb + q0, nv * sizeof(float));
			continue;
		}
		for (long j0 = 0; j0 < nv; j0 += 8) {
			long jn = nv - j0 < 8 ? nv - j0 : 8;
			for (long l0 = 0; l0 < K; l0 += 8) {
				long ln = K - l0 < 8 ? K - l0 : 8;
				for (long j = 0; j < jn; j++) {
					const float* src = b + (q0 + j0 + j) * ldb + l0;
					float* dst = d + l0 * NR + j0 + j;
					for (long l = 0; l < ln; l++) dst[l * NR] = src[l];
				}
			}
		}
	}
}

// k_to_panels copies x [M, N] (row-major, rows of hw = N) or x [N/hw, M, hw]
// (NCHW) into panels [ceil(N/32)][M][32], rows [r0, r1); columns past N are
// left as they are (C's columns are independent: they only reach masked-off
// columns of C).
static void k_to_panels(const float* x, long M, long N, long hw, long r0, long r1, float* bp) {
	long P = (N + NR - 1) / NR;
	for (long p = 0; p < P; p++) {
		long q0 = p * NR, nv = N - q0 < NR ? N - q0 : NR;
		float* d = bp + p * M * NR;
		for (long r = r0; r < r1; r++)
			for (long j = 0; j < nv;) {
				long q = q0 + j, off = q % hw, seg = hw - off < nv - j ? hw - off : nv - j;
				memcpy(d + r * NR + j, x + (q / hw) * M * hw + r * hw + off, seg * sizeof(float));
				j += seg;
			}
	}
}
*/
import "C"

// setAVX512 turns the AVX-512 kernels off (false) or back on where the CPU
// has them, and reports whether they are on; for tests.
func setAVX512(on bool) bool {
	v := C.int(0)
	if on {
		v = 1
	}
	C.set_avx512(v)
	return C.avx512() == 1
}

// gemmPanelNR is the width of a B panel of gemmPanels.
const gemmPanelNR = 32

// panelsLen is the length of the panel form of a [k, n] matrix.
func panelsLen(k, n int) int { return (n + gemmPanelNR - 1) / gemmPanelNR * gemmPanelNR * k }

// packA packs op(a) [m, k] for gemmPanels into ap (grown as needed).
func packA(ap *[]float32, a []float32, lda int, ta bool, m, k int) []float32 {
	buf := grow(ap, (m+7)/8*8*k)
	t := C.int(0)
	if ta {
		t = 1
	}
	C.k_pack_a(fp(a), C.long(lda), t, C.long(m), C.long(k), fp(buf))
	return buf
}

// packARows is packA with the blocks of 8 rows split across goroutines
// (worth it from about 256×256).
func packARows(ap *[]float32, a []float32, lda int, ta bool, m, k int) []float32 {
	buf := grow(ap, (m+7)/8*8*k)
	t := C.int(0)
	if ta {
		t = 1
	}
	parallelFor((m+7)/8, 1, max(1, 4096/max(1, k)), func(lo, hi int) {
		i0, rows := lo*8, min(hi*8, m)-lo*8
		var src []float32
		if ta { // op(a) row i is column i of a
			src = a[i0:]
		} else {
			src = a[i0*lda:]
		}
		C.k_pack_a(fp(src), C.long(lda), t, C.long(rows), C.long(k), fp(buf[i0*k:]))
	})
	return buf
}

// panelOut says where gemmPanels writes column q of C: row i at
// c[(q/hw)·img + q%hw + i·ldc]. rowMajor(n) is the plain C [m, n]; nchw the
// output [N, m, hw] of a convolution (hw a multiple of 32).
type panelOut struct{ ldc, hw, img int }

func rowMajor(n int) panelOut { return panelOut{ldc: n, hw: n} }
func nchw(m, hw int) panelOut { return panelOut{ldc: hw, hw: hw, img: m * hw} }
func nchwOK(hw int) bool      { return hw%gemmPanelNR == 0 }

// gemmPanels computes c = A·B (c += A·B with acc) for A packed by packA [m,
// k] and B in panels [ceil(n/32)][k][32], the panels split across goroutines.
func gemmPanels(m, n, k int, ap, bp, c []float32, out panelOut, acc bool) {
	parallelFor((n+gemmPanelNR-1)/gemmPanelNR, 1, gemmGrain(m, k), func(lo, hi int) {
		gemmPanelRange(m, n, k, ap, bp, c, out, acc, lo, hi)
	})
}

// gemmGrain is the number of 32-column panels of an [m, k] × [k, ·]
// product worth a goroutine (≥ 2 MFLOP).
func gemmGrain(m, k int) int { return max(1, (1<<21)/max(1, 2*m*k*gemmPanelNR)) }

// gemmPanelRange is gemmPanels on panels [lo, hi) in the calling goroutine.
func gemmPanelRange(m, n, k int, ap, bp, c []float32, out panelOut, acc bool, lo, hi int) {
	a := C.int(0)
	if acc {
		a = 1
	}
	C.k_gemm_panels(C.long(m), C.long(n), C.long(k), fp(ap), fp(bp), C.long(lo), C.long(hi),
		fp(c), C.long(out.ldc), C.long(out.hw), C.long(out.img), a)
}

// convPanels computes the convolution y = w·im2col(x) for geometry g, w
// packed by packA [O, C·KH·KW], without materialising im2col (k_conv_panels),
// the panels of 32 output pixels split across goroutines.
func convPanels(g convGeom, ap, x, c []float32, out panelOut) {
	panels := (g.cols() + gemmPanelNR - 1) / gemmPanelNR
	kc := int(C.k_kc(C.long(g.O), C.long(g.rows())))
	grain := max(1, (1<<21)/max(1, 2*g.O*g.rows()*gemmPanelNR))
	parallelFor(panels, 1, grain, func(lo, hi int) {
		buf := make([]float32, kc*gemmPanelNR)
		setup := make([]int32, (hi-lo)*(3*gemmPanelNR+1))
		C.k_conv_panels(C.long(g.O), fp(ap), fp(x), C.long(g.N), C.long(g.C), C.long(g.H), C.long(g.W),
			C.long(g.KH), C.long(g.KW), C.long(g.S), C.long(g.P), C.long(g.Ho), C.long(g.Wo), C.long(lo), C.long(hi),
			fp(c), C.long(out.ldc), C.long(out.hw), C.long(out.img), fp(buf), ip(setup))
	})
}

// convDw computes the weight gradient dw [O, C·KH·KW] = dyᵀ·im2col(x)ᵀ of
// geometry g, dyᵀ [O, N·Ho·Wo] packed by packA, without materialising im2col
// (k_conv_dw), the 32-column panels of dw split across goroutines.
func convDw(g convGeom, ap, x, dw []float32) {
	panels := (g.rows() + gemmPanelNR - 1) / gemmPanelNR
	kc := int(C.k_kc(C.long(g.O), C.long(g.cols())))
	parallelFor(panels, 1, 1, func(lo, hi int) {
		buf := make([]float32, kc*gemmPanelNR)
		setup := make([]int32, 3*kc)
		C.k_conv_dw(C.long(g.O), fp(ap), fp(x), C.long(g.N), C.long(g.C), C.long(g.H), C.long(g.W),
			C.long(g.KH), C.long(g.KW), C.long(g.S), C.long(g.P), C.long(g.Ho), C.long(g.Wo), C.long(lo), C.long(hi),
			fp(dw), fp(buf), ip(setup))
	})
}

// packB writes panels [lo, hi) of op(b) [k, n] in the panel form
// [ceil(n/32)][k][32] of gemmPanels (columns past n are zeroed).
func packB(b []float32, ldb int, tb bool, k, n int, bp []float32, lo, hi int) {
	t := C.int(0)
	if tb {
		t = 1
	}
	C.k_pack_b(fp(b), C.long(ldb), t, C.long(k), C.long(n), fp(bp), C.long(lo), C.long(hi))
}

// toPanels copies x [m, n] row-major (hw = n), or x [n/hw, m, hw] NCHW (any
// hw), into
// the panel form bp [ceil(n/32)][m][32] of gemmPanels.
func toPanels(x []float32, m, n, hw int, bp []float32) {
	parallelFor(m, 1, 8, func(lo, hi int) {
		C.k_to_panels(fp(x), C.long(m), C.long(n), C.long(hw), C.long(lo), C.long(hi), fp(bp))
	})
}
