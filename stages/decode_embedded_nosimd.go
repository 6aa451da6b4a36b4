//go:build !goexperiment.simd || !amd64

package stages

// vectorSkip is false in builds without GOEXPERIMENT=simd on amd64; see
// decode_embedded_simd.go.
const vectorSkip = false

// skipEmbeddedLoopAVX2 is never called in these builds.
func skipEmbeddedLoopAVX2(b []byte, state *skipState) int {
	return skipEmbeddedLoop(b, state)
}
