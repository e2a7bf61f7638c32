package sglora

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sglab/sglab/framework/gemm"
	"github.com/sglab/sglab/internal/generator/mlp"
)

// cvae is SG-LoRA's conditional VAE over normalised flat LoRA vectors X (width P),
// conditioned on c = [μ*; σ*²] (width 2P):
//
//	encoder q(z|X,c)  [X; ĉ] → ReLU(encH) → (m_q, log σ_q²)     (2 linear layers)
//	prior   p(z|c)    ĉ → ReLU(priH) → (m_p, log σ_p²)          (2 linear layers)
//	decoder p(X|z,c)  [ĉ; z] → ReLU(decH) → ReLU(decH) → X̂       (3 linear layers)
//
// where ĉ is c itself ("concat") or a learned linear projection of it shared by the
// three nets ("projection"). The loss per snapshot is ‖X − X̂‖² + λ·KL(q‖p) with
// z = m_q + σ_q·ε; a batch's loss is the mean over its snapshots. The residual
// decoder (an ablation) adds the condition's mean to the decoder's output, X̂ = μ* +
// dec(z, c); μ* is data, so the gradient with respect to the output is unchanged.
type cvae struct {
	P, L       int // parameters, latent width
	CRaw, CDim int // raw condition width (2P) and the width the nets see
	learned    bool
	residual   bool // X̂ = μ* + dec(z, c)
	klWeight   float64

	proj             *mlp.Dense // nil with concatenated conditions
	enc1, enc2       *mlp.Dense
	pri1, pri2       *mlp.Dense // nil with the standard-normal prior
	dec1, dec2, dec3 *mlp.Dense
}

// modelWeights counts the weights newCVAE(cfg, p, ·) would allocate (biases aside), in
// float64 so that absurd widths cannot overflow: train checks it against the machine's
// memory before allocating anything.
func modelWeights(cfg Config, p int) float64 {
	P, L, cd := float64(p), float64(cfg.Latent), 2*float64(p)
	var n float64
	if cfg.Condition == "projection" {
		cd = float64(cfg.ConditionDim)
		n += 2 * P * cd
	}
	eh, ph, dh := float64(cfg.EncoderHidden), float64(cfg.PriorHidden), float64(cfg.DecoderHidden)
	n += (P+cd)*eh + eh*2*L
	if cfg.Prior == "learned" {
		n += cd*ph + ph*2*L
	}
	return n + (cd+L)*dh + dh*dh + dh*P
}

func newCVAE(cfg Config, p int, r *rand.Rand) *cvae {
	m := &cvae{P: p, L: cfg.Latent, CRaw: 2 * p, CDim: 2 * p, learned: cfg.Prior == "learned", residual: cfg.Decoder == "residual", klWeight: cfg.KLWeight}
	if cfg.Condition == "projection" {
		m.CDim = cfg.ConditionDim
		m.proj = mlp.NewDense(m.CRaw, m.CDim, 1, r)
	}
	// He initialisation in front of ReLUs; the Gaussian heads start small so that
	// training begins near q = p = N(0, I).
	m.enc1 = mlp.NewDense(p+m.CDim, cfg.EncoderHidden, 2, r)
	m.enc2 = mlp.NewDense(cfg.EncoderHidden, 2*m.L, 0.1, r)
	if m.learned {
		m.pri1 = mlp.NewDense(m.CDim, cfg.PriorHidden, 2, r)
		m.pri2 = mlp.NewDense(cfg.PriorHidden, 2*m.L, 0.1, r)
	}
	m.dec1 = mlp.NewDense(m.CDim+m.L, cfg.DecoderHidden, 2, r)
	m.dec2 = mlp.NewDense(cfg.DecoderHidden, cfg.DecoderHidden, 2, r)
	m.dec3 = mlp.NewDense(cfg.DecoderHidden, p, 1, r)
	return m
}

// layers lists the dense layers by parameter-group name, skipping absent ones.
func (m *cvae) layers() []namedLayer {
	all := []namedLayer{
		{"projection", m.proj}, {"encoder.1", m.enc1}, {"encoder.2", m.enc2},
		{"prior.1", m.pri1}, {"prior.2", m.pri2},
		{"decoder.1", m.dec1}, {"decoder.2", m.dec2}, {"decoder.3", m.dec3},
	}
	out := all[:0]
	for _, l := range all {
		if l.d != nil {
			out = append(out, l)
		}
	}
	return out
}

type namedLayer struct {
	name string
	d    *mlp.Dense
}

func (m *cvae) params() []mlp.Param {
	var ps []mlp.Param
	for _, l := range m.layers() {
		ps = append(ps, l.d.Params()...)
	}
	return ps
}

func (m *cvae) numParams() int {
	n := 0
	for _, p := range m.params() {
		n += len(p.W)
	}
	return n
}

// freeze readies the trained model for generation: the layers the sampler runs
// through Forward are packed for streaming and lose their gradients; the encoder is
// not needed at all. The decoder's first layer stays as it is, since the sampler
// splits its weights into the condition's part and z's part, and so does the
// projection, which Generate replaces by its tables (mixtures) and SaveFit writes.
func (m *cvae) freeze() {
	for _, d := range []*mlp.Dense{m.pri1, m.pri2, m.dec2, m.dec3} {
		if d != nil {
			d.Freeze()
		}
	}
	for _, d := range []*mlp.Dense{m.proj, m.dec1} {
		if d != nil {
			d.GW, d.GB = nil, nil
		}
	}
	m.enc1, m.enc2 = nil, nil
}

// batch is the workspace of one training step: inputs, activations and gradients,
// reused across steps.
type batch struct {
	n       int
	experts []int     // expert of each snapshot
	x       []float32 // n×P normalised snapshots
	eps     []float32 // n×L reparameterisation noise

	uniq  []int     // distinct experts of the batch (projection only)
	slot  []int     // index into uniq of each snapshot
	crawU []float32 // len(uniq)×CRaw raw conditions
	cfU   []float32 // len(uniq)×CDim projected conditions
	cf    []float32 // n×CDim condition features per snapshot

	encIn, encH, encOut []float32
	priH, priOut        []float32
	z, decIn, h1, h2    []float32
	xhat                []float32

	dxhat, dh2, dh1, dDecIn []float32
	dEncOut, dEncH, dEncC   []float32
	dPriOut, dPriH, dPriC   []float32
	dcf, dcfU               []float32

	scratch mlp.Scratch
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// resize shapes the workspace for n snapshots.
func (b *batch) resize(m *cvae, n int) {
	b.n = n
	P, L, C := m.P, m.L, m.CDim
	b.x = grow(b.x, n*P)
	b.eps = grow(b.eps, n*L)
	b.cf = grow(b.cf, n*C)
	b.encIn = grow(b.encIn, n*(P+C))
	b.encH = grow(b.encH, n*m.enc1.Out)
	b.encOut = grow(b.encOut, n*2*L)
	b.priOut = grow(b.priOut, n*2*L)
	if m.learned {
		b.priH = grow(b.priH, n*m.pri1.Out)
		b.dPriH = grow(b.dPriH, n*m.pri1.Out)
	}
	b.z = grow(b.z, n*L)
	b.decIn = grow(b.decIn, n*(L+C))
	b.h1 = grow(b.h1, n*m.dec1.Out)
	b.h2 = grow(b.h2, n*m.dec2.Out)
	b.xhat = grow(b.xhat, n*P)
	b.dxhat = grow(b.dxhat, n*P)
	b.dh2 = grow(b.dh2, n*m.dec2.Out)
	b.dh1 = grow(b.dh1, n*m.dec1.Out)
	b.dDecIn = grow(b.dDecIn, n*(L+C))
	b.dEncOut = grow(b.dEncOut, n*2*L)
	b.dEncH = grow(b.dEncH, n*m.enc1.Out)
	b.dEncC = grow(b.dEncC, n*C)
	b.dPriOut = grow(b.dPriOut, n*2*L)
	b.dPriC = grow(b.dPriC, n*C)
	b.dcf = grow(b.dcf, n*C)
}

// conditionFeatures fills b.cf from the raw conditions of the batch's experts.
func (m *cvae) conditionFeatures(b *batch, conds [][]float32) {
	n, C := b.n, m.CDim
	if m.proj == nil {
		for s, e := range b.experts[:n] {
			copy(b.cf[s*C:(s+1)*C], conds[e])
		}
		return
	}
	// Snapshots of one expert share its condition: project each distinct one once.
	b.uniq, b.slot = b.uniq[:0], b.slot[:0]
	seen := map[int]int{}
	for _, e := range b.experts[:n] {
		u, ok := seen[e]
		if !ok {
			u = len(b.uniq)
			seen[e] = u
			b.uniq = append(b.uniq, e)
		}
		b.slot = append(b.slot, u)
	}
	U := len(b.uniq)
	b.crawU = grow(b.crawU, U*m.CRaw)
	for u, e := range b.uniq {
		copy(b.crawU[u*m.CRaw:(u+1)*m.CRaw], conds[e])
	}
	b.cfU = grow(b.cfU, U*C)
	m.proj.Forward(b.cfU, b.crawU, U)
	for s, u := range b.slot {
		copy(b.cf[s*C:(s+1)*C], b.cfU[u*C:(u+1)*C])
	}
}

// forward runs the batch (b.x, b.experts, b.eps set) and returns the mean
// reconstruction error and mean KL per snapshot.
func (m *cvae) forward(b *batch, conds [][]float32) (recon, kl float64) {
	n, P, L, C := b.n, m.P, m.L, m.CDim
	m.conditionFeatures(b, conds)

	for s := range n {
		copy(b.encIn[s*(P+C):], b.x[s*P:(s+1)*P])
		copy(b.encIn[s*(P+C)+P:(s+1)*(P+C)], b.cf[s*C:(s+1)*C])
	}
	m.enc1.Forward(b.encH, b.encIn, n)
	mlp.ReLU(b.encH, b.encH)
	m.enc2.Forward(b.encOut, b.encH, n)

	if m.learned {
		m.pri1.Forward(b.priH, b.cf, n)
		mlp.ReLU(b.priH, b.priH)
		m.pri2.Forward(b.priOut, b.priH, n)
	} else {
		clear(b.priOut)
	}

	for s := range n {
		q := b.encOut[s*2*L : (s+1)*2*L]
		for j := range L {
			b.z[s*L+j] = q[j] + float32(math.Exp(0.5*float64(q[L+j])))*b.eps[s*L+j]
		}
		kl += klDiag(q[:L], q[L:], b.priOut[s*2*L:s*2*L+L], b.priOut[s*2*L+L:(s+1)*2*L])
	}

	for s := range n {
		copy(b.decIn[s*(C+L):], b.cf[s*C:(s+1)*C])
		copy(b.decIn[s*(C+L)+C:(s+1)*(C+L)], b.z[s*L:(s+1)*L])
	}
	m.dec1.Forward(b.h1, b.decIn, n)
	mlp.ReLU(b.h1, b.h1)
	m.dec2.Forward(b.h2, b.h1, n)
	mlp.ReLU(b.h2, b.h2)
	m.dec3.Forward(b.xhat, b.h2, n)
	if m.residual {
		for s, e := range b.experts[:n] {
			addTo(b.xhat[s*P:(s+1)*P], conds[e][:P])
		}
	}

	for i, v := range b.xhat[:n*P] {
		d := float64(v - b.x[i])
		recon += d * d
	}
	return recon / float64(n), kl / float64(n)
}

// addTo adds x to dst element by element; it panics unless their lengths match.
func addTo(dst, x []float32) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("sglora: adding %d numbers to %d", len(x), len(dst)))
	}
	for i, v := range x {
		dst[i] += v
	}
}

// klDiag is KL(N(mq, e^lvq) ‖ N(mp, e^lvp)) for diagonal Gaussians:
// ½ Σ_j [lvp − lvq + (e^lvq + (mq − mp)²)/e^lvp − 1].
func klDiag(mq, lvq, mp, lvp []float32) float64 {
	s := 0.0
	for j := range mq {
		d := float64(mq[j] - mp[j])
		s += float64(lvp[j]-lvq[j]) + (math.Exp(float64(lvq[j]))+d*d)*math.Exp(-float64(lvp[j])) - 1
	}
	return 0.5 * s
}

// backward writes the gradients of recon + λ·kl (as returned by forward, i.e. means
// over the batch) into the layers' GW and GB. forward must have run on b.
func (m *cvae) backward(b *batch) {
	n, P, L, C := b.n, m.P, m.L, m.CDim
	inv := float32(1 / float64(n))
	for i := range b.xhat[:n*P] {
		b.dxhat[i] = 2 * (b.xhat[i] - b.x[i]) * inv
	}
	m.dec3.Backward(b.dh2, b.h2, b.dxhat, n, 0, &b.scratch)
	mlp.ReLUBackward(b.dh2, b.h2)
	m.dec2.Backward(b.dh1, b.h1, b.dh2, n, 0, &b.scratch)
	mlp.ReLUBackward(b.dh1, b.h1)
	// With concatenated conditions c is data and needs no gradient: only z's part,
	// the tail of [ĉ; z].
	decFrom := 0
	if m.proj == nil {
		decFrom = C
	}
	m.dec1.Backward(b.dDecIn, b.decIn, b.dh1, n, decFrom, &b.scratch)
	w := C + L - decFrom // width of each row of dDecIn; dz is its last L columns

	lam := float32(m.klWeight) * inv
	for s := range n {
		q := b.encOut[s*2*L : (s+1)*2*L]
		p := b.priOut[s*2*L : (s+1)*2*L]
		dq := b.dEncOut[s*2*L : (s+1)*2*L]
		dp := b.dPriOut[s*2*L : (s+1)*2*L]
		for j := range L {
			mq, lvq, mp, lvp := q[j], q[L+j], p[j], p[L+j]
			ivp := float32(math.Exp(-float64(lvp)))
			evq := float32(math.Exp(float64(lvq)))
			sq := float32(math.Exp(0.5 * float64(lvq)))
			diff := mq - mp
			dz := b.dDecIn[s*w+w-L+j]
			dq[j] = lam*diff*ivp + dz
			dq[L+j] = lam*0.5*(evq*ivp-1) + dz*b.eps[s*L+j]*0.5*sq
			dp[j] = -lam * diff * ivp
			dp[L+j] = lam * 0.5 * (1 - (evq+diff*diff)*ivp)
		}
	}

	m.enc2.Backward(b.dEncH, b.encH, b.dEncOut, n, 0, &b.scratch)
	mlp.ReLUBackward(b.dEncH, b.encH)
	if m.proj == nil {
		m.enc1.Backward(nil, b.encIn, b.dEncH, n, 0, &b.scratch)
	} else {
		m.enc1.Backward(b.dEncC, b.encIn, b.dEncH, n, P, &b.scratch)
	}
	if m.learned {
		m.pri2.Backward(b.dPriH, b.priH, b.dPriOut, n, 0, &b.scratch)
		mlp.ReLUBackward(b.dPriH, b.priH)
		if m.proj == nil {
			m.pri1.Backward(nil, b.cf, b.dPriH, n, 0, &b.scratch)
		} else {
			m.pri1.Backward(b.dPriC, b.cf, b.dPriH, n, 0, &b.scratch)
		}
	}
	if m.proj == nil {
		return
	}
	// Sum the three nets' gradients of ĉ per snapshot, then per distinct expert.
	U := len(b.uniq)
	b.dcfU = grow(b.dcfU, U*C)
	clear(b.dcfU)
	for s, u := range b.slot {
		dst := b.dcfU[u*C : (u+1)*C]
		for j := range C {
			g := b.dDecIn[s*w+j] + b.dEncC[s*C+j]
			if m.learned {
				g += b.dPriC[s*C+j]
			}
			dst[j] += g
		}
	}
	m.proj.Backward(nil, b.crawU, b.dcfU, U, m.CRaw, &b.scratch)
}

// sampler generates from a fitted model for one condition: the prior and the
// condition's share of the decoder's first layer are computed once, then every sample
// costs one pass of the decoder over the batch.
type sampler struct {
	m     *cvae
	mu    []float32 // μ* added to every sample by the residual decoder (P), else nil
	mp    []float32 // prior mean (L)
	sp    []float32 // prior standard deviation (L)
	u     []float32 // ĉ·W1[:C] + b1, the decoder's first layer without z (decH)
	z, h1 []float32
	h2    []float32
}

// features returns ĉ for a raw condition c = [μ*; σ*²]: c itself, or its projection.
func (m *cvae) features(cond []float32) []float32 {
	if m.proj == nil {
		return cond
	}
	cf := make([]float32, m.CDim)
	m.proj.Forward(cf, cond, 1)
	return cf
}

// newSampler prepares sampling for the condition features cf (CDim numbers) and the
// condition's mean mu (P numbers, read by the residual decoder only).
func (m *cvae) newSampler(cf, mu []float32) *sampler {
	L, C := m.L, m.CDim
	s := &sampler{m: m, mp: make([]float32, L), sp: make([]float32, L)}
	if m.residual {
		s.mu = mu[:m.P:m.P]
	}
	for j := range s.sp {
		s.sp[j] = 1
	}
	if m.learned {
		h := make([]float32, m.pri1.Out)
		m.pri1.Forward(h, cf, 1)
		mlp.ReLU(h, h)
		out := make([]float32, 2*L)
		m.pri2.Forward(out, h, 1)
		copy(s.mp, out[:L])
		for j := range L {
			s.sp[j] = float32(math.Exp(0.5 * float64(out[L+j])))
		}
	}
	H := m.dec1.Out
	s.u = append([]float32(nil), m.dec1.B...)
	gemm.Gemm(1, H, C, cf, C, 1, m.dec1.W[:C*H], H, 1, s.u, H)
	return s
}

// decode writes n normalised samples into out (n×P). eps (n×L) is the standard
// normal noise; nil decodes the prior mean.
func (s *sampler) decode(out, eps []float32, n int) {
	m := s.m
	L, C, H := m.L, m.CDim, m.dec1.Out
	s.z = grow(s.z, n*L)
	for i := range n {
		for j := range L {
			z := s.mp[j]
			if eps != nil {
				z += s.sp[j] * eps[i*L+j]
			}
			s.z[i*L+j] = z
		}
	}
	s.h1 = grow(s.h1, n*H)
	for i := range n {
		copy(s.h1[i*H:(i+1)*H], s.u)
	}
	gemm.Gemm(n, H, L, s.z, L, 1, m.dec1.W[C*H:], H, 1, s.h1, H)
	mlp.ReLU(s.h1, s.h1)
	s.h2 = grow(s.h2, n*m.dec2.Out)
	m.dec2.Forward(s.h2, s.h1, n)
	mlp.ReLU(s.h2, s.h2)
	m.dec3.Forward(out, s.h2, n)
	if s.mu != nil {
		for i := range n {
			addTo(out[i*m.P:(i+1)*m.P], s.mu)
		}
	}
}

func (m *cvae) String() string {
	return fmt.Sprintf("CVAE(P=%d, latent=%d, condition %d→%d, %d parameters)", m.P, m.L, m.CRaw, m.CDim, m.numParams())
}
