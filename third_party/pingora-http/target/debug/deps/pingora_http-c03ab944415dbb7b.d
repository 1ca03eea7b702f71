/work/main/third_party/pingora-http/target/debug/deps/pingora_http-c03ab944415dbb7b.d: src/lib.rs src/authority.rs src/case_header_name.rs

/work/main/third_party/pingora-http/target/debug/deps/pingora_http-c03ab944415dbb7b: src/lib.rs src/authority.rs src/case_header_name.rs

src/lib.rs:
src/authority.rs:
src/case_header_name.rs:
