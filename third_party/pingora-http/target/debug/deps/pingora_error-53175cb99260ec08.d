/work/main/third_party/pingora-http/target/debug/deps/pingora_error-53175cb99260ec08.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/immut_str.rs

/work/main/third_party/pingora-http/target/debug/deps/libpingora_error-53175cb99260ec08.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/immut_str.rs

/work/main/third_party/pingora-http/target/debug/deps/libpingora_error-53175cb99260ec08.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/immut_str.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/lib.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pingora-error-0.9.1/src/immut_str.rs:
