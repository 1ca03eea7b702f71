//! certgate-bench: criterion benchmarks live in benches/; the side-by-side comparison harness
//! against nginx and HAProxy (SPEC §11) will live here.
