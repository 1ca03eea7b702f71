/work/main/third_party/pingora-http/target/debug/deps/pingora_http-4997a2d970bc3a57.d: src/lib.rs src/authority.rs src/case_header_name.rs

/work/main/third_party/pingora-http/target/debug/deps/libpingora_http-4997a2d970bc3a57.rlib: src/lib.rs src/authority.rs src/case_header_name.rs

/work/main/third_party/pingora-http/target/debug/deps/libpingora_http-4997a2d970bc3a57.rmeta: src/lib.rs src/authority.rs src/case_header_name.rs

src/lib.rs:
src/authority.rs:
src/case_header_name.rs:
