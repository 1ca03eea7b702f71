//! The vendored Pingora TLS stream, as certgate relies on it, over an in-memory pipe small
//! enough that writes block: real TLS (the build's library, a certificate the test issues), no
//! sockets needed to make the stream's buffers fill.
//!
//! Patch 0037 gathers the slices of a small vectored write (an HTTP/2 frame head and its
//! payload, several frames) into one TLS record. `SSL_write` commits to the bytes of a write
//! that would block: the retry must offer the same buffer. These tests make the gathered write
//! block, offer the same slices again, and check that the peer reads exactly what was written,
//! once.

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use certgate_policy::crypto::x509::X509NameBuilder;
use certgate_policy::pki::{issue, KeyKind, Profile, Spec};
use pingora::protocols::tls::SslStream;
use pingora::tls::ssl::{Ssl, SslContext, SslMethod, SslVerifyMode};
use tokio::io::{AsyncReadExt, AsyncWrite, DuplexStream};

/// A TLS server and client joined by a pipe that holds `pipe` bytes.
async fn pair(pipe: usize) -> (SslStream<DuplexStream>, SslStream<DuplexStream>) {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "tls-stream.test").unwrap();
    let cert = issue(
        KeyKind::EcdsaP256,
        &Spec::new(name.build(), Profile::Server),
        None,
    )
    .unwrap();
    let mut server_ctx = SslContext::builder(SslMethod::tls()).unwrap();
    server_ctx.set_certificate(&cert.cert).unwrap();
    server_ctx.set_private_key(&cert.key).unwrap();
    let server_ctx = server_ctx.build();
    let mut client_ctx = SslContext::builder(SslMethod::tls()).unwrap();
    client_ctx.set_verify(SslVerifyMode::NONE);
    let client_ctx = client_ctx.build();
    let (a, b) = tokio::io::duplex(pipe);
    let mut server = SslStream::new(Ssl::new(&server_ctx).unwrap(), a).unwrap();
    let mut client = SslStream::new(Ssl::new(&client_ctx).unwrap(), b).unwrap();
    let (s, c) = tokio::join!(server.accept(), client.connect());
    s.unwrap();
    c.unwrap();
    (server, client)
}

/// Three slices, as an HTTP/2 frame head, its payload and the next frame's head.
fn slices(total: usize) -> Vec<Vec<u8>> {
    let first = 9;
    let second = total - 2 * first;
    vec![
        vec![0xa1; first],
        (0..second).map(|i| (i % 251) as u8).collect(),
        vec![0xb2; first],
    ]
}

fn poll_write_vectored(
    stream: &mut SslStream<DuplexStream>,
    cx: &mut Context<'_>,
    parts: &[Vec<u8>],
) -> Poll<std::io::Result<usize>> {
    let bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    Pin::new(stream).poll_write_vectored(cx, &bufs)
}

#[tokio::test]
async fn a_gathered_write_that_would_block_is_retried_whole() {
    // 10 000 bytes gathered into one record cannot go through a 1 KiB pipe at once.
    let (mut server, mut client) = pair(1024).await;
    let parts = slices(10_000);
    let expected: Vec<u8> = parts.concat();
    let first = poll_fn(|cx| Poll::Ready(poll_write_vectored(&mut server, cx, &parts))).await;
    assert!(first.is_pending(), "the pipe was meant to fill: {first:?}");
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; expected.len()];
        client.read_exact(&mut got).await.unwrap();
        assert!(
            got == expected,
            "the peer read other bytes than were written"
        );
        // Nothing more: the retry did not send the record twice.
        let more =
            tokio::time::timeout(std::time::Duration::from_millis(200), client.read_u8()).await;
        assert!(more.is_err(), "bytes after the write: {more:?}");
    });
    let written = poll_fn(|cx| poll_write_vectored(&mut server, cx, &parts))
        .await
        .unwrap();
    assert_eq!(written, 10_000);
    poll_fn(|cx| Pin::new(&mut server).poll_flush(cx))
        .await
        .unwrap();
    reader.await.unwrap();
}

#[tokio::test]
async fn gathered_and_plain_writes_arrive_in_order() {
    // Small gathered writes, one past the gathering limit (written slice by slice), and a plain
    // write after a gathered one that blocked: the peer reads them all, in order.
    let (mut server, mut client) = pair(512).await;
    let writes: Vec<Vec<Vec<u8>>> = vec![
        slices(100),
        slices(16 * 1024),
        slices(16 * 1024 + 1),
        slices(3_000),
    ];
    let mut expected: Vec<u8> = writes.iter().flat_map(|w| w.concat()).collect();
    expected.extend_from_slice(b"plain");
    let total = expected.len();
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; total];
        client.read_exact(&mut got).await.unwrap();
        assert!(
            got == expected,
            "the peer read other bytes than were written"
        );
    });
    for parts in &writes {
        // The slices, less what was written, as a writer offers them after a partial write.
        let mut parts: Vec<Vec<u8>> = parts.clone();
        while parts.iter().any(|p| !p.is_empty()) {
            let mut n = poll_fn(|cx| poll_write_vectored(&mut server, cx, &parts))
                .await
                .unwrap();
            assert!(n > 0, "no progress");
            for p in parts.iter_mut() {
                let k = n.min(p.len());
                p.drain(..k);
                n -= k;
            }
        }
    }
    let n = poll_fn(|cx| Pin::new(&mut server).poll_write(cx, b"plain"))
        .await
        .unwrap();
    assert_eq!(n, 5);
    poll_fn(|cx| Pin::new(&mut server).poll_flush(cx))
        .await
        .unwrap();
    reader.await.unwrap();
}
